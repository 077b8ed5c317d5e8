"""Divergences and information quantities on RewardLaws or plain probability vectors (nats, log space).

Two RewardLaws are aligned on the union of their supports; two vectors must have equal length.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, xlogy

from lmalign import _validate
from lmalign._logspace import kl_logs, log_sum_exp
from lmalign.law import RewardLaw, align


def _logs(p, name: str) -> np.ndarray:
    r"""Log-probabilities of a RewardLaw, or of a probability vector normalised exactly in log space:
    :math:`\log(p_i / \sum p) = -\operatorname{log1p}(o_i / p_i)` with :math:`o_i` the mass of the other entries
    (prefix plus suffix sums), so an entry near 1 keeps :math:`\log p_i \approx -o_i` to full relative precision (a
    vector sums to 1 only within 1e-9; normalising keeps every divergence >= 0)."""
    if isinstance(p, RewardLaw):
        return np.asarray(p.logprobs)
    arr = _validate.prob_vector(p, name)
    before = np.concatenate(([0.0], np.cumsum(arr)[:-1]))
    after = np.concatenate((np.cumsum(arr[::-1])[::-1][1:], [0.0]))
    others = before + after
    with np.errstate(divide="ignore", over="ignore"):
        out = -np.log1p(others / arr)
        tiny = (arr > 0) & (others > 1e300 * arr)  # o/p overflows: log p - log(p + o), no cancellation there
        out[tiny] = np.log(arr[tiny]) - np.log(arr[tiny] + others[tiny])
    return out


def _pair(p, q, name_p: str = "p", name_q: str = "q") -> tuple[np.ndarray, np.ndarray]:
    """Aligned log-probability vectors of ``p`` and ``q``."""
    if isinstance(p, RewardLaw) and isinstance(q, RewardLaw):
        _, lp, lq = align(p, q)
        return lp, lq
    if isinstance(p, RewardLaw) or isinstance(q, RewardLaw):
        raise ValueError(f"{name_p} and {name_q} must both be RewardLaws or both probability vectors")
    lp, lq = _logs(p, name_p), _logs(q, name_q)
    _validate.same_length(lp, lq, name_p, name_q)
    return lp, lq


def _is_nan(x) -> bool:
    if _validate.odd_input(x) is not None:  # complex, boolean, ...: refused by name in _alpha, not converted here
        return False
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _alpha(alpha) -> float:
    a = _validate.real_scalar(alpha, "alpha", allow_inf=True) if not _is_nan(alpha) else math.nan
    if math.isnan(a) or a <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    return a


def kl(p, q) -> float:
    r"""The KL divergence :math:`D(p\Vert q) = \sum_i p_i \log(p_i/q_i)` in nats.

    ``inf`` unless :math:`p \ll q`. A sum of non-negative terms (``lmalign._logspace.kl_logs``): relative accuracy
    about :math:`10^{-14}\cdot\mathrm{size}` at any magnitude.

    Parameters
    ----------
    p, q : RewardLaw or array_like
        Two RewardLaws (aligned on the union of their supports) or two probability vectors of equal length.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If one is a RewardLaw and the other is not, the vectors differ in length, or a vector is not a
        probability vector (negative entry, sum off 1 by more than ``1e-9``).

    Examples
    --------
    >>> round(kl([0.5, 0.5], [0.25, 0.75]), 12), round(float(0.5 * np.log(2) + 0.5 * np.log(2 / 3)), 12)
    (0.143841036226, 0.143841036226)
    >>> kl([0.5, 0.5], [1.0, 0.0])
    inf
    """
    return kl_logs(*_pair(p, q))


_K = np.arange(2, 28, dtype=float)  # Taylor orders of psi; |d| <= 1 and |a d| <= 1 make order 27 negligible
_LOG_FACT = np.array([math.lgamma(k + 1) for k in _K])


def _psi(a: float, d: np.ndarray) -> np.ndarray:
    r""":math:`\psi_a(d) = a\operatorname{expm1}(d) - \operatorname{expm1}(a d)
    = \sum_{k\ge 2} a (1 - a^{k-1}) d^k / k!`: :math:`\ge 0` for :math:`a < 1`, :math:`\le 0` for :math:`a > 1`,
    to a few roundings relative. The Taylor series (:math:`|d|, |a d| \le 1`, ratio of terms below 2/3), near
    :math:`a = 1` the form :math:`e^d (-\operatorname{expm1}(-\epsilon d)) - \epsilon\operatorname{expm1}(d)` with
    :math:`\epsilon = 1 - a` exact, else the definition (where :math:`|d| > 1` or :math:`a` is far from 1 its two
    terms differ by a bounded factor)."""
    out = np.empty_like(d)
    series = (np.abs(d) <= 1) & (np.abs(a * d) <= 1)
    ds = d[series][:, None]
    log_a = math.log(a)
    with np.errstate(under="ignore", divide="ignore"):  # log 0 = -inf for d = 0: a zero term
        if a < 1:  # a (1 - a^(k-1)) d^k / k!
            terms = a * -np.expm1((_K - 1) * log_a) * np.exp(_K * np.log(np.abs(ds)) - _LOG_FACT)
        else:  # -(a d)^k (1 - a^-(k-1)) / k!, no overflow of a^(k-1)
            terms = np.expm1(-(_K - 1) * log_a) * np.exp(_K * np.log(np.abs(a * ds)) - _LOG_FACT)
        out[series] = np.sum(terms * np.where(ds < 0, (-1.0) ** _K, 1.0), axis=1)
    rest = d[~series]
    eps = 1.0 - a
    with np.errstate(over="ignore", invalid="ignore"):
        if abs(eps) <= 0.5:
            out[~series] = np.exp(rest) * -np.expm1(-eps * rest) - eps * np.expm1(rest)
        else:
            out[~series] = a * np.expm1(rest) - np.expm1(a * rest)
    return out


def _log_s_near(a: float, lp: np.ndarray, lq: np.ndarray, pos: np.ndarray, both: np.ndarray) -> float:
    r""":math:`\log S`, :math:`S = \sum p^a q^{1-a}`, as :math:`\operatorname{log1p}(-T)` (:math:`a < 1`) or
    :math:`\operatorname{log1p}(T)` (:math:`a > 1`) with
    :math:`T = |1 - S| = |1-a|\, q(\mathrm{supp}\, q \setminus \mathrm{supp}\, p) + [a < 1]\, a\,
    p(\mathrm{supp}\, p \setminus \mathrm{supp}\, q) + \sum q\, |\psi_a(\log p/q)|`, a sum of non-negative terms;
    ``nan`` when :math:`T` is not small enough for this form to be the better one."""
    d = lp[both] - lq[both]
    with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 is nan: this form is not the better one
        psi = np.abs(_psi(a, d)) * np.exp(lq[both])
    q_off = np.exp(lq[(lq > -np.inf) & ~pos])
    t = math.fsum(psi.tolist()) + abs(1.0 - a) * math.fsum(q_off.tolist())
    if a < 1:
        t += a * math.fsum(np.exp(lp[pos & ~both]).tolist())
        return math.log1p(-t) if t <= 0.5 else math.nan
    return math.log1p(t) if t <= 1.0 else math.nan


def renyi_divergence(p, q, alpha: float) -> float:
    r"""The Rényi divergence of order :math:`a > 0`, :math:`\ge 0`.

    .. math::

        D_a(p\Vert q) = \frac{1}{a-1} \log\sum_i p_i^a q_i^{1-a};

    :math:`a = 1` is KL, :math:`a = \infty` is :math:`\log\max p/q`; as :math:`a \to 0` it tends to
    :math:`-\log q(\mathrm{supp}\, p)`, as :math:`a \to 1` to KL.

    :math:`S = \sum p^a q^{1-a}` is formed as :math:`1 \mp T` with :math:`T` a sum of non-negative terms (see
    ``_psi``), so :math:`\log S = \operatorname{log1p}(\mp T)` keeps its relative precision for :math:`a` near 0
    (:math:`D \approx a`), near 1 and for :math:`p` near :math:`q`; where :math:`|\log S| > 0.4` it is a
    log-sum-exp, written for :math:`a > 1` as :math:`D = m + (m + \log\sum q\, e^{a (d - m)})/(a - 1)`
    (:math:`d = \log p/q`, :math:`m = \max d`) so huge :math:`a` cannot overflow. Relative accuracy about
    :math:`10^{-13}` for every :math:`a` whose result is a normal float (checked against mpmath at :math:`a` from
    :math:`10^{-300}` to :math:`10^{300}`).

    Parameters
    ----------
    p, q : RewardLaw or array_like
        Two RewardLaws or two probability vectors of equal length.
    alpha : float
        The order :math:`a > 0`, ``inf`` allowed.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``alpha`` is not a real number :math:`> 0`, or ``p`` and ``q`` are refused as by :func:`kl`.

    Examples
    --------
    >>> round(renyi_divergence([0.5, 0.5], [0.25, 0.75], 2), 12), round(float(np.log(4 / 3)), 12)
    (0.287682072452, 0.287682072452)
    >>> round(renyi_divergence([0.5, 0.5], [0.25, 0.75], float("inf")), 12)  # log max p/q = log 2
    0.69314718056
    """
    a = _alpha(alpha)
    lp, lq = _pair(p, q)
    if a == 1.0:
        return kl_logs(lp, lq)
    pos = lp > -np.inf
    if a > 1 and (lq[pos] == -np.inf).any():
        return math.inf
    if math.isinf(a):
        return max(float(np.max(lp[pos] - lq[pos])), 0.0)
    both = pos & (lq > -np.inf)
    if not both.any():
        return math.inf
    log_s = _log_s_near(a, lp, lq, pos, both)
    if math.isnan(log_s):
        d = lp[both] - lq[both]
        if a < 1:
            log_s = float(logsumexp(lq[both] + a * d))
        else:
            m = float(d.max())
            return max(m + (m + float(logsumexp(lq[both] + a * (d - m)))) / (a - 1), 0.0)
    return max(log_s / (a - 1), 0.0)


def renyi_cross_entropy(q, s, alpha: float) -> float:
    r"""The Rényi cross entropy of order :math:`a > 0`, :math:`\ge 0`.

    .. math::

        H_a(q; s) = \frac{1}{1-a} \log\sum_i q_i s_i^{a-1};

    :math:`a = 1` gives the cross entropy :math:`-\sum q \log s`, :math:`a = \infty` gives
    :math:`-\log\max_{\mathrm{supp}\, q} s`.

    Every term :math:`q (s^{a-1} - 1) = q\operatorname{expm1}((a-1)\log s)` has the sign of :math:`1 - a`, so
    :math:`\log\sum q s^{a-1} = \operatorname{log1p}(\text{sum of same-sign terms})` loses nothing near
    :math:`a = 1`; far from it a log-sum-exp. Relative accuracy about :math:`10^{-13}` (checked against mpmath for
    :math:`a` from :math:`10^{-300}` to :math:`10^{300}`).

    Parameters
    ----------
    q, s : RewardLaw or array_like
        Two RewardLaws or two probability vectors of equal length.
    alpha : float
        The order :math:`a > 0`, ``inf`` allowed.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``alpha`` is not a real number :math:`> 0`, or ``q`` and ``s`` are refused as by :func:`kl`.

    Examples
    --------
    >>> round(renyi_cross_entropy([0.5, 0.5], [0.25, 0.75], 2), 12)  # -log(0.5 * 0.25 + 0.5 * 0.75)
    0.69314718056
    >>> round(renyi_cross_entropy([0.5, 0.5], [0.25, 0.75], 1), 12), round(float(-np.log(0.1875) / 2), 12)
    (0.836988216786, 0.836988216786)
    """
    a = _alpha(alpha)
    lq, ls = _pair(q, s, "q", "s")
    pos = lq > -np.inf
    if (ls[pos] == -np.inf).any() and a <= 1:
        return math.inf
    if a == 1.0:
        return float(-math.fsum((np.exp(lq[pos]) * ls[pos]).tolist()))
    if math.isinf(a):
        return max(-float(ls[pos].max()), 0.0)
    keep = pos & (ls > -np.inf)
    e = (a - 1) * ls[keep]
    with np.errstate(over="ignore"):
        drift = math.fsum((np.exp(lq[keep]) * np.expm1(e)).tolist()) - math.fsum(np.exp(lq[pos & ~keep]).tolist())
    if -0.5 <= drift <= 1.0:
        return max(math.log1p(drift) / (1 - a), 0.0)
    return max(float(logsumexp(lq[keep] + e)) / (1 - a), 0.0)


def entropy(p) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i` in nats.

    A sum of non-negative terms, relative accuracy about :math:`10^{-14}`.

    Parameters
    ----------
    p : RewardLaw or array_like
        A RewardLaw or a probability vector.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``p`` is not a probability vector (negative entry, sum off 1 by more than ``1e-9``).

    Examples
    --------
    >>> round(entropy([0.25, 0.25, 0.5]), 12), round(float(1.5 * np.log(2)), 12)
    (1.03972077084, 1.03972077084)
    """
    lp = _logs(p, "p")
    pos = lp > -np.inf
    return float(-math.fsum((np.exp(lp[pos]) * lp[pos]).tolist()))


