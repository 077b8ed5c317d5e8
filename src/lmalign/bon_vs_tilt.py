"""How far best-of-N is from the tilted family at finite length: its log density ratio to the reference,
``log(pi_BoN/p) = log((F^N - F_-^N)/(F - F_-))``, and its information projection on the tilts,
``min_lam D(pi_BoN || p_lam)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from lmalign.best_of_n import best_of_n
from lmalign.law import RewardLaw, require_law
from lmalign.subgaussian import unit_scaled

__all__ = ["bon_log_ratio", "bon_tilt_projection", "bon_affine_residual"]


def bon_log_ratio(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> np.ndarray:
    """``log(pi_BoN(v)/p(v)) = log((F(v)^N - F_-(v)^N)/(F(v) - F_-(v)))`` at every level of ``law``
    (``-inf`` where the best-of-N mass is below the smallest representable log)."""
    require_law(law)
    bon = best_of_n(law, n=n, log_n=log_n)
    out = np.full(len(law), -np.inf)
    idx = np.searchsorted(law.values, bon.values)
    out[idx] = bon.logprobs - law.logprobs[idx]
    return out


def bon_tilt_projection(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> tuple[float, float]:
    """``(lam, D)`` with ``D = min_lam D(BoN || p_lam)``, attained where the tilt's mean equals best-of-N's
    (``d/dlam D(BoN||p_lam) = kappa'(lam) - E_BoN r``), so that ``D = D(BoN||p) - D(p_lam||p)``.

    The mean is matched through the deficit ``top - mean``, formed in log space on both sides, so it stays exact
    when best-of-N is within rounding of the top level. ``(inf, 0)`` when best-of-N is the top level itself.
    Solved on the law rescaled by a power of two ``a`` (values within ``(-2, 2)``: ``D`` is unchanged and
    ``lam = lam' / a``, ``inf`` beyond the float range), so values near ``±1e308`` or subnormal spreads do not
    overflow.
    """
    require_law(law)
    scaled, a = unit_scaled(law)
    bon = best_of_n(scaled, n=n, log_n=log_n)
    if len(law) == 1 or len(bon) == 1:
        return (0.0 if len(law) == 1 else math.inf), 0.0
    lam = _projection_lambda(scaled, bon)
    return lam / a, bon.kl(scaled.tilt(lam))


def _projection_lambda(law: RewardLaw, bon: RewardLaw) -> float:
    """The ``lam >= 0`` with ``kappa'(lam) = E_BoN r``, for a law with values in ``(-2, 2)``: bracket by doubling
    ``s = lam * span`` (at most 1100 times; ``inf`` if the mean is beyond every finite tilt), then Brent."""
    top = law.values[-1]
    span = top - law.values[0]
    below = bon.values < top
    target = float(logsumexp(bon.logprobs[below] + np.log(top - bon.values[below])))  # log(top - E_BoN r)
    gaps = np.log(top - law.values[:-1])

    def log_deficit(s: float) -> float:  # log(top - kappa'(lam)), lam = s / span
        lw = law.logprobs + (s / span) * (law.values - top)
        return float(logsumexp(lw[:-1] + gaps) - logsumexp(lw))

    if log_deficit(0.0) <= target:
        return 0.0
    hi = 1.0
    for _ in range(1100):
        if log_deficit(hi) <= target:
            break
        hi *= 2.0
    else:
        return math.inf
    s = brentq(lambda x: log_deficit(x) - target, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return s / span


def bon_affine_residual(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> float:
    """Largest deviation of ``l_k = log(pi_BoN/p)`` (:func:`bon_log_ratio`) from its least-squares affine fit
    in the reward levels ``v_k``, over the levels where ``l_k`` is finite: 0 (to rounding) exactly when
    best-of-N is a tilt ``p_lam`` (then ``l_k = lam v_k - kappa(lam)``), so a value far from 0 certifies that it
    is not one."""
    ell = bon_log_ratio(law, n=n, log_n=log_n)
    finite = np.isfinite(ell)
    v = law.values[finite]
    design = np.c_[np.ones_like(v), v]
    coef, *_ = np.linalg.lstsq(design, ell[finite], rcond=None)
    return float(np.max(np.abs(ell[finite] - design @ coef)))
