r"""The optimal sub-Gaussian variance proxy of a finite reward law, and the gain bound it gives (Mroueh,
arXiv:2406.05883).

.. math::

    E_\phi r - E_p r \le \sqrt{2\sigma^2 D(\phi\Vert p)}

for every :math:`\phi` when the reward is :math:`\sigma^2`-sub-Gaussian under :math:`p`, with
:math:`\sigma_*^2 = \sup_t 2 (\kappa(t) - t E_p r)/t^2`.

When that supremum is reached at an interior :math:`t^* > 0` (:func:`subgaussian_optimum` returns it), the tilt at
:math:`\lambda = t^*` attains the bound exactly: its gain :func:`tilt_gain` is :math:`\sigma_*^2 t^*` and its
relative entropy :math:`\sigma_*^2 t^{*2} / 2`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, require_law

__all__ = [
    "subgaussian_variance_proxy",
    "subgaussian_optimum",
    "subgaussian_gain_bound",
    "tilt_gain",
    "discretised_gaussian",
    "unit_scaled",
]


MAX_POINTS = 10**6  # discretised_gaussian: lattice points at most


def unit_scaled(law: RewardLaw) -> tuple[RewardLaw, float]:
    r"""The law of :math:`R / a` and :math:`a`, the power of two with :math:`\max|v| / a \in [1, 2)`.

    :math:`a = 1` for the zero law. The same law with values in :math:`(-2, 2)`, so centring and spreads cannot
    overflow. Exact (a power of two) save for values that become subnormal (levels that then coincide are merged).

    Parameters
    ----------
    law : RewardLaw
        The law of :math:`R`.

    Returns
    -------
    tuple
        ``(law of R / a, a)``.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`.

    Examples
    --------
    >>> scaled, a = unit_scaled(RewardLaw([0.0, 6.0], [0.5, 0.5]))
    >>> scaled.values.tolist(), a
    ([0.0, 1.5], 4.0)
    """
    require_law(law)
    big = float(np.max(np.abs(law.values)))
    if big == 0.0:
        return law, 1.0
    a = math.ldexp(1.0, math.frexp(big)[1] - 1)
    v = law.values / a
    if (np.diff(v) > 0).all():
        return RewardLaw._trusted(v, law.logprobs), a
    return RewardLaw.from_logprobs(v, law.logprobs), a  # levels that became equal subnormals are merged


def _expm1_minus_x(x: np.ndarray) -> np.ndarray:
    r""":math:`e^x - 1 - x`, accurate for small :math:`|x|`."""
    out = np.empty_like(x)
    s = np.abs(x) < 1e-2
    xs = x[s]
    out[s] = xs * xs * (0.5 + xs * (1 / 6 + xs * (1 / 24 + xs * (1 / 120 + xs / 720))))
    out[~s] = np.expm1(x[~s]) - x[~s]
    return out


def _centred_cgf(c: np.ndarray, p: np.ndarray, lp: np.ndarray, t: float, drift: float) -> float:
    r""":math:`\kappa(t) - t\mu = \log E e^{t (R - \mu)}` from values :math:`c` centred at the rounded mean, whose
    exact mean is ``drift`` (of the order of rounding). :math:`\operatorname{log1p}(\sum p (e^{tc} - 1 - tc))`
    leaves the drift out exactly to first order (the rest is of relative size :math:`t\cdot\mathrm{drift}`), so the
    ratio :math:`2(\kappa(t) - t\mu)/t^2` does not pick up the spurious term :math:`2\,\mathrm{drift}/t`; beyond
    :math:`|t| \max|c| = 600` it is a log-sum-exp minus :math:`t\cdot\mathrm{drift}`."""
    if abs(t) * np.abs(c).max() <= 600.0:  # a sum of non-negative terms: full relative precision, no overflow
        return math.log1p(math.fsum((p * _expm1_minus_x(t * c)).tolist()))
    return float(logsumexp(lp + t * c)) - t * drift


def subgaussian_variance_proxy(law: RewardLaw, side: str = "upper") -> float:
    r"""Smallest :math:`\sigma^2` with :math:`\kappa(t) - t\mu \le \sigma^2 t^2 / 2` on one side or both.

    .. math::

        \sigma_*^2 = \sup_t \frac{2(\kappa(t) - t\mu)}{t^2}

    over :math:`t > 0` (``side="upper"``, enough for the upper bound on the reward gain), :math:`t < 0`
    (``"lower"``) or both. The ratio tends to the variance as :math:`t \to 0` and to 0 as :math:`|t| \to \infty`
    (finite law). It is scanned on :math:`|t|\cdot\mathrm{spread}` in :math:`[10^{-4}, 10^4]` (400 log-spaced
    points) and the best point refined by bounded scalar maximisation; the variance (the :math:`t \to 0` limit) is
    a candidate too.

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.
    side : {"upper", "lower", "both"}
        The sign of :math:`t`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or ``side`` is none of the three.

    Examples
    --------
    >>> law = RewardLaw([0.0, 1.0], [0.75, 0.25])  # Kearns-Saul: (1 - 2p) / (2 log((1 - p)/p)), p = 1/4
    >>> round(subgaussian_variance_proxy(law, "both"), 10), round(float(0.5 / (2 * np.log(3))), 10)
    (0.2275598067, 0.2275598067)
    """
    if side == "both":
        require_law(law)
        return max(subgaussian_variance_proxy(law, "upper"), subgaussian_variance_proxy(law, "lower"))
    return subgaussian_optimum(law, side)[0]


def subgaussian_optimum(law: RewardLaw, side: str = "upper") -> tuple[float, float]:
    r""":math:`(\sigma_*^2, t^*)`: the optimal variance proxy and where :math:`\sup_t 2(\kappa(t) - t\mu)/t^2` is
    reached.

    :math:`\sigma_*^2` as :func:`subgaussian_variance_proxy` (``side`` ``"upper"`` or ``"lower"``); :math:`t^*` has
    the sign of the side, and :math:`t^* = 0` when no :math:`t` does better than the variance, the limit at
    :math:`t \to 0` (the supremum is then only approached; on a finite law with two or more levels the ratio tends
    to 0 as :math:`|t| \to \infty`, so the supremum is either reached at a finite :math:`t^*` or approached at 0).

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.
    side : {"upper", "lower"}
        The sign of :math:`t`.

    Returns
    -------
    tuple of float
        :math:`(\sigma_*^2, t^*)`.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or ``side`` is neither.

    Examples
    --------
    >>> law = RewardLaw([0.0, 1.0], [0.75, 0.25])
    >>> s2, t = subgaussian_optimum(law, "upper")  # reached at t* = 2 log 3
    >>> round(s2, 10), round(t, 5), round(float(2 * np.log(3)), 5)  # the maximum is flat: t* to ~1e-7
    (0.2275598067, 2.19722, 2.19722)
    >>> subgaussian_optimum(law, "lower")  # the variance 3/16, approached at t -> 0
    (0.1875, 0.0)
    """
    require_law(law)
    if side not in ("upper", "lower"):
        raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
    if len(law) == 1:
        return 0.0, 0.0
    scaled, a = unit_scaled(law)  # sigma^2(R) = a^2 sigma^2(R / a) and t*(R) = t*(R / a) / a
    s2, t_star = _optimum_unit(scaled, 1.0 if side == "upper" else -1.0)
    return s2 * a * a, t_star / a


def _optimum_unit(law: RewardLaw, sign: float) -> tuple[float, float]:
    """:func:`subgaussian_optimum` for a law with values in ``(-2, 2)``."""
    c = sign * (law.values - law.mean())
    p, lp = law.probs, law.logprobs
    spread = float(np.abs(c).max())
    drift = math.fsum((p * c).tolist())

    def ratio(s: float) -> float:
        t = math.exp(s) / spread
        return 2.0 * _centred_cgf(c, p, lp, t, drift) / (t * t)

    grid = np.linspace(math.log(1e-4), math.log(1e4), 400)
    vals = np.array([ratio(s) for s in grid])
    i = int(np.argmax(vals))
    best, s_best = float(vals[i]), float(grid[i])
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(lambda s: -ratio(s), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    if -res.fun > best:
        best, s_best = float(-res.fun), float(res.x)
    var = law.var()
    if best <= var:
        return var, 0.0
    return best, sign * math.exp(s_best) / spread


def subgaussian_gain_bound(sigma2: float, kl: float) -> float:
    r"""The gain bound :math:`\sqrt{2\sigma^2 D}`.

    The largest reward gain over the reference mean at relative entropy :math:`D` when the reward is
    :math:`\sigma^2`-sub-Gaussian (upper tail) under the reference (0 when either factor is 0).

    Parameters
    ----------
    sigma2 : float
        The variance proxy :math:`\sigma^2 \ge 0`, finite.
    kl : float
        The relative entropy :math:`D \ge 0`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``sigma2`` is negative, NaN or infinite, or ``kl`` is negative or NaN.

    Examples
    --------
    >>> round(subgaussian_gain_bound(0.25, 0.5), 15)  # sqrt(2 * 1/4 * 1/2)
    0.5
    """
    sigma2 = _validate.nonneg_finite(sigma2, "sigma2")
    kl = _validate.nonneg_real(kl, "kl")
    if sigma2 == 0.0 or kl == 0.0:  # 0 * inf = 0: a constant reward gains nothing
        return 0.0
    return math.sqrt(2.0) * math.sqrt(sigma2) * math.sqrt(kl)  # no overflow of the product at 1e308


def tilt_gain(law: RewardLaw, lam: float) -> float:
    r"""The reward gain of the tilt, with no cancellation for small :math:`\lambda`.

    .. math::

        E_{p_\lambda} r - E_p r = \sum_v p(v) (e^{d(v)} - 1)(v - \mathrm{mean}), \qquad d = \log(p_\lambda/p);

    the terms are formed from ``expm1``; where :math:`d > 1` as :math:`p_\lambda - p`, so a level whose :math:`p`
    underflows to 0 still counts.

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.
    lam : float
        The tilt :math:`\lambda` (finite).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or ``lam`` is not a finite real.

    Examples
    --------
    >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> round(tilt_gain(law, 1.0), 12), round(float(np.e / (1 + np.e) - 0.5), 12)
    (0.23105857863, 0.23105857863)
    """
    require_law(law)
    lam = _validate.real_scalar(lam, "lam")
    scaled, a = unit_scaled(law)  # gain(R, lam) = a gain(R / a, a lam): no overflow in v - mean
    lam_a = lam * a
    if math.isinf(lam_a):  # the tilt is the law conditioned on its top (bottom) level
        end = -1 if lam_a > 0 else 0
        d = np.full(len(scaled), -np.inf)  # scaled may have merged levels
        d[end] = -scaled.logprobs[end]
    else:
        d = scaled.log_tilt_ratio(lam_a)
    p = scaled.probs
    with np.errstate(over="ignore", invalid="ignore"):
        q_minus_p = np.where(d > 1.0, np.exp(scaled.logprobs + d) - p, p * np.expm1(d))  # p = 0 where q is not
    return a * math.fsum((q_minus_p * (scaled.values - scaled.mean())).tolist())


def discretised_gaussian(sigma: float, step: float = 0.25, width: float = 24.0) -> RewardLaw:
    r"""The centred Gaussian of standard deviation :math:`\sigma` on a lattice, :math:`p(x) \propto e^{-x^2/2\sigma^2}`.

    The lattice is :math:`\sigma\,\mathrm{step}\,\mathbb{Z}` cut at :math:`|x| \le \mathrm{width}\,\sigma`. By
    Poisson summation its CGF differs from :math:`\sigma^2 t^2 / 2` by about :math:`\exp(-2\pi^2/\mathrm{step}^2)`
    (:math:`10^{-137}` for the default step) plus the cut-off tails, so it is a Gaussian to double precision for
    :math:`|t|\sigma` well below ``width``.

    Parameters
    ----------
    sigma : float
        The standard deviation :math:`\sigma > 0`.
    step : float
        The lattice step in units of :math:`\sigma`, :math:`> 0`.
    width : float
        The cut-off in units of :math:`\sigma`, :math:`> 0`.

    Returns
    -------
    RewardLaw

    Raises
    ------
    ValueError
        If an argument is not positive and finite, the lattice has more than ``MAX_POINTS`` points, or
        :math:`\sigma\cdot\mathrm{width}` overflows.

    Examples
    --------
    >>> g = discretised_gaussian(2.0)
    >>> len(g), round(g.var(), 12), abs(g.mean()) < 1e-15
    (193, 4.0, True)
    """
    sigma = _positive_finite(sigma, "sigma")
    step = _positive_finite(step, "step")
    width = _positive_finite(width, "width")
    if width / step > (MAX_POINTS - 1) / 2:
        raise ValueError(f"width / step = {width / step:.3g}: more than {MAX_POINTS:,} lattice points")
    if not math.isfinite(sigma * width):
        raise ValueError(f"sigma * width = {sigma!r} * {width!r} overflows")
    u = np.arange(-width, width + step / 2, step)  # in units of sigma
    lp = -0.5 * u * u
    return RewardLaw.from_logprobs(u * sigma, lp - logsumexp(lp))


def _positive_finite(x, name: str) -> float:
    x = _validate.nonneg_finite(x, name)
    if x == 0.0:
        raise ValueError(f"{name} must be positive")
    return x
