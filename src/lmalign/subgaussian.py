"""The optimal sub-Gaussian variance proxy of a finite reward law, and the gain bound it gives (Mroueh,
arXiv:2406.05883): ``E_phi r - E_p r <= sqrt(2 sigma^2 D(phi||p))`` for every ``phi`` when the reward is
``sigma^2``-sub-Gaussian under ``p``, with ``sigma*^2 = sup_t 2 (kappa(t) - t E_p r)/t^2``.

When that supremum is reached at an interior ``t* > 0`` (:func:`subgaussian_optimum` returns it), the tilt at
``lam = t*`` attains the bound exactly: its gain :func:`tilt_gain` is ``sigma*^2 t*`` and its relative entropy
``sigma*^2 t*^2 / 2``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, require_law

__all__ = ["subgaussian_variance_proxy", "subgaussian_optimum", "subgaussian_gain_bound", "tilt_gain",
           "discretised_gaussian"]


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
    if side == "both":
        require_law(law)
        return max(subgaussian_variance_proxy(law, "upper"), subgaussian_variance_proxy(law, "lower"))
    return subgaussian_optimum(law, side)[0]


def subgaussian_optimum(law: RewardLaw, side: str = "upper") -> tuple[float, float]:
    """``(sigma*^2, t*)``: the optimal variance proxy of :func:`subgaussian_variance_proxy` (``side`` ``"upper"``
    or ``"lower"``) and where the supremum of ``2(kappa(t) - t mu)/t^2`` is reached: ``t*`` has the sign of the
    side, and ``t* = 0.0`` when no ``t`` does better than the variance, the limit at ``t -> 0`` (the supremum is
    then only approached; on a finite law with two or more levels the ratio tends to 0 as ``|t| -> inf``, so the
    supremum is either reached at a finite ``t*`` or approached at 0)."""
    require_law(law)
    if side not in ("upper", "lower"):
        raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
    if len(law) == 1:
        return 0.0, 0.0
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
    """``sqrt(2 sigma2 D)``: the largest reward gain over the reference mean at relative entropy ``D`` when the
    reward is ``sigma2``-sub-Gaussian (upper tail) under the reference."""
    sigma2 = _validate.nonneg_finite(sigma2, "sigma2")
    kl = _validate.nonneg_real(kl, "kl")
    return math.sqrt(2.0 * sigma2 * kl)


def tilt_gain(law: RewardLaw, lam: float) -> float:
    """``E_{p_lam} r - E_p r = sum_v p(v) (e^{d(v)} - 1)(v - mean)``, ``d = log(p_lam/p)``: the reward gain of
    the tilt, with no cancellation for small ``lam`` (the terms are formed from ``expm1``)."""
    require_law(law)
    lam = _validate.real_scalar(lam, "lam")
    d = law.log_tilt_ratio(lam)
    return math.fsum((law.probs * np.expm1(d) * (law.values - law.mean())).tolist())


def discretised_gaussian(sigma: float, step: float = 0.25, width: float = 24.0) -> RewardLaw:
    """The centred Gaussian of standard deviation ``sigma`` restricted to the lattice ``sigma * step * Z`` cut
    at ``|x| <= width * sigma``: ``p(x) ~ exp(-x^2 / (2 sigma^2))``. By Poisson summation its CGF differs from
    ``sigma^2 t^2 / 2`` by about ``exp(-2 pi^2 / step^2)`` (``1e-137`` for the default step) plus the cut-off
    tails, so it is a Gaussian to double precision for ``|t| sigma`` well below ``width``."""
    sigma = _validate.nonneg_finite(sigma, "sigma")
    if sigma == 0.0:
        raise ValueError("sigma must be positive")
    x = np.arange(-width, width + step / 2, step) * sigma
    lp = -0.5 * (x / sigma) ** 2
    return RewardLaw.from_logprobs(x, lp - logsumexp(lp))
