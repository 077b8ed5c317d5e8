"""The optimal KL-constrained policy (R1): an exponential tilt of the reference on the reward line.

``phi_Delta = p_{lam*}`` with ``lam* > 0`` the unique root of ``D(p_lam || p) = lam kappa'(lam) - kappa(lam) =
Delta`` for ``0 < Delta < D_max = -log p(top)``; ``lam* = inf`` (``p`` conditioned on its top level) for
``Delta >= D_max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from lmalign import _validate
from lmalign._logspace import kl_logs
from lmalign.law import RewardLaw, require_law


@dataclass(frozen=True)
class KLConstrainedSolution:
    """Solution of ``max E_phi r`` subject to ``D(phi||p) <= delta``."""

    delta: float
    lam: float
    law: RewardLaw
    kl: float
    mean: float


def tilt_kl(law: RewardLaw, lam: float) -> float:
    """``D(p_lam || p) = lam kappa'(lam) - kappa(lam) = sum_v p(v) g(d_v)``, ``d_v = log p_lam(v)/p(v)``,
    ``g(d) = d e^d - e^d + 1 >= 0``: a sum of non-negative terms, accurate for tiny and large ``lam``.
    ``lam = inf`` gives ``-log p(top)``."""
    require_law(law)
    lam = _validate.real_scalar(lam, "lam", allow_inf=True)
    if math.isinf(lam):
        return law.tilt(lam).kl(law)
    d = law.log_tilt_ratio(lam)
    return kl_logs(law.logprobs + d, law.logprobs)



def _scale(law: RewardLaw) -> float:
    """Reward range; the tilt depends on ``lam`` only through ``lam * range`` on the centred law."""
    return float(law.values[-1] - law.values[0])


def solve_lambda(law: RewardLaw, delta: float) -> float:
    """The multiplier ``lam >= 0`` with ``D(p_lam || p) = delta`` (``inf`` when ``delta >= D_max``).

    Root-finding is on ``u = log(lam * range)``, where ``D`` is smooth and increasing, with a bracket found by
    doubling; the KL is evaluated on the tilted law itself, so it is accurate for tiny and large budgets.
    A law with a single level (flat reward) returns 0: every policy has the same reward.
    """
    require_law(law)
    delta = _validate.nonneg_real(delta, "delta")
    if len(law) == 1 or delta == 0.0:
        return 0.0
    d_max = law.max_kl
    if delta >= d_max:
        return math.inf
    span = _scale(law)
    centred = RewardLaw._trusted((law.values - law.values[-1]) / span, law.logprobs)

    def excess(u: float) -> float:
        return tilt_kl(centred, math.exp(u)) - delta

    lo, hi = -1.0, 1.0
    while excess(lo) > 0:
        lo *= 2.0
        if lo < -1400:  # lam * span below e^-1400: cannot be represented
            raise ValueError(f"delta={delta!r} is too small to resolve a multiplier")
    while excess(hi) < 0:
        lo = hi
        hi *= 2.0
        if hi > 700:
            return math.inf  # delta within rounding of D_max: the tilt is numerically the conditioned law
    u = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return _polish(law, delta, math.exp(u) / span)


def _polish(law: RewardLaw, delta: float, lam: float) -> float:
    """Refine ``lam`` on the original law down to adjacent floats by bisection, and return the float whose
    ``D(p_lam || p)`` is closest to ``delta`` (the root in ``log lam`` is only as fine as the ulp of the log).
    """
    def excess(x: float) -> float:
        return tilt_kl(law, x) - delta

    width = 64 * np.finfo(float).eps * lam
    lo, hi = lam - width, lam + width
    for _ in range(8):  # widen until the bracket holds the sign change
        if excess(lo) <= 0 <= excess(hi):
            break
        lo, hi = lo - width, hi + width
        width *= 4
    else:
        return lam
    f_lo, f_hi = excess(lo), excess(hi)
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        f_mid = excess(mid)
        if f_mid <= 0:
            lo, f_lo = mid, f_mid
        else:
            hi, f_hi = mid, f_mid
    return lo if abs(f_lo) <= abs(f_hi) else hi


def kl_constrained(law: RewardLaw, delta: float) -> KLConstrainedSolution:
    """Optimal policy of ``max E_phi r s.t. D(phi||p) <= delta`` on the reward line (R1).

    ``delta = 0`` gives ``lam = 0`` and ``p``; ``delta >= -log p(top)`` gives ``lam = inf`` and ``p``
    conditioned on the top level; a flat reward (one level) gives ``lam = 0``. For the law of a sum of ``n``
    i.i.d. tokens (``RewardLaw.from_tokens``) ``D(p_lam^n || p^n) = n D(p_lam || p)``, so ``lam`` is solved on the
    token law for ``delta / n``, and the sum's law is tilted once.
    """
    token, length = getattr(law, "token_law", None), getattr(law, "length", None)
    if token is not None and length:  # a sum of i.i.d. tokens: the sum tilted by lam is the tokens tilted by lam
        require_law(law)
        lam = solve_lambda(token, _validate.nonneg_real(delta, "delta") / length)
    else:
        lam = solve_lambda(law, delta)
    tilted = law.tilt(lam)
    return KLConstrainedSolution(delta=float(delta), lam=lam, law=tilted, kl=tilt_kl(law, lam),
                                 mean=tilted.mean())


def kl_regularized(law: RewardLaw, beta: float) -> RewardLaw:
    """Solution ``p_{1/beta}`` of ``max E_phi r - beta D(phi||p)``; ``beta = 0`` conditions on the top."""
    require_law(law)
    beta = _validate.nonneg_real(beta, "beta")
    return law.tilt(math.inf if beta == 0 else 1.0 / beta)