def collision_entropy(p) -> float:
    r"""Collision (Rényi order 2) entropy :math:`H_2(p) = -\log\sum_i p_i^2`.

    :math:`c = 1 - \sum p^2 = \sum_i p_i (1 - p_i)` with :math:`1 - p_i` the mass of the other levels (a
    log-sum-exp of the prefix and suffix sums), so a law concentrated on one level (:math:`H_2` tiny) keeps its
    relative precision: :math:`H_2 = -\operatorname{log1p}(-c)`. Relative accuracy about :math:`10^{-13}`.

    Parameters
    ----------
    p : RewardLaw or array_like
        A RewardLaw or a probability vector.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``p`` is not a probability vector (negative entry, sum off 1 by more than ``1e-9``).

    Examples
    --------
    >>> round(collision_entropy([0.25, 0.25, 0.5]), 12), round(float(np.log(8 / 3)), 12)
    (0.980829253012, 0.980829253012)
    >>> print(f"{collision_entropy([1 - 1e-20, 1e-20]):.6g}")  # -log(1 - 2e-20 + 2e-40): not rounded to 0
    2e-20
    """
    lp = _logs(p, "p")
    if lp.size == 1:
        return 0.0
    before = np.concatenate(([-np.inf], np.logaddexp.accumulate(lp)[:-1]))
    after = np.concatenate((np.logaddexp.accumulate(lp[::-1])[::-1][1:], [-np.inf]))
    log_c = log_sum_exp(lp + np.logaddexp(before, after))
    if log_c < -0.7:
        return float(-math.log1p(-math.exp(log_c)))
    return float(-logsumexp(2 * lp))


