"""Closed forms from the results around the paper (Part II of the book), on the reward line.

- Best-of-N relative entropy (Beirami et al., arXiv:2401.01879): the binary uniform value, the gap bound,
  the win-rate bound and its gap, and the estimator ``D_hat(eps)``.
- The quantile-tilt frontier of win rate against relative entropy (Gui et al., arXiv:2406.00832).
- Best-of-N as KL-regularized RL on a transformed calibrated reward (arXiv:2407.14622, arXiv:2412.19792).
- The optimal sub-Gaussian variance proxy of a finite law (for Mroueh's bound, arXiv:2406.05883).
- The information projection of best-of-N on the tilted family (finite-length comparison, R7).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import bernoulli, logsumexp

from lmalign import _validate
from lmalign.best_of_n import best_of_n, bon_kl_bound, resolve_log_n
from lmalign.law import RewardLaw
from lmalign.transforms import win_rate

__all__ = [
    "binary_uniform_bon_kl", "bon_kl_gap_bound", "bon_win_rate", "bon_win_rate_bound", "bon_win_gap_bound",
    "bon_kl_estimate", "bon_log_ratio", "log_power_mean_calibration", "quantile_tilt_win", "quantile_tilt_kl",
    "quantile_tilt_param", "frontier_win", "bon_frontier_gap", "subgaussian_variance_proxy", "subgaussian_gain_bound",
    "bon_tilt_projection",
]

_SERIES_TERMS = 12
_B = bernoulli(2 * _SERIES_TERMS)  # B_0 .. B_24
# win(c) - 1/2 = sum_k B_2k c^(2k-1)/(2k)!,  KL(c) = sum_k (2k-1)/(2k) B_2k c^(2k)/(2k)!   (|c| < 2 pi)
_WIN_COEF = np.array([_B[2 * k] / math.factorial(2 * k) for k in range(1, _SERIES_TERMS + 1)])
_KL_COEF = np.array([(2 * k - 1) / (2 * k) * _B[2 * k] / math.factorial(2 * k) for k in range(1, _SERIES_TERMS + 1)])
_SERIES_CUT = 1.0


def _check_law(law, name: str = "law") -> None:
    if not isinstance(law, RewardLaw):
        raise ValueError(f"{name} must be a RewardLaw, got {type(law).__name__}")


def _n_from_log(ln: float) -> float:
    """``N = e^{log N}`` as a float (``inf`` beyond the float range)."""
    return math.exp(ln) if ln < 709.0 else math.inf


def _nonneg_finite(x, name: str) -> float:
    val = _validate.nonneg_real(x, name)
    if math.isinf(val):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return val


# -- best-of-N relative entropy (Beirami et al.) -------------------------------------------------------------
def binary_uniform_bon_kl(n: int | None = None, log_n: float | None = None) -> float:
    """``D(BoN||p) = log 2 - h(2^-N)`` for the uniform law on two reward levels (``h`` binary entropy, nats)."""
    ln = resolve_log_n(n, log_n)
    big_n = _n_from_log(ln)
    x = math.exp(-big_n * math.log(2.0)) if math.isfinite(big_n) else 0.0  # 2^-N, the bottom level's mass
    h = 0.0 if x == 0.0 else -x * math.log(x) - (1.0 - x) * math.log1p(-x)
    return math.log(2.0) - h


def bon_kl_gap_bound(h2: float, n: int | None = None, log_n: float | None = None) -> float:
    """``2 N (N - 1) e^{-H_2}``: bound on ``log N - (N-1)/N - D(BoN||p)``, with ``H_2 = -log sum_v p(v)^2``
    the collision entropy of the law of the reward (of the levels, not of the responses)."""
    h2 = _nonneg_finite(h2, "h2")
    big_n = _n_from_log(resolve_log_n(n, log_n))
    return 2.0 * big_n * (big_n - 1.0) * math.exp(-h2)


def bon_win_rate(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> float:
    """Win rate of best-of-N against a fresh draw from ``law``, ``P(X > Y) + P(X = Y)/2`` (ties at random)."""
    _check_law(law)
    return win_rate(best_of_n(law, n=n, log_n=log_n), law)


def bon_win_rate_bound(n: int | None = None, log_n: float | None = None) -> float:
    """``N/(N+1)``: the win rate of best-of-N in the continuous case, an upper bound for every finite law."""
    ln = resolve_log_n(n, log_n)
    return 1.0 / (1.0 + math.exp(-ln))


def bon_win_gap_bound(h2: float, n: int | None = None, log_n: float | None = None) -> float:
    """``(N - 1)/2 e^{-H_2}``: bound on ``N/(N+1)`` minus the win rate of best-of-N (``H_2`` of the levels)."""
    h2 = _nonneg_finite(h2, "h2")
    big_n = _n_from_log(resolve_log_n(n, log_n))
    return (big_n - 1.0) / 2.0 * math.exp(-h2)


def bon_kl_estimate(eps: float, n: int | None = None, log_n: float | None = None) -> float:
    """Beirami et al.'s estimator ``D_hat(eps) = (1-eps)^N (log N + (N-1) log(1-eps) - (N-1)/N)
    + (1 - (1-eps)^N) log((1 - (1-eps)^N)/eps)``, ``eps`` in ``[0, 1]`` the reference probability of the top.

    It is the exact ``D(BoN||p)`` of a law that is continuous except for one top atom of mass ``eps``.
    ``eps = 0`` gives ``log N - (N-1)/N`` and ``eps = 1`` gives 0. Computed from ``log a = N log(1 - eps)``.
    """
    eps = _validate.nonneg_real(eps, "eps")
    if eps > 1.0:
        raise ValueError(f"eps must lie in [0, 1], got {eps!r}")
    ln = resolve_log_n(n, log_n)
    if eps == 0.0:
        return bon_kl_bound(log_n=ln)
    if eps == 1.0 or ln == 0.0:
        return 0.0
    log1m = math.log1p(-eps)  # < 0
    log_log_a = ln + math.log(-log1m)
    log_a = -math.exp(log_log_a) if log_log_a < 709.0 else -math.inf  # N log(1 - eps)
    a = math.exp(log_a)
    one_minus_a = -math.expm1(log_a)
    frac = -math.expm1(-ln)  # (N-1)/N
    cont = 0.0 if a == 0.0 else a * (ln + log_a * frac - frac)  # (N-1) log(1-eps) = log_a (N-1)/N
    atom = one_minus_a * (math.log(one_minus_a) - math.log(eps))
    return cont + atom


def bon_log_ratio(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> np.ndarray:
    """``log(pi_BoN(v)/p(v)) = log((F(v)^N - F_-(v)^N)/(F(v) - F_-(v)))`` at every level of ``law``
    (``-inf`` where the best-of-N mass is below the smallest representable log)."""
    _check_law(law)
    bon = best_of_n(law, n=n, log_n=log_n)
    out = np.full(len(law), -np.inf)
    idx = np.searchsorted(law.values, bon.values)
    out[idx] = bon.logprobs - law.logprobs[idx]
    return out


def log_power_mean_calibration(law: RewardLaw, n: int) -> np.ndarray:
    """``log u_N(v)`` with ``u_N(v) = (mean of u^(N-1) over the quantile cell (F_-(v), F(v)])^(1/(N-1))``.

    Best-of-N is exactly ``p(v) exp((N-1) log u_N(v) + log N)``: KL-regularized RL with ``beta = 1/(N-1)`` on
    the reward ``log u_N``; in the continuous limit ``u_N`` is the quantile ``u`` itself. Needs ``n >= 2``.
    """
    _check_law(law)
    n = _validate.positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be >= 2 (beta = 1/(n-1)), got {n}")
    return (bon_log_ratio(law, n=n) - math.log(n)) / (n - 1)


# -- the quantile-tilt frontier (Gui et al.) ----------------------------------------------------------------------
def _real_array(c, name: str) -> np.ndarray:
    arr = np.asarray(c, dtype=float)
    if np.isnan(arr).any() or np.isinf(arr).any():
        raise ValueError(f"{name} must be finite reals")
    return arr


def _series(coef: np.ndarray, x: np.ndarray, first_power: int) -> np.ndarray:
    """``sum_k coef[k] x^(first_power + 2k)`` by Horner in ``x^2``."""
    x2 = x * x
    acc = np.zeros_like(x)
    for c_k in coef[::-1]:
        acc = acc * x2 + c_k
    return acc * x**first_power


def quantile_tilt_win(c):
    """Win rate ``e^c/(e^c - 1) - 1/c`` of the quantile tilt with density ``c e^{cu}/(e^c - 1)`` on ``(0, 1)``
    (``1/2`` at ``c = 0``); a power series for ``|c| < 1``, vectorised."""
    arr = _real_array(c, "c")
    a = np.abs(arr)
    out = np.empty_like(a)
    small = a < _SERIES_CUT
    out[small] = 0.5 + _series(_WIN_COEF, a[small], 1)
    big = a[~small]
    out[~small] = 1.0 / (-np.expm1(-big)) - 1.0 / big
    out = np.where(arr < 0, 1.0 - out, out)  # u -> 1 - u
    return float(out) if out.ndim == 0 else out


def quantile_tilt_kl(c):
    """``KL(c) = log(c/(e^c - 1)) + c e^c/(e^c - 1) - 1``, the relative entropy of the quantile tilt to the
    uniform law (``0`` at ``c = 0``, even in ``c``); a power series for ``|c| < 1``, vectorised."""
    arr = _real_array(c, "c")
    a = np.abs(arr)
    out = np.empty_like(a)
    small = a < _SERIES_CUT
    out[small] = _series(_KL_COEF, a[small], 2)
    big = a[~small]
    one_m = -np.expm1(-big)  # 1 - e^-c
    out[~small] = np.log(big) - np.log(one_m) + big * np.exp(-big) / one_m - 1.0
    return float(out) if out.ndim == 0 else out


def quantile_tilt_param(kl: float) -> float:
    """The ``c >= 0`` with ``KL(c) = kl`` (``KL`` increases from 0 to infinity on ``c >= 0``)."""
    kl = _nonneg_finite(kl, "kl")
    if kl == 0.0:
        return 0.0

    def excess(s: float) -> float:
        return quantile_tilt_kl(math.exp(s)) - kl

    lo, hi = math.log(math.sqrt(24.0 * kl)) - 1.0, max(1.0, kl + 2.0)
    while excess(lo) > 0:
        lo -= 2.0
    while excess(hi) < 0:
        hi *= 2.0
    return math.exp(brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def frontier_win(kl: float) -> float:
    """Largest win rate against the reference at relative entropy ``kl`` in the continuous case:
    ``win(c)`` with ``KL(c) = kl``."""
    return quantile_tilt_win(quantile_tilt_param(kl))


def bon_frontier_gap(n: int | None = None, log_n: float | None = None) -> float:
    """``win(c_N) - N/(N+1)`` with ``KL(c_N) = log N - (N-1)/N``: how far best-of-N lies below the frontier
    (continuous case). Both sides are formed as ``1 - ...`` so large ``N`` keeps its precision."""
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    c = quantile_tilt_param(bon_kl_bound(log_n=ln))
    loss_frontier = (1.0 - quantile_tilt_win(c)) if c < 1.0 else 1.0 / c - math.exp(-c) / (-math.expm1(-c))
    loss_bon = 1.0 / (1.0 + math.exp(ln))
    return loss_bon - loss_frontier


# -- sub-Gaussian variance proxy ------------------------------------------------------------------------------------
def _expm1_minus_x(x: np.ndarray) -> np.ndarray:
    """``e^x - 1 - x``, accurate for small ``|x|``."""
    out = np.empty_like(x)
    s = np.abs(x) < 1e-2
    xs = x[s]
    out[s] = xs * xs * (0.5 + xs * (1 / 6 + xs * (1 / 24 + xs * (1 / 120 + xs / 720))))
    out[~s] = np.expm1(x[~s]) - x[~s]
    return out


def _centred_cgf(c: np.ndarray, p: np.ndarray, lp: np.ndarray, t: float, drift: float) -> float:
    """``kappa(t) - t mu = log E exp(t (R - mu))`` from values ``c`` centred at the rounded mean, whose exact mean
    is ``drift`` (of the order of rounding). ``log1p(sum p (e^{tc} - 1 - tc))`` leaves the drift out exactly to
    first order (the rest is of relative size ``t * drift``), so the ratio ``2(kappa(t) - t mu)/t^2`` does not pick
    up the spurious term ``2 drift/t``; beyond ``|t| max|c| = 600`` it is a log-sum-exp minus ``t * drift``."""
    if abs(t) * np.abs(c).max() <= 600.0:  # a sum of non-negative terms: full relative precision, no overflow
        return math.log1p(math.fsum((p * _expm1_minus_x(t * c)).tolist()))
    return float(logsumexp(lp + t * c)) - t * drift


def subgaussian_variance_proxy(law: RewardLaw, side: str = "upper") -> float:
    """Smallest ``s2`` with ``kappa(t) - t mu <= s2 t^2 / 2``: ``sup 2(kappa(t) - t mu)/t^2`` over ``t > 0``
    (``side="upper"``, enough for the upper bound on the reward gain), ``t < 0`` (``"lower"``) or both.

    The ratio tends to the variance as ``t -> 0`` and to 0 as ``|t| -> inf`` (finite law). It is scanned on
    ``|t| * spread`` in ``[1e-4, 1e4]`` (400 log-spaced points) and the best point refined by bounded scalar
    maximisation; the variance (the ``t -> 0`` limit) is a candidate too.
    """
    _check_law(law)
    if side not in ("upper", "lower", "both"):
        raise ValueError(f"side must be 'upper', 'lower' or 'both', got {side!r}")
    if side == "both":
        return max(subgaussian_variance_proxy(law, "upper"), subgaussian_variance_proxy(law, "lower"))
    if len(law) == 1:
        return 0.0
    sign = 1.0 if side == "upper" else -1.0
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
    best = float(vals[i])
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(lambda s: -ratio(s), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return max(best, float(-res.fun), law.var())


def subgaussian_gain_bound(sigma2: float, kl: float) -> float:
    """``sqrt(2 sigma2 D)``: the largest reward gain over the reference mean at relative entropy ``D`` when the
    reward is ``sigma2``-sub-Gaussian (upper tail) under the reference."""
    sigma2 = _nonneg_finite(sigma2, "sigma2")
    kl = _validate.nonneg_real(kl, "kl")
    return math.sqrt(2.0 * sigma2 * kl)


# -- best-of-N against the tilted family --------------------------------------------------------------------------
def bon_tilt_projection(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> tuple[float, float]:
    """``(lam, D)`` with ``D = min_lam D(BoN || p_lam)``, attained where the tilt's mean equals best-of-N's
    (``d/dlam D(BoN||p_lam) = kappa'(lam) - E_BoN r``), so that ``D = D(BoN||p) - D(p_lam||p)``.

    The mean is matched through the deficit ``top - mean``, formed in log space on both sides, so it stays exact
    when best-of-N is within rounding of the top level. ``(inf, 0)`` when best-of-N is the top level itself.
    """
    _check_law(law)
    bon = best_of_n(law, n=n, log_n=log_n)
    if len(law) == 1 or len(bon) == 1:
        return (0.0 if len(law) == 1 else math.inf), 0.0
    top = law.values[-1]
    span = top - law.values[0]
    below = bon.values < top
    target = float(logsumexp(bon.logprobs[below] + np.log(top - bon.values[below])))  # log(top - E_BoN r)
    gaps = np.log(top - law.values[:-1])

    def log_deficit(s: float) -> float:  # log(top - kappa'(lam)), lam = s / span
        lw = law.logprobs + (s / span) * (law.values - top)
        return float(logsumexp(lw[:-1] + gaps) - logsumexp(lw))

    if log_deficit(0.0) <= target:
        return 0.0, bon.kl(law)
    hi = 1.0
    while log_deficit(hi) > target:
        hi *= 2.0
    s = brentq(lambda x: log_deficit(x) - target, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    lam = s / span
    return lam, bon.kl(law.tilt(lam))
