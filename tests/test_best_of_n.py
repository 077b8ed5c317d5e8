import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from strategies import reward_laws

from lmalign import RewardLaw, best_of_n
from lmalign.best_of_n import BestOfNKernel, bon_kl_bound


@settings(max_examples=60)
@given(reward_laws())
def test_matches_high_precision_formula_and_sums_to_one(law):
    """F^N - F_-^N evaluated with 60 digits (the law's float probabilities taken as exact)."""
    mp.mp.dps = 60
    probs = [mp.mpf(float(x)) for x in law.probs]
    total = mp.fsum(probs)
    cdf = [mp.fsum(probs[: i + 1]) / total for i in range(len(probs))]
    for n in (1, 2, 5, 40):
        bon = best_of_n(law, n=n)
        ref = [float(mp.log(cdf[i] ** n - (cdf[i - 1] ** n if i else 0))) for i in range(len(probs))]
        np.testing.assert_allclose(bon.logprobs, ref, rtol=1e-11, atol=1e-11)
        assert math.fsum(bon.probs) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=60)
@given(reward_laws())
def test_kl_below_the_formula(law):
    """D(BoN||p) <= log N - (N-1)/N for every finite law, ties included (C11)."""
    for n in (2, 3, 10, 100, 10_000):
        assert best_of_n(law, n=n).kl(law) <= bon_kl_bound(n=n) + 1e-12
    # saturation at -log p(top)
    assert best_of_n(law, log_n=500.0).kl(law) == pytest.approx(law.max_kl, rel=1e-12)


def test_huge_n_is_the_top_level():
    law = RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2])
    bon = best_of_n(law, log_n=1e4)
    assert bon.values.tolist() == [2.0]


def test_upper_tail_below_the_smallest_float():
    # top mass e^-3000, N = e^2000: the top gets N p(top) = e^-1000, the middle e^-1001
    law = RewardLaw.from_logprobs([0.0, 1.0, 2.0], [0.0, -3001.0, -3000.0])
    bon = best_of_n(law, log_n=2000.0)
    assert bon.logprobs[2] == pytest.approx(-1000.0, rel=1e-13)
    assert bon.logprobs[1] == pytest.approx(-1001.0, rel=1e-13)
    # N = e^3000: top gets 1 - exp(-1), middle e^-1 (1 - exp(-e^-1))
    bon = best_of_n(law, log_n=3000.0)
    assert bon.logprobs[2] == pytest.approx(math.log(1 - math.exp(-1)), rel=1e-12)
    assert bon.logprobs[1] == pytest.approx(-1 + math.log(1 - math.exp(-math.exp(-1))), rel=1e-12)


def test_many_levels():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(1_000_000))
    law = RewardLaw(np.arange(p.size, dtype=float), p)
    bon = best_of_n(law, log_n=10.0)
    assert math.fsum(bon.probs) == pytest.approx(1.0, abs=1e-12)
    assert bon.kl(law) <= bon_kl_bound(log_n=10.0)


def test_agrees_with_monte_carlo():
    """Each level's frequency in seeded simulated best-of-N is within 5 binomial standard errors."""
    law = RewardLaw([0.0, 1.0, 2.0, 3.0], [0.4, 0.3, 0.2, 0.1])
    n, reps = 4, 200_000
    rng = np.random.default_rng(7)
    draws = rng.choice(law.values, size=(reps, n), p=law.probs).max(axis=1)
    freq = np.array([(draws == v).mean() for v in law.values])
    exact = best_of_n(law, n=n).probs
    se = np.sqrt(exact * (1 - exact) / reps)
    assert np.all(np.abs(freq - exact) <= 5 * se)


def test_random_tie_breaking_over_responses():
    """Simulated best-of-N over responses with tied rewards, ties broken at random, matches
    p(y) (F^N - F_-^N) / (F - F_-)."""
    p = np.array([0.25, 0.15, 0.35, 0.25])
    r = np.array([0.0, 1.0, 1.0, 2.0])
    n, reps = 3, 200_000
    rng = np.random.default_rng(11)
    idx = rng.choice(4, size=(reps, n), p=p)
    rew = r[idx] + rng.random((reps, n)) * 1e-9  # random tie-breaking
    chosen = idx[np.arange(reps), rew.argmax(axis=1)]
    freq = np.bincount(chosen, minlength=4) / reps
    law = RewardLaw(r, p)
    bon = best_of_n(law, n=n)
    level_mass = dict(zip(bon.values, bon.probs, strict=True))
    law_mass = dict(zip(law.values, law.probs, strict=True))
    expected = np.array([p[i] * level_mass[r[i]] / law_mass[r[i]] for i in range(4)])
    se = np.sqrt(expected * (1 - expected) / reps)
    assert np.all(np.abs(freq - expected) <= 5 * se)


