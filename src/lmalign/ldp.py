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
from lmalign._logspace import log_sum_exp
from lmalign.law import RewardLaw, require_law
from lmalign.tilting import tilt_kl


def _finite(x, name: str) -> float:
    return _validate.real_scalar(x, name)


def _log_gap(scaled: RewardLaw, t: float, upper: bool) -> float:
    """``log E_{p_t}[1 - V]`` (``upper``) or ``log E_{p_t}[V]`` for a law on ``[0, 1]`` with both ends as
    levels: the distance of the tilted mean to the near end, kept to full relative precision."""
    logq = scaled.logprobs + scaled.log_tilt_ratio(t)
    d = 1.0 - scaled.values if upper else scaled.values
    pos = d > 0
    return float(log_sum_exp(logq[pos] + np.log(d[pos])))


def theta_of_mean(law: RewardLaw, x: float) -> float:
    """``theta`` with ``kappa'(theta) = E_{p_theta} R = x``, for ``min <= x <= max``; ``+inf`` (``-inf``) at
    the top (bottom) level.

    On the law rescaled to ``[0, 1]`` the root is found in ``t = theta * range`` by brentq on
    ``log(distance of the tilted mean to the nearer end) - log(distance of x to it)``, which is monotone and
    evaluated in log space, so ``x`` within ``1e-300`` (relative) of an end level is resolved.
    """
    require_law(law)
    x = _finite(x, "x")
    lo_v, hi_v = float(law.values[0]), float(law.values[-1])
    if not lo_v <= x <= hi_v or len(law) == 1:
        raise ValueError(f"x={x!r} must lie inside the support range [{lo_v}, {hi_v}] of a law with "
                         "at least two levels")
    if x == hi_v:
        return math.inf
    if x == lo_v:
        return -math.inf
    span = hi_v - lo_v
    scaled = RewardLaw._trusted((law.values - lo_v) / span, law.logprobs)
    upper = x - lo_v > hi_v - x
    target = math.log((hi_v - x) / span if upper else (x - lo_v) / span)
    sign = 1.0 if upper else -1.0  # excess is decreasing in t for the upper gap, increasing for the lower

    def excess(t: float) -> float:
        return sign * (_log_gap(scaled, t, upper) - target)

    lo, hi = -1.0, 1.0
    while excess(lo) < 0:
        lo, hi = lo * 2, lo
        if lo < -1e300:
            raise ValueError(f"x={x!r} is too close to the bottom level to resolve theta")
    while excess(hi) > 0:
        lo, hi = hi, hi * 2
        if hi > 1e300:
            raise ValueError(f"x={x!r} is too close to the top level to resolve theta")
    return brentq(excess, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=2000) / span


def _rate_one(law: RewardLaw, tilted: RewardLaw, lam: float, x: float, form: str) -> float:
    vals = law.values
    if x < vals[0] or x > vals[-1]:
        return math.inf
    if len(law) == 1:
        return 0.0
    if x == vals[-1]:
        return float(-tilted.logprobs[-1])
    if x == vals[0]:
        return float(-tilted.logprobs[0])
    theta = theta_of_mean(law, x)
    if form == "kl":
        return law.tilt(theta).kl(tilted)
    if form == "legendre":
        return float((theta - lam) * x - law.cgf(theta) + law.cgf(lam))
    return float(tilt_kl(law, theta) - lam * x + law.cgf(lam)) if lam != 0 else tilt_kl(law, theta)


def aligned_rate(law: RewardLaw, lam: float, x, form: str = "kl"):
    """Rate ``I_lam(x)`` of the per-token reward under the tilt ``p_lam`` in one of its three forms:
    ``"legendre"``: ``(theta - lam) x - kappa(theta) + kappa(lam)`` (the sup attained at ``t = theta - lam``);
    ``"shift"``: ``I_0(x) - lam x + kappa(lam)``; ``"kl"``: ``D(p_theta || p_lam)``. Vectorised over ``x``."""
    require_law(law)
    lam = _finite(lam, "lam")
    if form not in ("legendre", "shift", "kl"):
        raise ValueError(f"form must be 'legendre', 'shift' or 'kl', got {form!r}")
    xs = _validate.real_array(x, "x")
    tilted = law.tilt(lam)
    out = np.array([_rate_one(law, tilted, lam, float(xi), form) for xi in xs.reshape(-1)])
    return float(out[0]) if xs.ndim == 0 else out.reshape(xs.shape)


def cramer_rate(law: RewardLaw, x):
    """Cramer rate ``I_0(x) = sup_t [t x - kappa(t)] = D(p_theta || p)``; ``+inf`` outside
    ``[min, max]``, ``-log p(top)`` at the max, ``-log p(bottom)`` at the min. Vectorised over ``x``."""
    return aligned_rate(law, 0.0, x, form="kl")


def scaled_cgf(law: RewardLaw, lam: float, t):
    """``kappa(lam + t) - kappa(lam)``: the CGF of the tilt ``p_lam`` (R5), vectorised over ``t``."""
    require_law(law)
    lam = _finite(lam, "lam")
    return law.tilt(lam).cgf(t)


def cgf_derivative(law: RewardLaw, lam: float, k: int):
    """``kappa^{(k)}(lam)``: the ``k``-th cumulant of the tilt ``p_lam`` (``k >= 1``), from its central
    moments by the moment-cumulant recursion ``c_j = m_j - sum_{i<j} C(j-1, i-1) c_i m_{j-i}``."""
    require_law(law)
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