def binary_entropy(x):
    r"""Binary entropy :math:`h(x) = -x \log x - (1-x)\log(1-x)` in nats, vectorised; :math:`x \in [0, 1]`.

    :math:`\log(1-x)` is :math:`\operatorname{log1p}(-x)` near 0 and symmetrically near 1: relative accuracy about
    :math:`10^{-15}` wherever :math:`h` is a normal float (:math:`x` from :math:`2.2\times 10^{-308}` to
    :math:`1 - 2^{-53}`; subnormal :math:`x` keeps only their own few digits).

    Parameters
    ----------
    x : float or array_like
        Probabilities in :math:`[0, 1]`.

    Returns
    -------
    float or numpy.ndarray
        :math:`h(x)`, a float for a scalar ``x``.

    Raises
    ------
    ValueError
        If ``x`` holds NaN or an entry outside :math:`[0, 1]`.

    Examples
    --------
    >>> binary_entropy([0.0, 0.25, 1.0]).round(12).tolist()  # 0.25 log 4 + 0.75 log(4/3) in the middle
    [0.0, 0.562335144619, 0.0]
    >>> round(float(0.25 * np.log(4) + 0.75 * np.log(4 / 3)), 12)
    0.562335144619
    """
    arr = _validate.real_array(x, "x", allow_nan=True)
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("x must lie in [0, 1] (no NaN)")
    # -(1-x) log(1-x) written with log1p(-x) near 0, and symmetrically near 1, so neither end loses digits
    y = 1.0 - arr
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = -xlogy(arr, arr) - np.where(arr < 1, y * np.log1p(-arr), 0.0)
        hi = -xlogy(y, y) - np.where(arr > 0, arr * np.log1p(-y), 0.0)
    out = np.where(arr <= 0.5, lo, hi)
    return float(out) if out.ndim == 0 else out
