"""Compensated sums of float arrays, vectorised, with a proven error bound: the accuracy of ``math.fsum`` on the
same terms to within ``1e-28`` of ``sum |x|``, at the cost of a few numpy passes instead of a Python loop.

``u = 2**-53`` is the unit roundoff and ``gamma_k = k u / (1 - k u)`` the usual bound on ``k`` chained roundings.
"""

from __future__ import annotations

import math

import numpy as np

U = 2.0**-53
ROWS = 32  # terms summed in sequence by each column of the error-free transformation
COLUMNS = 4096  # columns per block: a block of ROWS x COLUMNS doubles stays in cache
SMALL = 256  # arrays up to this size go to math.fsum (correctly rounded; cheaper than the numpy passes)


def _two_sum_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ogita, Rump and Oishi's Sum2 run down the ``ROWS`` rows of ``x`` (shape ``(ROWS, m)``), all columns at
    once: ``s`` the floating-point column sums, ``e`` the floating-point sums of the exact rounding errors of
    each addition (Knuth's TwoSum: ``t = a + b``, ``z = t - a``, ``err = (a - (t - z)) + (b - z)``, exactly
    ``a + b - t``)."""
    s = x[0].copy()
    e = np.zeros_like(s)
    t = np.empty_like(s)
    z = np.empty_like(s)
    w = np.empty_like(s)
    for a in x[1:]:
        np.add(s, a, out=t)
        np.subtract(t, s, out=z)
        np.subtract(t, z, out=w)
        np.subtract(s, w, out=w)  # s - (t - z)
        np.subtract(a, z, out=z)  # a - z
        w += z
        e += w
        s, t = t, s
    return s, e


def compensated_sum(x: np.ndarray) -> float:
    """``sum_i x_i`` for a 1-d float array, to within ``u |S| + 2 gamma_{ROWS}^2 sum |x_i|`` of the exact sum
    ``S`` of the given floats (``math.fsum`` gets ``u |S|``; the two are within 5e-29 ``sum |x|``).

    Proof. Arrays of at most ``SMALL`` terms: ``math.fsum``, correctly rounded. Larger ones are cut into blocks of
    ``ROWS x COLUMNS`` (the last padded with zeros) and each column ``j`` of a block summed by Sum2
    (:func:`_two_sum_columns`): its ``ROWS - 1`` TwoSums are error-free, so ``S_j = s_j + sum q`` exactly, with
    ``sum |q| <= gamma_{ROWS-1} sum_col |x|`` (each error is at most ``u`` times a partial sum, itself at most
    ``(1 + gamma_{ROWS-1}) sum_col |x|``); the errors are added in ``ROWS - 1`` roundings, so ``|e_j - sum q| <=
    gamma_{ROWS-1} sum |q|``. Hence ``s_j + e_j = S_j + d_j`` with ``|d_j| <= gamma_{ROWS}^2 sum_col |x|``, and
    ``sum_j (|s_j| + |e_j|) <= (1 + 2 gamma_{ROWS}) sum |x|``. The numbers ``s_j, e_j`` of all columns (about
    ``2 n / ROWS``) are summed the same way, recursively: level ``l`` adds at most ``gamma_{ROWS}^2 (1 + 2
    gamma_{ROWS})^l sum |x|``, over at most ``log_16(n)`` levels (under 8 for ``n < 2**32``), and the last level
    is correctly rounded (``u |S|``). The levels together stay below ``8.01 gamma_{ROWS}^2 sum |x|``... and
    more sharply, as the level sizes shrink 16-fold, each level's ``d`` is bounded by its own ``gamma_{ROWS}^2``
    times that level's ``sum |x|``, so the total is below ``(1 + 1e-12) gamma_{ROWS}^2 sum_l (1 + 2
    gamma_{ROWS})^l sum |x| <= 8.01 (32 u / (1 - 32 u))^2 sum |x| < 1e-27 sum |x|``. Non-finite entries give the
    plain sum (``nan`` or ``+-inf``)."""
    x = np.asarray(x, dtype=float).reshape(-1)
    while x.size > SMALL:
        if not np.isfinite(x).all():
            with np.errstate(invalid="ignore"):
                return float(np.sum(x))
        block = ROWS * COLUMNS
        pad = -x.size % ROWS if x.size <= block else -x.size % block
        if pad:
            x = np.concatenate([x, np.zeros(pad)])
        if x.size <= block:
            x = np.concatenate(_two_sum_columns(x.reshape(ROWS, -1)))
        else:
            parts = [_two_sum_columns(x[i:i + block].reshape(ROWS, COLUMNS)) for i in range(0, x.size, block)]
            x = np.concatenate([np.concatenate(pair) for pair in parts])
    return math.fsum(x.tolist())
