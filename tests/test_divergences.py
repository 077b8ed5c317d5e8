import math

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import prob_vectors, reward_laws

from lmalign import RewardLaw
from lmalign.divergences import (
    binary_entropy,
    collision_entropy,
    entropy,
    kl,
    renyi_cross_entropy,
    renyi_divergence,
)


@settings(max_examples=60)
@given(prob_vectors(), prob_vectors())
def test_vectors_against_plain_formulas(p, q):
    k = min(p.size, q.size)
    p = p[:k] / p[:k].sum()
    q = q[:k] / q[:k].sum()
    assert kl(p, q) == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-9, abs=1e-13)
    for a in (0.5, 2.0, 3.5):
        direct = math.log(float(np.sum(p**a * q ** (1 - a)))) / (a - 1)
        assert renyi_divergence(p, q, a) == pytest.approx(direct, rel=1e-10, abs=1e-13)
        direct_h = math.log(float(np.sum(p * q ** (a - 1)))) / (1 - a)
        assert renyi_cross_entropy(p, q, a) == pytest.approx(direct_h, rel=1e-10)
    assert entropy(p) == pytest.approx(float(-np.sum(p * np.log(p))), rel=1e-12)
    assert collision_entropy(p) == pytest.approx(-math.log(float(np.sum(p * p))), rel=1e-12)


@given(prob_vectors(), prob_vectors())
def test_renyi_order_one_limits(p, q):
    k = min(p.size, q.size)
    p = p[:k] / p[:k].sum()
    q = q[:k] / q[:k].sum()
    assert renyi_divergence(p, q, 1 + 1e-7) == pytest.approx(kl(p, q), rel=1e-5, abs=1e-9)
    assert renyi_divergence(p, q, 1.0) == kl(p, q)
    assert renyi_cross_entropy(p, q, 1 - 1e-7) == pytest.approx(float(-np.sum(p * np.log(q))), rel=1e-5)
    assert renyi_divergence(p, q, math.inf) == pytest.approx(float(np.max(np.log(p / q))), rel=1e-12)


@given(reward_laws(), reward_laws())
def test_laws_are_aligned_on_values(a, b):
    assert kl(a, a) == 0.0
    assert kl(a, b) == a.kl(b)


def test_binary_entropy():
    assert binary_entropy(0.5) == pytest.approx(math.log(2))
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    # near 0: h(x) = x (1 - log x) + O(x^2); near 1 by symmetry (1 - 2^-40 is exact in floats)
    for x in (1e-300, 1e-30, 1e-12):
        assert binary_entropy(x) == pytest.approx(x * (1 - math.log(x)), rel=1e-11)
    e = 2.0**-40
    assert binary_entropy(1 - e) == pytest.approx(e * (1 - math.log(e)) - e * e / 2, rel=1e-12)
    xs = np.linspace(0.01, 0.99, 11)
    np.testing.assert_allclose(binary_entropy(xs), -xs * np.log(xs) - (1 - xs) * np.log(1 - xs), rtol=1e-14)
    np.testing.assert_allclose(binary_entropy(xs), binary_entropy(1 - xs), rtol=1e-14)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binary_entropy(1.5)


def test_renyi_divergence_tends_to_kl_at_order_one_from_both_sides():
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.2, 0.2, 0.6])
    d = kl(p, q)
    for eps in (1e-3, 1e-5):
        lower, upper = renyi_divergence(p, q, 1 - eps), renyi_divergence(p, q, 1 + eps)
        assert lower < d < upper  # Renyi divergence increases with the order
        assert abs(upper - d) < 10 * eps and abs(d - lower) < 10 * eps
    assert renyi_divergence(p, q, 0.5) == pytest.approx(-2 * math.log(float(np.sum(np.sqrt(p * q)))))


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (([0.5, 0.5], [1.0]), "different lengths"),
        (([0.5, 0.6], [0.5, 0.5]), "sum to 1"),
        (([0.5, 0.5], [0.5, 0.5], 0.0), "alpha"),
    ],
)
def test_bad_input(args, msg):
    fn = renyi_divergence if len(args) == 3 else kl
    with pytest.raises(ValueError, match=msg):
        fn(*args)
    with pytest.raises(ValueError, match="both"):
        kl(RewardLaw([0.0], [1.0]), [1.0])
