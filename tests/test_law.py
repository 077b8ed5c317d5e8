import math

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import random_policy_on, reward_laws

from lmalign import RewardLaw


def test_merges_sorts_and_drops_zero_mass():
    law = RewardLaw([2.0, 0.0, 2.0, 1.0, 5.0], [0.1, 0.2, 0.3, 0.4, 0.0])
    np.testing.assert_array_equal(law.values, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(law.probs, [0.2, 0.4, 0.4], rtol=1e-15)


@pytest.mark.parametrize(
    ("values", "probs", "msg"),
    [
        ([0, 1], [0.5, -0.5], "negative"),
        ([0, 1], [0.5, float("nan")], "NaN"),
        ([0, 1], [0.5, float("inf")], "infinite"),
        ([0, 1], [0.5, 0.4], "sum to 1"),
        ([0, 1, 2], [0.5, 0.5], "different lengths"),
        ([], [], "empty"),
        ([0, float("nan")], [0.5, 0.5], "values contains NaN"),
    ],
)
def test_bad_input_names_the_problem(values, probs, msg):
    with pytest.raises(ValueError, match=msg):
        RewardLaw(values, probs)


def test_from_logprobs_validates():
    with pytest.raises(ValueError, match="sum"):
        RewardLaw.from_logprobs([0, 1], [-1.0, -1.0])
    law = RewardLaw.from_logprobs([0, 1], [-1e-300, -np.inf])
    assert len(law) == 1


def test_from_samples_is_the_empirical_law():
    law = RewardLaw.from_samples([3, 1, 3, 3])
    np.testing.assert_array_equal(law.values, [1, 3])
    np.testing.assert_allclose(law.probs, [0.25, 0.75])
    with pytest.raises(ValueError, match="rewards contains NaN"):
        RewardLaw.from_samples([1.0, float("nan")])


@given(reward_laws())
def test_moments_against_direct_sums(law):
    p, v = law.probs, law.values
    assert law.mean() == pytest.approx(float(np.sum(p * v)), abs=1e-12)
    assert law.var() == pytest.approx(float(np.sum(p * v * v) - np.sum(p * v) ** 2), abs=1e-9)
    t = 0.7
    assert law.cgf(t) == pytest.approx(math.log(float(np.sum(p * np.exp(t * v)))), rel=1e-12)


@given(reward_laws())
def test_cdf_and_tail_are_complementary(law):
    cdf = np.exp(law.log_cdf())
    sf = np.exp(law.log_sf())
    np.testing.assert_allclose(cdf + sf, 1.0, rtol=1e-12)
    np.testing.assert_allclose(cdf, np.cumsum(law.probs), rtol=1e-12)


def test_tail_keeps_mass_far_below_the_smallest_float():
    law = RewardLaw.from_logprobs([0.0, 1.0, 2.0], [0.0, -2000.0, -2000.0])
    assert law.log_sf()[1] == pytest.approx(-2000.0, rel=1e-15)
    assert law.log_sf()[0] == pytest.approx(-2000.0 + math.log(2), rel=1e-15)


@settings(max_examples=50)
@given(reward_laws())
def test_tilt_is_normalised_and_kl_is_nonnegative(law):
    for lam in (-2.0, 1e-9, 0.3, 5.0):
        t = law.tilt(lam)
        assert math.fsum(t.probs) == pytest.approx(1.0, abs=1e-12)
        assert t.kl(law) >= 0.0
    assert law.tilt(math.inf).values.tolist() == [law.top]


def test_small_tilt_kl_keeps_relative_precision():
    law = RewardLaw([0.0, 1.0, 2.0], [0.3, 0.3, 0.4])
    lam = 1e-7
    # D(p_lam || p) = lam^2 Var/2 + O(lam^3)
    assert law.tilt(lam).kl(law) == pytest.approx(lam**2 * law.var() / 2, rel=1e-6)


def test_kl_infinite_without_absolute_continuity():
    a = RewardLaw([0.0, 1.0], [0.5, 0.5])
    b = RewardLaw([0.0], [1.0])
    assert a.kl(b) == math.inf
    assert b.kl(a) == pytest.approx(math.log(2), rel=1e-15)


@settings(max_examples=40)
@given(reward_laws())
def test_kl_agrees_with_the_plain_formula(law):
    rng = np.random.default_rng(0)
    q = random_policy_on(law, rng)
    direct = float(np.sum(q.probs * (q.logprobs - law.logprobs)))
    assert q.kl(law) == pytest.approx(direct, rel=1e-9, abs=1e-14)
