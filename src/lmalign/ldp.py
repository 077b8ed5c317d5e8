"""Rate functions and scaled cumulant generating functions (R4, R5).

For a finite law with CGF ``kappa``, the Cramer rate is ``I_0(x) = sup_t [t x - kappa(t)] = D(p_theta || p)``
with ``kappa'(theta) = x``; the rate of the aligned per-token reward under the tilt ``p_lam`` is
``I_lam(x) = sup_t [t x - kappa(lam + t) + kappa(lam)] = I_0(x) - lam x + kappa(lam) = D(p_theta || p_lam)``.
Both are ``+inf`` outside ``[min, max]`` and equal ``-log p_lam(level)`` at the two end levels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from lmalign import _validate
from lmalign.law import RewardLaw
from lmalign.tilting import tilt_kl


def _check_law(law) -> None:
    if not isinstance(law, RewardLaw):
        raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")


def _finite(x, name: str) -> float:
    val = float(x)
    if not math.isfinite(val):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return val


def theta_of_mean(law: RewardLaw, x: float) -> float:
    """``theta`` with ``kappa'(theta) = x`` (mean of the tilt equals ``x``), for ``min < x < max``;
    ``-inf`` / ``+inf`` at the end levels."""
    _check_law(law)
    x = _finite(x, "x")
    lo_v, hi_v = law.values[0], law.values[-1]
    if not lo_v <= x <= hi_v or len(law) == 1:
        raise ValueError(f"x={x!r} must lie strictly inside the support range [{lo_v}, {hi_v}]")
    if x == hi_v:
        return math.inf
    if x == lo_v:
        return -math.inf
    span = hi_v - lo_v
    scaled = RewardLaw._trusted((law.values - lo_v) / span, law.logprobs)
    xs = (x - lo_v) / span

    def excess(t: float) -> float:
        return scaled.tilt(t).mean() - xs

    lo, hi = -1.0, 1.0
    while excess(lo) > 0:
        hi, lo = lo, lo * 2
    while excess(hi) < 0:
        lo, hi = hi, hi * 2
    return brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500) / span


def _rate_one(law: RewardLaw, lam: float, x: float, form: str) -> float:
    vals = law.values
    if x < vals[0] or x > vals[-1]:
        return math.inf
    if len(law) == 1:
        return 0.0
    tilted = law.tilt(lam)
    if x == vals[-1]:
        return float(-tilted.logprobs[-1])
    if x == vals[0]:
        return float(-tilted.logprobs[0])
    theta = theta_of_mean(law, x)
    if form == "kl":
        return tilted.tilt(theta - lam).kl(tilted) if lam != theta else 0.0
    if form == "legendre":
        return float((theta - lam) * x - law.cgf(theta) + law.cgf(lam))
    if form == "shift":
        return float(tilt_kl(law, theta) - lam * x + law.cgf(lam)) if lam != 0 else tilt_kl(law, theta)
    raise ValueError(f"form must be 'legendre', 'shift' or 'kl', got {form!r}")


def aligned_rate(law: RewardLaw, lam: float, x, form: str = "kl"):
    """Rate ``I_lam(x)`` of the per-token reward under the tilt ``p_lam`` in one of its three forms:
    ``"legendre"``: ``(theta - lam) x - kappa(theta) + kappa(lam)`` (the sup attained at ``t = theta - lam``);
    ``"shift"``: ``I_0(x) - lam x + kappa(lam)``; ``"kl"``: ``D(p_theta || p_lam)``. Vectorised over ``x``."""
    _check_law(law)
    lam = _finite(lam, "lam")
    if form not in ("legendre", "shift", "kl"):
        raise ValueError(f"form must be 'legendre', 'shift' or 'kl', got {form!r}")
    xs = np.asarray(x, dtype=float)
    if np.isnan(xs).any():
        raise ValueError("x contains NaN")
    out = np.array([_rate_one(law, lam, float(xi), form) for xi in xs.reshape(-1)])
    return float(out[0]) if xs.ndim == 0 else out.reshape(xs.shape)


def cramer_rate(law: RewardLaw, x):
    """Cramer rate ``I_0(x) = sup_t [t x - kappa(t)] = D(p_theta || p)``; ``+inf`` outside
    ``[min, max]``, ``-log p(top)`` at the max, ``-log p(bottom)`` at the min. Vectorised over ``x``."""
    return aligned_rate(law, 0.0, x, form="kl")


def scaled_cgf(law: RewardLaw, lam: float, t):
    """``kappa(lam + t) - kappa(lam)``: the CGF of the tilt ``p_lam`` (R5), vectorised over ``t``."""
    _check_law(law)
    lam = _finite(lam, "lam")
    return law.tilt(lam).cgf(t)


def cgf_derivative(law: RewardLaw, lam: float, k: int):
    """``kappa^{(k)}(lam)``: the ``k``-th cumulant of the tilt ``p_lam`` (``k >= 1``), from its central
    moments by the moment-cumulant recursion ``c_j = m_j - sum_{i<j} C(j-1, i-1) c_i m_{j-i}``."""
    _check_law(law)
    k = _validate.positive_int(k, "k")
    lam = _finite(lam, "lam")
    tilted = law.tilt(lam)
    mean = tilted.mean()
    if k == 1:
        return mean
    y = tilted.values - mean
    q = tilted.probs
    moments = [1.0] + [float(math.fsum((q * y**j).tolist())) for j in range(1, k + 1)]
    moments[1] = 0.0
    cum = [0.0] * (k + 1)
    for j in range(2, k + 1):
        cum[j] = moments[j] - sum(math.comb(j - 1, i - 1) * cum[i] * moments[j - i] for i in range(2, j - 1))
    return cum[k]
