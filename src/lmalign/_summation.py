"""Compensated sums of float arrays, vectorised, with a proven error bound: the accuracy of ``math.fsum`` on the
same terms to within ``1e-27`` of ``sum |x|``, at the cost of a few numpy passes instead of a Python loop.

``u = 2**-53`` is the unit roundoff and ``gamma_k = k u / (1 - k u)`` the usual bound on ``k`` chained roundings.
"""

from __future__ import annotations

import math

import numpy as np

SMALL = 256  # arrays up to this size go to math.fsum (correctly rounded; cheaper than the numpy passes)


def pairwise_roundings(n: int) -> int:
    """A bound ``k`` on the roundings any term goes through in numpy's pairwise ``np.sum`` of ``n`` contiguous
    doubles, so that its error is at most ``gamma_k sum |x|`` (``gamma_k = k u / (1 - k u)``, ``u = 2**-53``),
    and at most ``gamma_k`` relative for terms of one sign: ``k = 26 + ceil(log2 n)``.

    numpy sums fewer than 8 terms in sequence (7 roundings); up to 128 in 8 interleaved accumulators (at most
    15 additions each), a 3-level tree joining them and at most 7 remaining terms added in sequence (25
    roundings); longer ranges are halved (the halves' lengths multiples of 8), each halving one more rounding,
    at most ``ceil(log2 n)`` of them."""
    return 26 + math.ceil(math.log2(max(n, 1)))


def compensated_sum(x: np.ndarray) -> float:
    """``sum_i x_i`` for a 1-d float array, to within ``u |S| + 1e-27 sum |x_i|`` of the exact sum ``S`` of the
    given floats (``math.fsum`` gets ``u |S|``).

    Proof. Up to ``SMALL`` terms: ``math.fsum``, correctly rounded (``u |S|``). Larger arrays are halved level by
    level: the two halves ``a``, ``b`` (an odd last term carried over) are added as ``t = a + b`` with the exact
    rounding error ``q = (a - (t - z)) + (b - z)``, ``z = t - a`` (Knuth's TwoSum, error-free: ``a + b = t + q``
    exactly), so ``S = sum(t) + sum(q)`` exactly and the level's ``t`` are the next level's terms. Each ``|q| <=
    u |t|`` and ``sum |t| <= (1 + u) sum`` of the level's ``|terms|``, so over the ``L <= log2(n)`` levels
    ``sum |q| <= u L (1 + u)^L sum |x|``. Each level's ``q`` are summed by numpy's pairwise sum (within
    ``gamma_k`` of their absolute sum, ``k = 26 + ceil(log2 n)``, :func:`pairwise_roundings`), and the at most
    ``SMALL`` last terms with the ``L`` level sums (and the carried terms) by ``math.fsum``: the result is within
    ``u |S| + (1 + u) gamma_k u L (1 + u)^L sum |x|``, below ``u |S| + 1e-27 sum |x|`` for ``n < 2**40``
    (``k <= 66``, ``L <= 40``: ``66 * 40 * u^2 = 3.3e-29``).
    Non-finite entries give the plain sum (``nan`` or ``+-inf``)."""
    x = np.asarray(x, dtype=float).reshape(-1)
    if x.size <= SMALL:
        return math.fsum(x.tolist())
    if not np.isfinite(x).all():
        with np.errstate(invalid="ignore"):
            return float(np.sum(x))
    parts: list[float] = []
    while x.size > SMALL:
        h = x.size // 2
        a, b = x[:h], x[h : 2 * h]
        t = a + b
        z = t - a
        q = t - z
        np.subtract(a, q, out=q)  # a - (t - z)
        np.subtract(b, z, out=z)  # b - z
        q += z
        parts.append(float(np.sum(q)))
        if x.size % 2:
            parts.append(float(x[-1]))
        x = t
    return math.fsum(x.tolist() + parts)