def test_bound_formula_for_huge_n():
    assert bon_kl_bound(log_n=1e4) == pytest.approx(1e4 - 1, rel=1e-15)
    assert bon_kl_bound(n=1) == 0.0
    assert bon_kl_bound(n=2) == pytest.approx(math.log(2) - 0.5)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({}, "exactly one"),
        ({"n": 2, "log_n": 1.0}, "exactly one"),
        ({"n": 0}, "n must be"),
        ({"n": 2.5}, "integer"),
        ({"log_n": -1.0}, "log_n"),
        ({"log_n": float("inf")}, "finite"),
        ({"log_n": float("nan")}, "NaN"),
    ],
)
def test_bad_n(kwargs, msg):
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match=msg):
        best_of_n(law, **kwargs)


def test_moderate_n_matches_direct_float_computation():
    law = RewardLaw([0.0, 1.0, 2.5, 4.0], [0.35, 0.3, 0.25, 0.1])
    cdf = np.cumsum(law.probs)
    below = np.concatenate(([0.0], cdf[:-1]))
    for n in (2, 7, 30):
        np.testing.assert_allclose(best_of_n(law, n=n).probs, cdf**n - below**n, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("log_n", [30.0, 200.0, 5000.0])
def test_huge_n_tends_to_the_top_level(log_n):
    """log P(level v) = -N (-log F(v)) + log(1 - (F_-/F)^N) for lower levels: below -1e12 for these N, while the
    top keeps mass 1 - F_-(top)^N and the KL reaches -log p(top)."""
    law = RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2])
    bon = best_of_n(law, log_n=log_n)
    assert bon.logprobs[-1] == 0.0
    cdf = np.cumsum(law.probs)[:-1]
    with np.errstate(over="ignore"):
        expected = -np.exp(log_n + np.log(-np.log(cdf)))  # -inf: mass below exp(-1.8e308), level dropped
    kept = expected > -np.inf
    np.testing.assert_allclose(bon.logprobs[:-1], expected[kept], rtol=1e-13)
    assert bon.values.tolist() == law.values[np.r_[kept, True]].tolist()
    assert bon.kl(law) == pytest.approx(law.max_kl, rel=1e-15)


def test_lower_tail_below_the_smallest_float():
    """CDF within e^-2999 of 0 at the two lowest levels: masses F^N - F_-^N kept in log space, no warning."""
    law = RewardLaw.from_logprobs([0.0, 1.0, 2.0, 3.0], [-3000.0, -2999.0, math.log(0.5), math.log(0.5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bon = best_of_n(law, n=3)
    f1 = np.logaddexp(-3000.0, -2999.0)
    assert bon.logprobs[0] == pytest.approx(-9000.0, rel=1e-14)
    assert bon.logprobs[1] == pytest.approx(3 * f1 + math.log(-math.expm1(3 * (-3000.0 - f1))), rel=1e-14)


@pytest.mark.parametrize("log_n", [0.1, 2.0, 700.0, 709.0, 711.0, 800.0, 5000.0, 3e4, 1e6])
def test_best_of_n_computes_only_the_live_levels_and_drops_no_other(log_n):
    """best_of_n evaluates only the levels where A = N (-log F) can be finite and sums S only from there; the
    kernel evaluates every level. They must keep the same levels with the same log-masses."""
    law = RewardLaw.from_tokens(np.array([205, 154, 123, 102, 102, 92, 82, 72, 51, 41]) / 1024, np.arange(10.0), 3000)
    full = BestOfNKernel(law).log_masses(log_n)
    keep = full > -np.inf
    bon = best_of_n(law, log_n=log_n)
    assert 0 < len(bon) and np.array_equal(bon.values, law.values[keep])
    assert np.array_equal(bon.logprobs, full[keep])
    if log_n > 709.8:  # the live levels are a strict run at the top
        assert len(bon) < len(law)
