r"""Exact best-of-N on the reward line, ties broken uniformly at random.

Selecting the best of :math:`N` i.i.d. draws from :math:`p` puts mass :math:`F(v)^N - F_-(v)^N` on level
:math:`v`, with :math:`F` the CDF at :math:`v` and :math:`F_-` the CDF strictly below (random tie-breaking spreads
it over the tied responses in proportion to :math:`p`, so on the reward line this is the whole law). Everything is
computed in log space from :math:`A(v) = -N\log F(v)`, formed as :math:`\exp(\log N + \log(-\log F))` with
:math:`-\log F = -\log(1 - S)` taken from the upper tail :math:`S` in log space, so nothing is lost where :math:`F`
is within :math:`10^{-300}` of 1 or :math:`N = e^{10000}`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from lmalign import _validate
from lmalign._logspace import log_log1p_exp, log_neg_expm1, log_neg_log1m_exp
from lmalign.law import RewardLaw


def resolve_log_n(n: int | None = None, log_n: float | None = None) -> float:
    r""":math:`\log N` from exactly one of ``n`` (integer :math:`\ge 1`) or ``log_n`` (finite, :math:`\ge 0`).

    Parameters
    ----------
    n : int, optional
        :math:`N`.
    log_n : float, optional
        :math:`\log N`, for :math:`N` beyond the integers one would write out.

    Returns
    -------
    float
        :math:`\log N`.

    Raises
    ------
    ValueError
        If both or neither are given, ``n`` is not an integer :math:`\ge 1`, or ``log_n`` is negative, NaN or
        infinite.

    Examples
    --------
    >>> round(resolve_log_n(n=4), 12), resolve_log_n(log_n=1e4)
    (1.38629436112, 10000.0)
    """
    if (n is None) == (log_n is None):
        raise ValueError("give exactly one of n and log_n")
    if n is not None:
        return math.log(_validate.positive_int(n, "n"))
    val = _validate.nonneg_real(log_n, "log_n")
    if math.isinf(val):
        raise ValueError("log_n must be finite")
    return val


def bon_kl_bound(n: int | None = None, log_n: float | None = None) -> float:
    r"""The best-of-N KL formula :math:`\log N - (N-1)/N`, an upper bound on :math:`D(\mathrm{BoN}\Vert p)`.

    .. math::

        \log N - \frac{N-1}{N} = \log N + \operatorname{expm1}(-\log N) = \sum_{k\ge 2} \frac{(-\log N)^k}{k!},

    summed as that series for :math:`\log N < 1/2` (no cancellation: ``log_n = 1e-10`` gives :math:`5\times
    10^{-21}`), so relative accuracy about :math:`10^{-15}` for any :math:`\log N`.

    Parameters
    ----------
    n : int, optional
        :math:`N`.
    log_n : float, optional
        :math:`\log N` (give exactly one of the two).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`resolve_log_n`.

    Examples
    --------
    >>> round(bon_kl_bound(n=2), 12), round(float(np.log(2) - 0.5), 12)
    (0.19314718056, 0.19314718056)
    >>> print(f"{bon_kl_bound(log_n=1e-10):.6g}")
    5e-21
    """
    ln = resolve_log_n(n, log_n)
    if ln >= 0.5:
        return ln + math.expm1(-ln)
    terms, term = [], 1.0
    for k in range(1, 30):  # |term| <= 0.5^k / k!: below 1e-40 of the first by k = 30
        term *= -ln / k
        if k >= 2:
            terms.append(term)
    return math.fsum(terms)


def log_minus_log_cdf(law: RewardLaw) -> np.ndarray:
    r""":math:`\log(-\log F(v))` at every level (``-inf`` at the top, where :math:`F = 1`).

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`.

    Examples
    --------
    >>> log_minus_log_cdf(RewardLaw([0.0, 1.0], [0.5, 0.5])).round(12).tolist()  # log log 2, then F = 1
    [-0.366512920582, -inf]
    """
    if not isinstance(law, RewardLaw):
        raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")
    return _log_minus_log_cdf(law.log_cdf(), law.log_sf())


def _log_minus_log_cdf(log_cdf: np.ndarray, log_sf: np.ndarray) -> np.ndarray:
    """:func:`log_minus_log_cdf` from ``log F`` and ``log(1 - F)`` at the same levels (the last one the top)."""
    out = np.full(log_cdf.size, -np.inf)
    upper_small = log_sf[:-1] < _LOG_HALF
    if upper_small.all():
        out[:-1] = log_neg_log1m_exp(log_sf[:-1])
        return out
    body = np.empty(upper_small.size)
    body[upper_small] = log_neg_log1m_exp(log_sf[:-1][upper_small])
    body[~upper_small] = np.log(-np.minimum(log_cdf[:-1][~upper_small], -1e-300))
    out[:-1] = body
    return out


_LOG_HALF = math.log(0.5)
_LOG_ZERO = -745.2  # exp(x) rounds to 0 below this
_LOG_A_MAX = 709.8  # exp(x) is inf above 709.7827: A = N (-log F) >= N S is inf where log N + log S exceeds this


def _log_cdf_from(logprobs: np.ndarray, log_sf: np.ndarray, lo: int) -> np.ndarray:
    """``log F`` at levels ``lo..`` (0 at the top): ``log1p(-S)`` from the upper tail where ``S < 1/2``, which
    keeps ``F`` near 1 to the relative precision of ``S``; below, the log-space running sum from the lowest
    level, run only as far as it is needed."""
    size = logprobs.size
    median = int(np.argmax(log_sf < _LOG_HALF))  # the top level has S = 0: there is one
    out = np.empty(size - lo)
    if lo < median:
        out[: median - lo] = np.logaddexp.accumulate(logprobs[:median])[lo:]
    first = max(median, lo)
    # log1p(-e^{log S}) is -0.0 where e^{log S} is 0 in floats (a run at the top: log S decreases)
    zero = max(first, int(np.argmax(log_sf < _LOG_ZERO)))
    out[first - lo : zero - lo] = np.log1p(-np.exp(log_sf[first:zero]))
    out[zero - lo :] = -0.0
    out[-1] = 0.0
    return np.minimum(out, 0.0)


def _upper_log_sf(logprobs: np.ndarray, start: int) -> np.ndarray:
    r""":math:`\log S(v) = \log P(R > v)` at levels ``start..`` (``-inf`` at the top), the log-space running sum
    from the top level down, exactly as :meth:`RewardLaw.log_sf`; below ``start`` 0 (:math:`S = 1`) stands in,
    which only ever counts a level as not in the upper half of the law."""
    out = np.zeros(logprobs.size)
    if start < logprobs.size - 1:
        out[start:-1] = np.minimum(np.logaddexp.accumulate(logprobs[:start:-1])[::-1], 0.0)
    out[-1] = -np.inf
    return out


class BestOfNKernel:
    r"""The parts of the best-of-N law that do not depend on :math:`N`, for evaluating many :math:`N` on one law.

    They are :math:`\log(-\log F(v))` and :math:`\log\log(1 + p(v)/F_-(v))` at every level.

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`.

    Examples
    --------
    >>> kernel = BestOfNKernel(RewardLaw([0.0, 1.0, 2.0], [1 / 3, 1 / 3, 1 / 3]))
    >>> np.exp(kernel.log_masses(np.log(2))).round(12).tolist()  # (1/3)^2, (2/3)^2 - (1/3)^2, 1 - (2/3)^2
    [0.111111111111, 0.333333333333, 0.555555555556]
    """

    def __init__(self, law: RewardLaw):
        if not isinstance(law, RewardLaw):
            raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")
        self.law = law
        self.log_minus_log_cdf, self.log_step = _kernel_parts(law.logprobs, law.log_sf(), 0)

    def log_masses(self, log_n: float) -> np.ndarray:
        r"""The best-of-N log-masses at every level.

        .. math::

            \log P_{\mathrm{BoN}}(v) = -A(v) + \log\left(1 - e^{-(A_-(v) - A(v))}\right), \qquad A = -N\log F,

        ``-inf`` where the mass is below :math:`\exp(-1.8\times 10^{308})`.

        Parameters
        ----------
        log_n : float
            :math:`\log N` (not validated).

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> BestOfNKernel(RewardLaw([0.0, 1.0], [0.5, 0.5])).log_masses(0.0).round(12).tolist()  # N = 1: p
        [-0.69314718056, -0.69314718056]
        """
        return _log_masses(self.log_minus_log_cdf, self.log_step, log_n)


def _kernel_parts(logprobs: np.ndarray, log_sf: np.ndarray, lo: int) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\log(-\log F)` and :math:`\log(A_- - A) - \log N = \log\log(1 + p/F_-)` (``+inf`` at the lowest
    level, where :math:`F_- = 0`) at levels ``lo..``."""
    log_cdf = _log_cdf_from(logprobs, log_sf, max(lo - 1, 0))
    below = log_cdf if lo == 0 else log_cdf[1:]
    lmlc = _log_minus_log_cdf(below, log_sf[lo:])
    log_step = np.empty(logprobs.size - lo)
    if lo == 0:
        log_step[0] = np.inf
        log_step[1:] = log_log1p_exp(logprobs[1:] - log_cdf[:-1])
    else:
        log_step[:] = log_log1p_exp(logprobs[lo:] - log_cdf[:-1])
    return lmlc, log_step


