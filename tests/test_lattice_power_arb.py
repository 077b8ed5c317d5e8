"""Certified law at length 1e5 against an independent arb reference (python-flint ball arithmetic, 128 bits).

For a level ``K`` the reference tilts the token law to ``q_k ~ w_k rho^k`` (``rho = e^theta``, ``theta`` the
saddle point of ``K``), forms the circular ``n``-fold power of ``q`` on ``N`` points by ``acb.dft``,
``c_r = (1/N) sum_j Q(omega^j)^n omega^{-j r}`` (``Q`` the tilted generating function), so that
``c_{K mod N} = sum_m P_theta(K + m N)``, and bounds the aliased terms ``m != 0`` by Chernoff bounds evaluated in
arb. Then ``log P(K) = log P_theta(K) + n log(sum_k w_k rho^k / 1024) - K log rho``, a ball whose radius covers
every rounding and the aliasing.
"""

import math

import flint
import numpy as np
import pytest

from lmalign import RewardLaw
from lmalign.lattice_power import tolerance

WEIGHTS = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41]  # p = WEIGHTS / 1024: exact doubles, exact rationals
N_TOKENS = 100_000
D = len(WEIGHTS) - 1
PREC = 128


def saddle(target: float) -> tuple[float, float, float]:
    """Float tilt ``theta`` whose tilted mean is ``target`` (clipped inside ``(0, D)``), with that law's mean and
    variance. Any ``theta`` gives an exact reference; the saddle only keeps ``N`` small."""
    k = np.arange(D + 1.0)
    lw = np.log(np.array(WEIGHTS, dtype=float))
    target = min(max(target, 0.3 / N_TOKENS), D - 0.3 / N_TOKENS)
    lo, hi = -60.0, 60.0
    for _ in range(200):  # bisection on the increasing mean
        mid = 0.5 * (lo + hi)
        q = np.exp(lw + mid * k - np.max(lw + mid * k))
        q /= q.sum()
        lo, hi = (mid, hi) if q @ k < target else (lo, mid)
    mean = float(q @ k)
    return mid, mean, float(q @ (k - mean) ** 2)


def log_mgf(weights: list[flint.arb], s: flint.arb) -> flint.arb:
    """``log sum_k q_k e^{s k}`` in arb."""
    return sum((w * (s * k).exp() for k, w in enumerate(weights)), flint.arb(0)).log()


def reference(level: int) -> flint.arb:
    """``log P(S_n = level)`` as an arb ball."""
    n = N_TOKENS
    theta, mean, var = saddle(level / n)
    sigma = math.sqrt(n * var)
    size = max(64, 1 << math.ceil(math.log2(14 * sigma + 4 * D + 32)))
    rho = flint.arb(theta).exp()
    raw = [flint.arb(w) * rho**k for k, w in enumerate(WEIGHTS)]
    total = sum(raw, flint.arb(0))
    q = [x / total for x in raw]
    spectrum = flint.acb.dft([flint.acb(x) for x in q] + [flint.acb(0)] * (size - len(q)))
    circ = flint.acb.dft([x**n for x in spectrum], inverse=True)
    value = circ[level % size]
    # aliasing: P_theta(S >= level + size) + P_theta(S <= level - size), each by exp(n L(s) - s far)
    alias = flint.arb(0)
    base = log_mgf(q, flint.arb(0))
    for far in (level + size, level - size):
        if 0 <= far <= n * D:  # Chernoff at the tilt s that centres the sum on far (any s gives a bound)
            s = flint.arb(saddle(far / n)[0] - theta)
            alias += (n * (log_mgf(q, s) - base) - s * far).exp()
    p_theta = flint.arb(value.real.mid(), value.real.rad() + value.imag.rad() + abs(value.imag.mid()).upper()
                        + alias.upper())
    return p_theta.log() + n * (total / 1024).log() - level * flint.arb(theta)


@pytest.fixture(scope="module")
def law():
    return RewardLaw.from_tokens(np.array(WEIGHTS) / 1024, np.arange(10.0), N_TOKENS)


LEVELS = sorted({0, 1, 2, 7, 50, 400, 3000, 20_000, 80_000, 150_000, 250_000, 300_000, 330_000, 345_000, 350_000,
                 355_000, 360_000, 380_000, 420_000, 500_000, 600_000, 700_000, 800_000, 880_000, 899_000,
                 899_950, 899_997, 899_999, 900_000})


def test_sampled_levels_within_their_certificates(law):
    flint.ctx.prec = PREC
    assert len(law) == N_TOKENS * D + 1
    for level in LEVELS:
        ref = reference(level)
        assert ref.rad() < 1e-20, (level, ref)  # the reference itself is far finer than the certificates
        mid = float(ref.mid())
        err = abs(law.logprobs[level] - mid) - float(ref.rad())
        assert err <= law.log_error[level], (level, law.logprobs[level], mid, law.log_error[level])
        assert law.log_error[level] <= tolerance(law.logprobs[level:level + 1])[0]
    assert law.logprobs[N_TOKENS * D] < -300_000  # both tails far below the smallest double, in log space


def test_reference_detects_a_wrong_value(law):
    """The reference is sharp enough to catch an error of 1e-9 in the log at a central and a tail level."""
    flint.ctx.prec = PREC
    for level in (355_000, 899_950):
        ref = reference(level)
        assert abs(law.logprobs[level] + 1e-9 - float(ref.mid())) - float(ref.rad()) > law.log_error[level]
