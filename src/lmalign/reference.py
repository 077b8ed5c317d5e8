"""High-precision references for the checks: probability vectors and laws in mpmath arithmetic.

A check compares the library's float result with an independent computation at ``mpmath.mp.dps`` digits (set by
the caller, e.g. ``mpmath.mp.dps = 40``), so the reference error is far below the float result's.
"""

from __future__ import annotations

import mpmath


def mp_probs(probs) -> list:
    """``probs`` as mpmath numbers at the current precision, normalised exactly: float inputs sum to 1 only
    to rounding, and ``p_i / sum_j p_j`` removes that before any identity is checked."""
    vals = [mpmath.mpf(float(x)) for x in probs]
    total = mpmath.fsum(vals)
    if not total > 0:
        raise ValueError("probs must have a positive sum")
    return [v / total for v in vals]


def mp_cgf(probs, values, t) -> mpmath.mpf:
    """``kappa(t) = log sum_i p_i exp(t v_i)`` at the current precision (``probs`` normalised first)."""
    p = mp_probs(probs)
    t = mpmath.mpf(t)
    return mpmath.log(mpmath.fsum(pi * mpmath.exp(t * mpmath.mpf(float(v))) for pi, v in zip(p, values, strict=True)))