def _log_masses(lmlc: np.ndarray, log_step: np.ndarray, log_n: float) -> np.ndarray:
    r""":math:`-A + \log(1 - e^{-g})` with :math:`A = e^{\log N + \mathrm{lmlc}}`,
    :math:`g = e^{\log N + \mathrm{log\_step}}`; for a tiny gap :math:`\log(1 - e^{-g}) = \log g - g/2 + O(g^2)`
    keeps its log exactly."""
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.exp(log_n + lmlc)  # A(v) = -N log F(v), may be inf for tiny F
        log_gap = log_n + log_step
        # the tiny-gap form everywhere (elementwise arithmetic), the other one only where the gap is not tiny
        logmass = -a + log_gap - np.exp(log_gap) / 2
        rest = np.flatnonzero(~(log_gap < -30))
        logmass[rest] = -a[rest] + log_neg_expm1(np.exp(log_gap[rest]))
    return logmass


def best_of_n(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> RewardLaw:
    r"""Law of the best of :math:`N` i.i.d. draws from ``law`` (ties at random).

    .. math::

        P(v) = F(v)^N - F_-(v)^N = e^{-A(v)} \left(1 - e^{-(A_-(v) - A(v))}\right)

    with :math:`A = -N\log F` and :math:`A_- - A = N\log(1 + p(v)/F_-(v))`, both formed in log space. Levels whose
    mass is below :math:`\exp(-1.8\times 10^{308})` (not representable even as a log) are dropped; since
    :math:`A \ge N S`, :math:`S = P(R > v)`, that is every level with :math:`\log N + \log S > 709.8`, and only the
    levels above them are computed. ``n = 1`` (``log_n = 0``) or a single level returns the law itself. Every
    log-mass is accurate to about :math:`10^{-14}` relative (checked against mpmath for :math:`\log N` from
    :math:`10^{-300}` to :math:`10^{300}`, values near :math:`\pm 10^{308}` and masses down to :math:`10^{-300}`).

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.
    n : int, optional
        :math:`N`.
    log_n : float, optional
        :math:`\log N` (give exactly one of the two).

    Returns
    -------
    RewardLaw
        The law of the best-of-N reward.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, or ``n``/``log_n`` are refused as by
        :func:`resolve_log_n`.

    Examples
    --------
    >>> bon = best_of_n(RewardLaw([0.0, 1.0], [0.5, 0.5]), n=2)
    >>> bon.probs.round(12).tolist()  # 1/4, 1 - 1/4
    [0.25, 0.75]
    """
    if not isinstance(law, RewardLaw):
        raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0 or len(law) == 1:
        return law
    lp, thr = law.logprobs, _LOG_A_MAX - ln
    # log S(v) >= max_{j > v} log p_j: no level below the first whose largest mass above is <= thr is live, and
    # S (a sum from the top) is needed only from just below that one
    largest_above = np.maximum.accumulate(lp[::-1])[::-1][1:]
    start = max(int(np.argmax(largest_above <= thr)) - 1, 0) if largest_above[-1] <= thr else len(law) - 2
    log_sf = _upper_log_sf(lp, start)
    lo = int(np.argmax(log_sf <= thr))  # the top level (S = 0) always qualifies
    logmass = _log_masses(*_kernel_parts(law.logprobs, log_sf, lo), ln)
    keep = logmass > -np.inf
    return RewardLaw._trusted(law.values[lo:][keep], logmass[keep])


MAX_GUMBEL_POINTS = 10**6  # lattice_gumbel: points of the window 2 ceil(60 / (lam step)) + 11


def lattice_gumbel(
    lam: float, sigma: float, step: float, n: int, x_star: float, v0: float, log_shift: float = 0.0
) -> tuple[float, float]:
    r"""Mean :math:`\bar u` and entropy :math:`H` of the discretised Gumbel law of best-of-:math:`e^{n\delta}`.

    The law lives around :math:`n x^*` on the lattice :math:`n v_0 + \mathrm{step}\,\mathbb{Z}` (second-order
    expansion of chapter 6):

    .. math::

        G(u) = \exp\left(-e^{-\lambda (u + \mathrm{step}) - a}\right) - \exp\left(-e^{-\lambda u - a}\right),
        \qquad a = \log\frac{\sigma\sqrt{2\pi n}\,(1 - e^{-\lambda\,\mathrm{step}})}{\mathrm{step}}
        - \mathrm{log\_shift},

    for the lattice points :math:`u = s - n x^*`. ``log_shift`` is :math:`\log E e^{\lambda R} - n\kappa(\lambda)`,
    zero for a memoryless source, a bounded boundary term for a source with memory.
    :math:`\log G = -U + \log(1 - e^{-U (e^{\lambda\,\mathrm{step}} - 1)})`,
    :math:`U = e^{-\lambda (u + \mathrm{step}) - a}`, formed in log space (no overflow for
    :math:`\lambda\,\mathrm{step} = 10^{300}`); the window covers :math:`G` to :math:`10^{-12}` and has
    :math:`2\lceil 60 / (\lambda\,\mathrm{step})\rceil + 11` points, at most ``MAX_GUMBEL_POINTS``. Accuracy about
    :math:`10^{-13}` relative (checked against mpmath at :math:`\lambda\,\mathrm{step}` from :math:`10^{-4}` to
    :math:`10^{300}` and :math:`n` to :math:`10^{300}`).

    Parameters
    ----------
    lam : float
        The tilt :math:`\lambda > 0`.
    sigma : float
        The standard deviation :math:`\sigma > 0` of the tilted per-token reward.
    step : float
        The lattice step, :math:`> 0`.
    n : int
        The length :math:`n \ge 1`.
    x_star : float
        The centre :math:`x^*` per token.
    v0 : float
        A lattice point :math:`v_0` per token.
    log_shift : float
        The boundary term (0 for a memoryless source).

    Returns
    -------
    tuple of float
        :math:`(\bar u, H)`.

    Raises
    ------
    ValueError
        Naming the argument, if ``lam``, ``sigma`` or ``step`` is not positive, ``n`` is not an integer
        :math:`\ge 1`, the window is too large, the lattice offset :math:`n (v_0 - x^*) / \mathrm{step}` is beyond
        :math:`2^{52}` (its fractional part, which sets the answer, would be lost), or the centre
        :math:`a / \lambda` is.

    Examples
    --------
    >>> u_bar, h = lattice_gumbel(1.0, 1.0, 1.0, 10, 0.0, 0.0)
    >>> round(u_bar, 6), round(h, 6)
    (-1.534295, 1.615347)
    """
    lam = _validate.real_scalar(lam, "lam")
    sigma = _validate.real_scalar(sigma, "sigma")
    step = _validate.real_scalar(step, "step")
    if not (lam > 0 and sigma > 0 and step > 0):
        raise ValueError(f"lam, sigma and step must be positive, got {lam!r}, {sigma!r}, {step!r}")
    n = _validate.positive_int(n, "n")
    x_star = _validate.real_scalar(x_star, "x_star")
    v0 = _validate.real_scalar(v0, "v0")
    log_shift = _validate.real_scalar(log_shift, "log_shift")
    lam_step = lam * step
    if not (0 < lam_step < math.inf) or 60 / lam_step > MAX_GUMBEL_POINTS / 2:
        raise ValueError(
            f"lam * step = {lam_step!r}: the lattice window would exceed MAX_GUMBEL_POINTS = "
            f"{MAX_GUMBEL_POINTS} points (or overflow)"
        )
    a_n = (
        math.log(sigma)
        + 0.5 * math.log(2 * math.pi)
        + 0.5 * math.log(n)
        + math.log(-math.expm1(-lam_step))
        - math.log(step)
        - log_shift
    )
    with np.errstate(over="ignore", invalid="ignore"):
        offset = float(n) * (v0 - x_star)  # u = offset + step j
    if not (math.isfinite(offset) and abs(offset / step) < 2.0**52):
        raise ValueError(
            f"n={n}, x_star={x_star!r}, v0={v0!r}: the lattice offset n (v0 - x*) / step is "
            "beyond 2^52 steps, its fractional part (which sets the answer) is lost"
        )
    if not abs(a_n / lam_step) < 2.0**52:
        raise ValueError(
            f"log_shift={log_shift!r}, sigma={sigma!r}: the Gumbel centre a / lam is beyond 2^52 steps of the lattice"
        )
    # the lattice points u = offset + step j near the centre, as step (r + k) with r = offset / step + j0 formed
    # exactly (rationals): offset + step j in floats cancels to an absolute error ulp(offset), which for
    # n = 1e9 would shift the Gumbel law by 1e-7 and break its telescoping sum
    q = Fraction(n) * (Fraction(v0) - Fraction(x_star)) / Fraction(step)
    j0 = math.ceil(float(-q) - a_n / lam_step)
    r = q + j0
    z0 = float(-(Fraction(lam) * Fraction(step) * r + Fraction(a_n)))  # -lam u - a_n at k = 0, exactly rounded
    width = math.ceil(60 / lam_step) + 5
    ks = np.arange(-width, width + 1, dtype=float)
    u = step * (float(r) + ks)
    log_upper = z0 - lam_step * (ks + 1)  # log N T(s + step)
    log_gap = z0 - lam_step * ks + math.log(-math.expm1(-lam_step))  # log (N T(s) - N T(s + step))
    with np.errstate(over="ignore"):
        gap = np.exp(log_gap)
        log_g = -np.exp(log_upper) + np.where(log_gap < -30, log_gap - gap / 2, log_neg_expm1(gap))
    g = np.exp(log_g)
    if abs(g.sum() - 1.0) > 1e-12:
        raise ValueError(
            f"lam={lam!r}, step={step!r}, log_shift={log_shift!r}: the lattice window misses part "
            f"of the Gumbel law (its masses sum to {g.sum()!r})"
        )
    live = g > 0
    return float(np.dot(g[live], u[live])), float(-np.dot(g[live], log_g[live]))
