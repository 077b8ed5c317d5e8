"""Rate functions and scaled cumulant generating functions (R4, R5).

For a finite law with CGF ``kappa``, the Cramer rate is ``I_0(x) = sup_t [t x - kappa(t)] = D(p_theta || p)``
with ``kappa'(theta) = x``; the rate of the aligned per-token reward under the tilt ``p_lam`` is
``I_lam(x) = sup_t [t x - kappa(lam + t) + kappa(lam)] = I_0(x) - lam x + kappa(lam) = D(p_theta || p_lam)``.
Both are ``+inf`` outside ``[min, max]`` and equal ``-log p_lam(level)`` at the two end levels.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy.optimize import brentq

from lmalign import _validate
from lmalign._logspace import log_sum_exp
from lmalign.law import RewardLaw, require_law
from lmalign.tilting import tilt_kl


def _finite(x, name: str) -> float:
    return _validate.real_scalar(x, name)


def _span_overflows(law: RewardLaw) -> bool:
    """Whether ``max - min`` overflows (values near +-1.8e308)."""
    return not math.isfinite(float(law.values[-1]) - float(law.values[0]))


def _halved(law: RewardLaw) -> RewardLaw:
    """The law of ``R / 2`` (exact in binary): rates are invariant, ``I_{R/2}(x/2) = I_R(x)``, with the tilt
    parameter doubled."""
    return RewardLaw._trusted(law.values / 2, law.logprobs)


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
    evaluated in log space, so ``x`` within ``1e-300`` (relative) of an end level is resolved. Values whose
    range overflows are halved first (``theta_R(x) = theta_{R/2}(x/2) / 2``, exact). Relative accuracy about
    1e-13 (checked against mpmath, ``x`` to ``2^-52`` of the top).
    """
    require_law(law)
    x = _finite(x, "x")
    lo_v, hi_v = float(law.values[0]), float(law.values[-1])
    if not lo_v <= x <= hi_v or len(law) == 1:
        raise ValueError(
            f"x={x!r} must lie inside the support range [{lo_v}, {hi_v}] of a law with at least two levels"
        )
    if x == hi_v:
        return math.inf
    if x == lo_v:
        return -math.inf
    if _span_overflows(law):  # theta_R(x) = theta_{R/2}(x/2) / 2
        return theta_of_mean(_halved(law), x / 2) / 2
    span = hi_v - lo_v
    scaled = RewardLaw._trusted((law.values - lo_v) / span, law.logprobs)
    upper = x - lo_v > hi_v - x
    target = math.log(hi_v - x if upper else x - lo_v) - math.log(span)  # the quotient may underflow to 0
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
    ``"shift"``: ``I_0(x) - lam x + kappa(lam)``; ``"kl"``: ``D(p_theta || p_lam)``. Vectorised over ``x``.
    Values whose range overflows (near +-1.8e308) are halved first (exact; the rate is invariant under
    ``R -> R/2``, ``x -> x/2``, ``lam -> 2 lam``). The ``"kl"`` form is a sum of non-negative terms: relative
    accuracy about 1e-13 wherever ``theta`` is (checked against mpmath, including ``x`` near the ends)."""
    require_law(law)
    lam = _finite(lam, "lam")
    if form not in ("legendre", "shift", "kl"):
        raise ValueError(f"form must be 'legendre', 'shift' or 'kl', got {form!r}")
    xs = _validate.real_array(x, "x")
    if _span_overflows(law):  # I_lam(x) of R is I_{2 lam}(x / 2) of R / 2
        if not math.isfinite(2 * lam):
            raise ValueError(f"lam={lam!r}: lam times the range of the values overflows")
        return aligned_rate(_halved(law), 2 * lam, xs / 2, form)
    tilted = law.tilt(lam)
    out = np.array([_rate_one(law, tilted, lam, float(xi), form) for xi in xs.reshape(-1)])
    return float(out[0]) if xs.ndim == 0 else out.reshape(xs.shape)


def cramer_rate(law: RewardLaw, x):
    """Cramer rate ``I_0(x) = sup_t [t x - kappa(t)] = D(p_theta || p)``; ``+inf`` outside
    ``[min, max]``, ``-log p(top)`` at the max, ``-log p(bottom)`` at the min. Vectorised over ``x``; values
    to +-1e308 allowed; relative accuracy about 1e-13 (see :func:`aligned_rate`)."""
    return aligned_rate(law, 0.0, x, form="kl")


_FACT_K = np.arange(2, 22, dtype=float)
_LOG_FACT_K = np.array([math.lgamma(k + 1) for k in _FACT_K])


def _expm1_minus_x(x: np.ndarray) -> np.ndarray:
    """``e^x - 1 - x >= 0``, by its Taylor series (orders 2..21) for ``|x| <= 1/2``."""
    out = np.empty_like(x)
    small = np.abs(x) <= 0.5
    xs = x[small][:, None]
    with np.errstate(divide="ignore", under="ignore"):
        mags = np.exp(_FACT_K * np.log(np.abs(xs)) - _LOG_FACT_K)
    out[small] = np.sum(mags * np.where(xs < 0, (-1.0) ** _FACT_K, 1.0), axis=1)
    out[~small] = np.expm1(x[~small]) - x[~small]
    return out


def _scaled_cgf_one(law: RewardLaw, tilted: RewardLaw, lam: float, t: float) -> float:
    """``kappa(lam + t) - kappa(lam)`` for one finite ``t``."""
    if t == 0.0:
        return 0.0
    vals = law.values
    if abs(t) * float(vals[-1] - vals[0]) <= 1.0:  # t m + log1p(t resid + sum q (e^{t y} - 1 - t y))
        m = tilted.mean()
        y = tilted.values - m  # the tilt's own levels: those of mass below exp(-1.8e308) are dropped from it
        q = tilted.probs
        resid = math.fsum((q * y).tolist())
        return t * m + math.log1p(t * resid + math.fsum((q * _expm1_minus_x(t * y)).tolist()))
    c = float(vals[-1] if lam >= 0 else vals[0])  # exponents at most 0 on the side lam pushes to
    with np.errstate(over="ignore"):
        return float(
            t * c + log_sum_exp(law.logprobs + (lam + t) * (vals - c)) - log_sum_exp(law.logprobs + lam * (vals - c))
        )


def scaled_cgf(law: RewardLaw, lam: float, t):
    """``kappa(lam + t) - kappa(lam)``: the CGF of the tilt ``p_lam`` (R5), vectorised over ``t``.

    For ``|t| range <= 1``: ``t m + log1p(t r + sum q (e^{t y} - 1 - t y))`` with ``q = p_lam``, ``m`` its
    mean, ``y = v - m`` and ``r = sum q y`` (~0), a sum of non-negative terms, so ``t = 1e-300`` gives
    ``t m`` to full precision; otherwise the log-sum-exps of ``log p + (lam + t)(v - c)`` and
    ``log p + lam (v - c)`` with ``c`` the end level ``lam`` tilts towards, so ``lam = -1e300, t = 1e300``
    still gives ``kappa(0) - kappa(-1e300) = -log p(bottom)``. Relative accuracy about 1e-14 away from a
    zero of the result; ``t = +-inf`` give the limits of :meth:`lmalign.law.RewardLaw.cgf` of the tilt."""
    require_law(law)
    lam = _finite(lam, "lam")
    ts = _validate.real_array(t, "t")
    tilted = law.tilt(lam)
    flat = ts.reshape(-1)
    out = np.array(
        [_scaled_cgf_one(law, tilted, lam, float(x)) if math.isfinite(x) else tilted.cgf(float(x)) for x in flat]
    )
    return float(out[0]) if ts.ndim == 0 else out.reshape(ts.shape)


MAX_CUMULANT_ORDER = 400  # cgf_derivative: k^2 / 2 high-precision products; k = 400 takes ~3 s, 1000 ~50 s


def _cumulants_mp(law: RewardLaw, lam: float, k: int, prec: int) -> list:
    """Cumulants ``c_1..c_k`` of the tilt ``p_lam`` in mpmath at ``prec`` bits: the tilt formed exactly,
    moments ``m_j`` about the float mean, and ``c_j = m_j - sum_{i<j} C(j-1, i-1) c_i m_{j-i}``."""
    with mp.workprec(prec):
        logw = [
            mp.mpf(float(a)) + mp.mpf(lam) * mp.mpf(float(v)) for a, v in zip(law.logprobs, law.values, strict=True)
        ]
        top = max(logw)
        w = [mp.exp(x - top) for x in logw]
        total = mp.fsum(w)
        q = [x / total for x in w]
        center = mp.mpf(float(law.tilt(lam).mean())) if math.isfinite(lam) else mp.mpf(0)
        y = [mp.mpf(float(v)) - center for v in law.values]
        powers = list(q)
        moments = [mp.mpf(1)]
        for _ in range(k):
            powers = [a * b for a, b in zip(powers, y, strict=True)]
            moments.append(mp.fsum(powers))
        cum = [mp.mpf(0)] * (k + 1)
        for j in range(1, k + 1):
            cum[j] = moments[j] - mp.fsum([math.comb(j - 1, i - 1) * cum[i] * moments[j - i] for i in range(1, j)])
        return cum


def cgf_derivative(law: RewardLaw, lam: float, k: int):
    """``kappa^{(k)}(lam)``: the ``k``-th cumulant of the tilt ``p_lam`` (``1 <= k <= MAX_CUMULANT_ORDER``).

    ``k = 1`` is the tilted mean, ``k = 2`` its variance (a sum of non-negative terms). For ``k >= 3`` the
    moment-cumulant recursion ``c_j = m_j - sum_{i<j} C(j-1, i-1) c_i m_{j-i}`` cancels catastrophically
    (cumulants of a finite law grow like ``(k-1)! / rho^k`` while the moments stay bounded), so it runs in
    mpmath on the exactly tilted law at 128 bits and again at twice that, doubling (to 8192 bits at most)
    until the two agree to 1e-16: relative accuracy about 1e-15, checked against 60-digit references up to
    ``k = 200`` (an odd cumulant of a symmetric law, exactly 0, comes out below ``2^-4000`` of the scale).
    A ``ValueError`` names ``k`` when the cumulant overflows a float."""
    require_law(law)
    k = _validate.positive_int(k, "k")
    if k > MAX_CUMULANT_ORDER:
        raise ValueError(f"k must be at most MAX_CUMULANT_ORDER = {MAX_CUMULANT_ORDER}, got {k}")
    lam = _finite(lam, "lam")
    tilted = law.tilt(lam)
    if k == 1:
        return tilted.mean()
    if k == 2 or len(law) == 1:
        y = tilted.values - tilted.mean()
        with np.errstate(over="ignore"):
            var = float(np.dot(tilted.probs, y * y)) if k == 2 else 0.0
        if not math.isfinite(var):
            raise ValueError(f"k={k}: the variance of the tilted law exceeds the float range")
        return var
    prec = 128
    value = _cumulants_mp(law, lam, k, prec)[k]
    for _ in range(6):  # an exact zero (odd order, symmetric law) never settles: its last value is ~2^-prec
        prec *= 2
        better = _cumulants_mp(law, lam, k, prec)[k]
        if abs(better - value) <= 1e-16 * abs(better):
            break
        value = better
    if not mp.isfinite(better) or abs(better) > mp.mpf(np.finfo(float).max):
        raise ValueError(f"k={k}: the cumulant kappa^(k)(lam) = {mp.nstr(better, 5)} exceeds the float range")
    return float(better)
