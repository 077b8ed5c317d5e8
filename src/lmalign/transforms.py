"""Policies that reweight the reference by a function of the reward, and win rates between reward laws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.integrate import IntegrationWarning, quad
from scipy.special import logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, align, require_law


def win_rate(policy: RewardLaw, reference: RewardLaw) -> float:
    """``P(X > Y) + P(X = Y)/2`` for independent ``X ~ policy``, ``Y ~ reference`` (ties count one half)."""
    require_law(policy, "policy")
    require_law(reference, "reference")
    _, lx, ly = align(policy, reference)
    px, py = np.exp(lx), np.exp(ly)
    below = np.concatenate(([0.0], np.cumsum(py)[:-1]))
    return float(math.fsum((px * (below + py / 2)).tolist()))


def calibrated_reward(law: RewardLaw) -> np.ndarray:
    """Mid-rank calibrated reward ``u(v) = P(R < v) + P(R = v)/2`` at each level: the win rate of ``v``
    against a fresh draw (with ties one half); uniform on ``(0, 1)`` in the continuous limit."""
    require_law(law)
    p = law.probs
    return np.concatenate(([0.0], np.cumsum(p)[:-1])) + p / 2


def transform_policy(law: RewardLaw, transform: Callable[[np.ndarray], np.ndarray], beta: float) -> RewardLaw:
    """``pi(v) ~ p(v) exp(transform(v) / beta)``: the KL-regularized optimum for the transformed reward."""
    require_law(law)
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    t = np.asarray(transform(law.values), dtype=float)
    if t.shape != law.values.shape or np.isnan(t).any() or (t == np.inf).any():
        raise ValueError("transform must map the values to an array of the same shape, without NaN or +inf")
    lw = law.logprobs + t / beta
    return RewardLaw._trusted(law.values, lw - logsumexp(lw)) if (lw > -np.inf).all() else \
        RewardLaw.from_logprobs(law.values, lw - logsumexp(lw))


_PROBE_OFFSETS = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0])


def _thin(points: np.ndarray, gap: float) -> np.ndarray:
    """Sorted ``points`` thinned greedily so consecutive kept points are at least ``gap`` apart (both ends
    kept)."""
    kept = [points[0]]
    for pt in points[1:-1]:
        if pt - kept[-1] >= gap:
            kept.append(pt)
    if points.size > 1:
        if points[-1] - kept[-1] < gap and len(kept) > 1:
            kept.pop()
        kept.append(points[-1])
    return np.array(kept)


def soft_best_of_n(law: RewardLaw, n: int, beta: float) -> RewardLaw:
    """Soft best-of-N: draw ``n`` from ``p`` and keep draw ``i`` with probability ``~ exp(r_i / beta)``.

    With ``w(v) = exp(v / beta)``, ``pi(v) = n p(v) w(v) E[1 / (w(v) + sum_{j<n} w(R_j))]``; writing
    ``1/x = int_0^inf e^{-tx} dt`` and ``t = sigma / w(v)``,
    ``pi(v) = n p(v) int_0^inf e^{-sigma} M_v(sigma)^{n-1} d sigma`` with
    ``M_v(sigma) = sum_u p(u) e^{-sigma w(u)/w(v)}``. The integral is taken in ``s = log sigma`` by adaptive
    quadrature, with break points at every scale ``w(v)/w(u)`` and ``(n-1) w(u)/w(v)``, from 40 below the
    smallest of them (the part below is under ``e^-38`` of the whole, since ``M^(n-1) >= e^-1`` there) to
    ``log 60``; the integrand is kept in log space and scaled by its largest value, so masses far below the
    smallest float keep their logarithms. Relative accuracy about 1e-11; the masses are checked to sum to 1
    within 1e-9. ``beta -> 0`` gives best-of-N; ``n -> inf`` at fixed ``beta`` gives the tilt ``p_{1/beta}``.
    """
    require_law(law)
    n = _validate.positive_int(n, "n")
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    if n == 1 or len(law) == 1:
        return law
    x = (law.values - law.values[-1]) / beta  # log w(v), up to a common constant
    lp = law.logprobs
    p = law.probs
    s_hi = math.log(60.0)
    log_n1 = math.log(n - 1)

    def log_mass(i: int) -> float:
        log_ratio = x - x[i]  # log w(u)/w(v)

        def log_f(s: float) -> float:
            with np.errstate(over="ignore"):
                e = -np.exp(s + log_ratio)  # -sigma w(u)/w(v)
            drop = math.fsum((p * np.expm1(e)).tolist())  # M - 1, exact near M = 1
            log_m = math.log1p(drop) if drop > -0.5 else float(logsumexp(lp + e))
            return s - math.exp(s) + (n - 1) * log_m

        # The integrand has features of width O(1) in s around s = -log(rho_u), -log((n-1) rho_u) and
        # -log((n-1) rho_u p(u)); probe around each, keep the stretch where it is within e^-60 of its peak.
        scales = np.concatenate((-log_ratio, -log_ratio - log_n1, -log_ratio - log_n1 - lp))
        s_lo = min(float(scales.min()), 0.0) - 40.0
        probes = np.unique(np.clip(np.add.outer(scales, _PROBE_OFFSETS).ravel(), s_lo, s_hi))
        vals = np.array([log_f(float(g)) for g in probes])
        shift = float(vals.max())
        live = np.flatnonzero(vals - shift > -60.0)
        a, b = max(live[0] - 1, 0), min(live[-1] + 1, probes.size - 1)
        pts = _thin(probes[a:b + 1], 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IntegrationWarning)
            val, _ = quad(lambda s: math.exp(log_f(s) - shift), pts[0], pts[-1],
                          points=pts[1:-1] if pts.size > 2 else None, epsabs=0, epsrel=1e-11, limit=4000)
        return math.log(n) + lp[i] + shift + math.log(val)

    logmass = np.array([log_mass(i) for i in range(len(law))])
    log_total = float(logsumexp(logmass))
    if abs(math.expm1(log_total)) > 1e-9:
        raise ArithmeticError(f"soft best-of-n quadrature lost accuracy (masses sum to {math.exp(log_total)!r})")
    return RewardLaw._trusted(law.values, logmass - log_total)


def log_power_mean_calibration(law: RewardLaw, n: int) -> np.ndarray:
    """``log u_N(v)`` with ``u_N(v) = (mean of u^(N-1) over the quantile cell (F_-(v), F(v)])^(1/(N-1))``.

    Computed from the integral definition alone, ``u_N^(N-1) = (F^N - F_-^N) / (N (F - F_-))``, with ``F`` and
    ``F_-`` the law's own cumulative sums (``F - F_- = p(v)``): in log space,
    ``log(F^N - F_-^N) = N log F + log(-expm1(-N log1p(p / F_-)))``, and ``log F = log1p(-P(R > v))`` near
    the top, so neither a small cell nor a cell near ``F = 1`` loses precision. It does not call
    :func:`lmalign.best_of_n`, which makes ``p(v) exp((N-1) log u_N(v) + log N) = best-of-N`` a check rather
    than a definition. In the continuous limit ``u_N`` is the quantile ``u`` itself. Needs ``n >= 2``.
    """
    require_law(law)
    n = _validate.positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be >= 2 (beta = 1/(n-1)), got {n}")
    p = law.probs
    log_p = law.logprobs
    below = np.concatenate(([0.0], np.cumsum(p)[:-1]))  # F_-(v)
    above = np.concatenate((np.cumsum(p[::-1])[::-1][1:], [0.0]))  # 1 - F(v) = P(R > v)
    with np.errstate(divide="ignore"):  # F_- = 0 at the lowest level: log1p(p/0) = inf, expm1(-inf) = -1
        log_f = np.where(above < 0.5, np.log1p(-np.minimum(above, 0.5)),
                         np.log(np.maximum(below + p, np.finfo(float).tiny)))
        log_cell = n * log_f + np.log(-np.expm1(-n * np.log1p(p / below)))
    return (log_cell - math.log(n) - log_p) / (n - 1)
