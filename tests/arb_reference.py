"""An independent certified reference for token-sum laws: ``log P(S_n = K)`` as an arb ball (python-flint).

For a level ``K`` the token law ``p_k = w_k / sum w`` (integer weights ``w``, so ``p`` is exact) is tilted to
``q_k ~ w_k rho^k`` (``rho = e^theta``, ``theta`` the saddle point of ``K``); its circular ``n``-fold power on
``N`` points by ``acb.dft``, ``c_r = (1/N) sum_j Q(omega^j)^n omega^{-j r}``, gives ``c_{K mod N} = sum_m
P_theta(K + m N)``, and the aliased terms ``m != 0`` are bounded by Chernoff bounds evaluated in arb. Then
``log P(K) = log P_theta(K) + n log(sum_k w_k rho^k / sum w) - K log rho``, a ball whose radius covers every
rounding and the aliasing. Used by ``tests/test_lattice_power_arb.py`` and ``benchmarks/bench_exact.py``; the
caller sets ``flint.ctx.prec``.
"""

from __future__ import annotations

import math

import flint
import numpy as np


def saddle(weights: list[int], n: int, target: float) -> tuple[float, float, float]:
    """Float tilt ``theta`` whose tilted mean is ``target`` (clipped inside ``(0, D)``), with that law's mean and
    variance. Any ``theta`` gives an exact reference; the saddle only keeps ``N`` small."""
    span = len(weights) - 1
    k = np.arange(span + 1.0)
    lw = np.log(np.array(weights, dtype=float))
    target = min(max(target, 0.3 / n), span - 0.3 / n)
    lo, hi = -60.0, 60.0
    for _ in range(200):  # bisection on the increasing mean
        mid = 0.5 * (lo + hi)
        q = np.exp(lw + mid * k - np.max(lw + mid * k))
        q /= q.sum()
        lo, hi = (mid, hi) if q @ k < target else (lo, mid)
    mean = float(q @ k)
    return mid, mean, float(q @ (k - mean) ** 2)


def log_mgf(q: list[flint.arb], s: flint.arb) -> flint.arb:
    """``log sum_k q_k e^{s k}`` in arb."""
    return sum((w * (s * k).exp() for k, w in enumerate(q)), flint.arb(0)).log()


def log_prob(weights: list[int], n: int, level: int) -> flint.arb:
    """``log P(S_n = level)`` as an arb ball, ``S_n`` the sum of ``n`` tokens ``k`` drawn with ``p_k ~ w_k``."""
    span = len(weights) - 1
    theta, _, var = saddle(weights, n, level / n)
    size = max(64, 1 << math.ceil(math.log2(14 * math.sqrt(n * var) + 4 * span + 32)))
    rho = flint.arb(theta).exp()
    raw = [flint.arb(w) * rho**k for k, w in enumerate(weights)]
    total = sum(raw, flint.arb(0))
    q = [x / total for x in raw]
    spectrum = flint.acb.dft([flint.acb(x) for x in q] + [flint.acb(0)] * (size - len(q)))
    value = flint.acb.dft([x**n for x in spectrum], inverse=True)[level % size]
    # aliasing: P_theta(S >= level + size) + P_theta(S <= level - size), each by exp(n L(s) - s far)
    alias = flint.arb(0)
    base = log_mgf(q, flint.arb(0))
    for far in (level + size, level - size):
        if 0 <= far <= n * span:  # Chernoff at the tilt s that centres the sum on far (any s gives a bound)
            s = flint.arb(saddle(weights, n, far / n)[0] - theta)
            alias += (n * (log_mgf(q, s) - base) - s * far).exp()
    p_theta = flint.arb(
        value.real.mid(), value.real.rad() + value.imag.rad() + abs(value.imag.mid()).upper() + alias.upper()
    )
    return p_theta.log() + n * (total / sum(weights)).log() - level * flint.arb(theta)
