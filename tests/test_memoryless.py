import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import prob_vectors

from lmalign import RewardLaw
from lmalign.memoryless import lattice_steps, law_of_sum, token_tilt


def brute_force(p, r, n):
    mass: dict[float, float] = {}
    for seq in itertools.product(range(len(p)), repeat=n):
        total = math.fsum(r[i] for i in seq)
        mass[total] = mass.get(total, 0.0) + math.prod(p[i] for i in seq)
    return mass


@settings(max_examples=40, deadline=None)
@given(prob_vectors(2, 4), st.integers(1, 6), st.sampled_from(["int", "rational", "irrational"]))
def test_against_enumeration(p, n, kind):
    rng = np.random.default_rng(p.size * 7 + n)
    if kind == "int":
        r = rng.integers(-3, 4, size=p.size).astype(float)
    elif kind == "rational":
        r = rng.integers(-5, 6, size=p.size) / 4.0
    else:
        r = np.array([0.0, math.sqrt(2), math.pi, 1.0])[: p.size]
    law = law_of_sum(p, r, n)
    ref = brute_force(p, r, n)
    keys = np.array(sorted(ref))
    merged_vals, merged_mass = [], []
    for k in keys:  # merge totals equal up to rounding, as the library documents
        if merged_vals and abs(k - merged_vals[-1]) <= 1e-9:
            merged_mass[-1] += ref[k]
        else:
            merged_vals.append(k)
            merged_mass.append(ref[k])
    np.testing.assert_allclose(law.values, merged_vals, atol=1e-9)
    np.testing.assert_allclose(law.probs, merged_mass, rtol=1e-10)
    assert math.fsum(law.probs) == pytest.approx(1.0, abs=1e-12)


def test_binomial_at_length_ten_thousand_every_level():
    n, q = 10_000, 0.3
    law = RewardLaw.from_tokens([1 - q, q], [0, 1], n)
    mp.mp.dps = 30
    ks = np.arange(0, n + 1, 97).tolist() + [1, 2, n - 1, n]
    ref = np.array([float(mp.log(mp.binomial(n, k)) + k * mp.log(mp.mpf(3) / 10) + (n - k) * mp.log(mp.mpf(7) / 10))
                    for k in ks])
    # relative error of each probability = absolute error of its log
    assert np.max(np.abs(law.logprobs[ks] - ref)) < 1e-10
    assert law.logprobs[n] < -12_000  # far below the smallest float, kept in log space


def test_ten_values_tails_against_exact_integers():
    """Exact rational law by integer polynomial powers, length 60, ten token values."""
    weights = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    total = sum(weights)
    n = 60
    poly = [1]
    for _ in range(n):
        new = [0] * (len(poly) + 9)
        for i, c in enumerate(poly):
            for j, w in enumerate(weights):
                new[i + j] += c * w
        poly = new
    ref = np.array([float(mp.log(mp.mpf(c)) - n * mp.log(total)) for c in poly])
    law = law_of_sum(np.array(weights) / total, np.arange(10.0), n)
    np.testing.assert_allclose(law.logprobs, ref, rtol=0, atol=1e-11)


@settings(max_examples=30, deadline=None)
@given(prob_vectors(2, 10), st.integers(50, 3000))
def test_moments_and_mass(p, n):
    p = p + 0.01  # keep every token reasonably likely (see the periodic case below)
    p /= p.sum()
    r = np.arange(p.size, dtype=float) * 0.5 - 1.0
    law = law_of_sum(p, r, n)
    mean1 = float(np.dot(p, r))
    var1 = float(np.dot(p, (r - mean1) ** 2))
    assert math.fsum(law.probs) == pytest.approx(1.0, abs=1e-12)
    assert law.mean() == pytest.approx(n * mean1, rel=1e-10, abs=1e-9)
    assert law.var() == pytest.approx(n * var1, rel=1e-9)


def test_lattice_detection():
    assert lattice_steps(np.array([0.1, 0.2, 0.3]))[2].tolist() == [0, 1, 2]
    assert lattice_steps(np.array([0.0, 1.0, math.sqrt(2)])) is None
    # ten continuous rewards with six decimals: denominators multiply past int64; not a lattice
    vals = np.sort(np.round(np.random.default_rng(3).normal(size=10), 6))
    assert lattice_steps(vals) is None
    assert len(RewardLaw.from_tokens(np.full(10, 0.1), vals, 2)) == 55


def test_token_tilt():
    np.testing.assert_allclose(token_tilt([0.5, 0.5], [0.0, 1.0], math.log(3)), [0.25, 0.75])


@pytest.mark.parametrize(("args", "msg"), [
    (([0.5, 0.5], [0, 1], 0), "length"),
    (([0.5, 0.5], [0, 1], 2.5), "length"),
    (([0.5, 0.6], [0, 1], 2), "sum to 1"),
    (([0.5, 0.5], [0, 1, 2], 2), "different lengths"),
    (([0.5, 0.5], [0, float("inf")], 2), "infinite"),
    (([], [], 2), "empty"),
    (([0.25] * 4, [0, 1, math.sqrt(2), math.pi], 5000), "type classes"),
])
def test_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        law_of_sum(*args)


def test_tilted_windows_against_direct_log_convolution():
    """Length 600 with ten token values (5401 levels) goes through the tilted windows; the direct log-space
    convolution (sums of positive terms only) is an independent reference for every level."""
    from lmalign.memoryless import _log_conv_power_direct

    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.full(10, 0.5))
    law = law_of_sum(p, np.arange(10.0), 600)
    assert len(law) == 5401
    ref = _log_conv_power_direct(np.log(p), 600)
    np.testing.assert_allclose(law.logprobs, ref, rtol=0, atol=1e-10)
    assert ref.min() < -1200  # tails far below the smallest float are included


def test_strongly_periodic_law_is_exact():
    """Odd token rewards with tiny probability make every odd total ~1e-5 of its neighbours, which a single
    tilt cannot separate; the result must still match the direct log-space convolution (sums of positive
    terms only) at every level, both at a length under the direct limit and above it."""
    from lmalign.memoryless import _log_conv_power_direct

    p = np.array([1 / 3, 2e-8, 1 / 3, 5e-6, 1 / 3, 5e-6])
    p /= p.sum()
    for n in (820, 3000):
        law = law_of_sum(p, np.arange(6.0), n)
        assert len(law) == 5 * n + 1
        np.testing.assert_allclose(law.logprobs, _log_conv_power_direct(np.log(p), n), rtol=0, atol=1e-10)


def test_all_equal_rewards_give_a_certain_total():
    law = law_of_sum(np.full(7, 1 / 7), np.full(7, 0.5), 30)
    assert law.values.tolist() == [15.0] and law.logprobs.tolist() == [0.0] and law.max_kl == 0.0
