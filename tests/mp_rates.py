"""mpmath references for rate functions: the CGF of a law and ``I_lam(x)`` with ``theta`` found by bisection.

Shared by the LDP tests; laws enter through their log-probabilities, so masses below the float range count.
"""

from __future__ import annotations

import mpmath as mp


def mp_kappa(law, t) -> mp.mpf:
    """``kappa(t) = log sum_k p_k e^{t v_k}`` at the current precision, from the law's log-probabilities."""
    lp = [mp.mpf(float(a)) for a in law.logprobs]
    v = [mp.mpf(float(b)) for b in law.values]
    top = max(a + t * b for a, b in zip(lp, v, strict=True))
    return top + mp.log(mp.fsum(mp.exp(a + t * b - top) for a, b in zip(lp, v, strict=True)))


def mp_rate(law, lam, x, dps: int = 60) -> tuple[mp.mpf, mp.mpf]:
    """``(I_lam(x), theta)``: ``I_lam(x) = theta x - kappa(theta) - lam x + kappa(lam)`` with ``kappa'(theta) = x``,
    ``theta`` by bisection on the tilted mean (``lam = 0``: the Cramér rate)."""
    with mp.workdps(dps):
        x, lam = mp.mpf(x), mp.mpf(lam)

        def mean(t):
            w = [mp.exp(mp.mpf(float(a)) + t * mp.mpf(float(b))) for a, b in zip(law.logprobs, law.values, strict=True)]
            return mp.fsum(wi * float(b) for wi, b in zip(w, law.values, strict=True)) / mp.fsum(w)

        lo, hi = mp.mpf(-1), mp.mpf(1)
        while mean(lo) > x:
            lo *= 2
        while mean(hi) < x:
            hi *= 2
        for _ in range(250):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mean(mid) < x else (lo, mid)
        th = (lo + hi) / 2
        return th * x - mp_kappa(law, th) - lam * x + mp_kappa(law, lam), th
