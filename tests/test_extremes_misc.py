"""Extreme inputs of the divergences, transforms, Markov sources, LDP rates and best-of-N: every public
function returns the right value (checked against mpmath at high precision) or a ValueError naming the
argument."""

import math

import mpmath as mp
import numpy as np
import pytest

from lmalign import RewardLaw
from lmalign.divergences import (
    binary_entropy,
    collision_entropy,
    entropy,
    kl,
    renyi_cross_entropy,
    renyi_divergence,
)

ALPHAS = [1e-300, 1e-18, 1e-9, 0.5, 1 - 1e-12, 1 + 1e-12, 2.0, 1e6, 1e300]
PAIRS = [([0.5, 0.5], [0.2, 0.8]), ([0.2, 0.8], [0.5, 0.5]), ([0.1, 0.3, 0.6], [0.6, 0.3, 0.1]),
         ([1 - 1e-12, 1e-12], [0.5, 0.5]), ([0.5, 0.5, 0.0], [0.2, 0.3, 0.5]), ([0.1, 0.9], [1e-200, 1.0])]


def _mp_probs(p):
    ps = [mp.mpf(float(x)) for x in p]
    total = mp.fsum(ps)
    return [x / total for x in ps]


def _ref_renyi(p, q, a):
    with mp.workdps(700):  # a = 1e-300 needs log S to 1e-318 relative to 1
        ps, qs, a = _mp_probs(p), _mp_probs(q), mp.mpf(a)
        if mp.isinf(a):
            return max(mp.log(x / y) for x, y in zip(ps, qs, strict=True) if x > 0)
        s = mp.fsum(x**a * y ** (1 - a) for x, y in zip(ps, qs, strict=True) if x > 0 and y > 0)
        return mp.log(s) / (a - 1)


def _ref_cross(q, s, a):
    with mp.workdps(700):
        qs, ss, a = _mp_probs(q), _mp_probs(s), mp.mpf(a)
        if mp.isinf(a):
            return -mp.log(max(y for x, y in zip(qs, ss, strict=True) if x > 0))
        return mp.log(mp.fsum(x * y ** (a - 1) for x, y in zip(qs, ss, strict=True) if x > 0)) / (1 - a)


def _rel(got, ref):
    return float(abs(mp.mpf(got) - ref) / abs(ref))


@pytest.mark.parametrize("p, q", PAIRS)
def test_renyi_divergence_relative_accuracy_at_every_order(p, q):
    for a in ALPHAS + [math.inf]:
        got = renyi_divergence(p, q, a)
        assert got >= 0
        assert _rel(got, _ref_renyi(p, q, a)) < 1e-12, a


def test_renyi_divergence_order_limits():
    p, q = [0.5, 0.5], [0.2, 0.8]
    # a -> 0: D_a ~ a D(q||p); a -> 1: KL; never negative (it was -5.6e-17 for a <= 1e-18)
    assert renyi_divergence(p, q, 1e-300) == pytest.approx(1e-300 * kl(q, p), rel=1e-12)
    assert renyi_divergence(p, q, 1 - 1e-12) == pytest.approx(kl(p, q), rel=1e-11)
    # a -> 0 with q not supported on p: -log q(supp p)
    assert renyi_divergence([0.5, 0.5, 0.0], [0.2, 0.3, 0.5], 1e-300) == pytest.approx(-math.log(0.5), rel=1e-14)


@pytest.mark.parametrize("q, s", PAIRS)
def test_renyi_cross_entropy_relative_accuracy_at_every_order(q, s):
    for a in ALPHAS + [math.inf]:
        got = renyi_cross_entropy(q, s, a)
        if s[0] == 0.0 and q[0] > 0 and a <= 1:
            assert got == math.inf
            continue
        assert got >= 0 and _rel(got, _ref_cross(q, s, a)) < 1e-12, a


def test_entropies_against_mpmath():
    for p in ([1 - 1e-12, 1e-12], [1e-300, 1.0], [0.2, 0.3, 0.5], [1.0]):
        with mp.workdps(700):
            ps = _mp_probs(p)
            ref_h = -mp.fsum(x * mp.log(x) for x in ps if x > 0)
            ref_h2 = -mp.log(mp.fsum(x * x for x in ps))
        if ref_h == 0:
            assert entropy(p) == 0.0 and collision_entropy(p) == 0.0
            continue
        assert _rel(entropy(p), ref_h) < 1e-13
        # H_2 of a nearly degenerate law is 2e-12 or 2e-300: it was 0 (-log of a sum rounding to 1)
        assert _rel(collision_entropy(p), ref_h2) < 1e-12


def test_kl_of_laws_far_in_the_tail():
    p = RewardLaw.from_logprobs([0.0, 1.0], [math.log1p(-1e-300), math.log(1e-300)])
    q = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with mp.workdps(700):
        a, b = mp.mpf(1e-300), 1 - mp.mpf(1e-300)
        ref = a * mp.log(2 * a) + b * mp.log(2 * b)
    assert _rel(kl(p, q), ref) < 1e-13


def test_binary_entropy_in_the_normal_range():
    for x in (2.2250738585072014e-308, 1e-300, 1e-20, 1e-9, 0.3, 0.5, 1 - 1e-9, 1 - 2**-53):
        with mp.workdps(700):
            xm = mp.mpf(x)
            ref = -xm * mp.log(xm) - (1 - xm) * mp.log(1 - xm)
        assert _rel(binary_entropy(x), ref) < 1e-14, x
    assert binary_entropy(5e-324) == pytest.approx(5e-324 * (1 - math.log(5e-324)), rel=1e-3)  # subnormal x
    with pytest.raises(ValueError, match="x must lie"):
        binary_entropy(1 + 1e-16 * 3)
