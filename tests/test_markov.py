"""Markov sources: the exact law by dynamic programming, the Doob transform, the log spectral radius."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from lmalign import RewardLaw
from lmalign.markov import (
    MarkovSource,
    asymptotic_partition,
    doob_chain,
    doob_kl_rate,
    log_spectral_radius,
    markov_law,
    markov_laws,
    markov_rate,
    perron,
    scaled_cgf_mean,
    scaled_cgf_variance,
    stationary_doob,
    theta_of_rate,
)


@st.composite
def sources(draw, max_states: int = 3, max_reward: int = 3):
    """Random irreducible chains (every transition positive) with integer token rewards."""
    k = draw(st.integers(2, max_states))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.dirichlet(np.ones(k), size=k) * 0.98 + 0.02 / k
    mu = rng.dirichlet(np.ones(k))
    r = rng.integers(0, max_reward + 1, size=k).astype(float)
    if np.ptp(r) == 0:
        r[0] += 1
    return MarkovSource(mu, P, r)


def brute_force_law(source: MarkovSource, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    paths = np.array(list(itertools.product(range(source.states), repeat=n)))
    return paths, source.path_logprob(paths), source.path_reward(paths)


@settings(max_examples=40)
@given(sources(), st.integers(1, 6))
def test_dynamic_program_equals_enumeration(source, n):
    _, logp, total = brute_force_law(source, n)
    exact = RewardLaw.from_logprobs(total, logp - logsumexp(logp))
    law = markov_law(source, n)
    np.testing.assert_array_equal(law.values, exact.values)
    np.testing.assert_allclose(law.logprobs, exact.logprobs, rtol=0, atol=1e-12)


def test_several_lengths_from_one_program():
    src = MarkovSource([0.6, 0.4], [[0.9, 0.1], [0.3, 0.7]], [0.0, 1.0])
    laws = markov_laws(src, [5, 2, 5, 9])
    assert sorted(laws) == [2, 5, 9]
    for n, law in laws.items():
        assert law.kl(markov_law(src, n)) == pytest.approx(0.0, abs=1e-15)


@settings(max_examples=25)
@given(st.integers(2, 5), st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_memoryless_source_gives_the_token_model(k, seed, n):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k))
    r = rng.integers(-2, 3, size=k) * 0.5
    src = MarkovSource.memoryless(p, r)
    law = markov_law(src, n)
    ref = RewardLaw.from_tokens(p, r, n)
    np.testing.assert_allclose(law.values, ref.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(law.logprobs, ref.logprobs, rtol=1e-10, atol=1e-10)
    token = RewardLaw(r, p)
    for t in (-1.3, 0.0, 0.4, 2.0):
        assert log_spectral_radius(src, t) == pytest.approx(token.cgf(t), abs=1e-12)
        assert scaled_cgf_variance(src, t) == pytest.approx(token.tilt(t).var(), rel=1e-9, abs=1e-12)


@settings(max_examples=30)
@given(sources(), st.integers(1, 6), st.floats(-2.0, 2.0))
def test_doob_chain_is_the_tilted_path_law(source, n, lam):
    paths, logp, total = brute_force_law(source, n)
    chain = doob_chain(source, lam, n)
    target = logp + lam * total
    assert chain.log_partition == pytest.approx(float(logsumexp(target)), abs=1e-12)
    np.testing.assert_allclose(chain.path_logprob(paths), target - chain.log_partition, rtol=0, atol=1e-12)
    np.testing.assert_allclose(chain.transitions.sum(axis=2), 1.0, atol=1e-14)
    assert chain.log_partition == pytest.approx(markov_law(source, n).cgf(lam), abs=1e-12)


@settings(max_examples=30)
@given(sources(), st.floats(-2.0, 2.0))
def test_finite_doob_transitions_converge_to_the_stationary_chain(source, lam):
    chain = doob_chain(source, lam, 400)
    np.testing.assert_allclose(chain.transitions[0], stationary_doob(source, lam), rtol=0, atol=1e-12)


def two_state_log_rho(a: float, b: float, r0: float, r1: float, t: float) -> float:
    """Larger root of x^2 - tr x + det for P_t = [[1-a, a], [b, 1-b]] diag(e^{t r0}, e^{t r1})."""
    e0, e1 = math.exp(t * r0), math.exp(t * r1)
    tr = (1 - a) * e0 + (1 - b) * e1
    det = (1 - a - b) * e0 * e1
    return math.log((tr + math.sqrt(tr * tr - 4 * det)) / 2)


@settings(max_examples=40)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.floats(-3, 3), st.floats(-3, 3), st.floats(-2, 2))
def test_two_state_closed_form(a, b, r0, r1, t):
    src = MarkovSource([0.5, 0.5], [[1 - a, a], [b, 1 - b]], [r0, r1])
    assert log_spectral_radius(src, t) == pytest.approx(two_state_log_rho(a, b, r0, r1, t), abs=1e-12)
    # Lambda'(0) is the stationary mean; Lambda''(0) the asymptotic variance (r1-r0)^2 ab(2-a-b)/(a+b)^3
    assert scaled_cgf_mean(src, 0.0) == pytest.approx((b * r0 + a * r1) / (a + b), abs=1e-12)
    expected = (r1 - r0) ** 2 * a * b * (2 - a - b) / (a + b) ** 3
    assert scaled_cgf_variance(src, 0.0) == pytest.approx(expected, rel=1e-9, abs=1e-13)


@settings(max_examples=30)
@given(sources(), st.floats(-1.5, 1.5))
def test_derivatives_and_kl_rate(source, t):
    h = 1e-4
    lam = [log_spectral_radius(source, t + j * h) for j in (-2, -1, 0, 1, 2)]
    d1 = (lam[0] - 8 * lam[1] + 8 * lam[3] - lam[4]) / (12 * h)
    d2 = (-lam[0] + 16 * lam[1] - 30 * lam[2] + 16 * lam[3] - lam[4]) / (12 * h * h)
    assert scaled_cgf_mean(source, t) == pytest.approx(d1, abs=1e-8)
    assert scaled_cgf_variance(source, t) == pytest.approx(d2, abs=1e-5)
    assert doob_kl_rate(source, t) == pytest.approx(t * scaled_cgf_mean(source, t) - lam[2], abs=1e-12)


@settings(max_examples=20)
@given(sources(), st.floats(-1.0, 1.0))
def test_partition_function_asymptotics(source, lam):
    law = markov_law(source, 300)
    assert law.cgf(lam) - 300 * log_spectral_radius(source, lam) == pytest.approx(
        asymptotic_partition(source, lam), abs=1e-9
    )


@settings(max_examples=20)
@given(sources(), st.floats(-1.5, 1.5))
def test_rate_function_is_the_legendre_transform(source, theta):
    x = scaled_cgf_mean(source, theta)
    assert theta_of_rate(source, x) == pytest.approx(theta, abs=1e-7)
    rate = markov_rate(source, x)
    grid = np.linspace(theta - 1, theta + 1, 201)
    assert rate >= max(g * x - log_spectral_radius(source, g) for g in grid) - 1e-12
    assert markov_rate(source, scaled_cgf_mean(source, 0.0)) == pytest.approx(0.0, abs=1e-12)


def test_sampling_matches_the_exact_means():
    src = MarkovSource([0.2, 0.5, 0.3], [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]], [0.0, 1.0, 2.0])
    rng = np.random.default_rng(7)
    n, m = 20, 20000
    for lam, draw in ((0.0, lambda: src.sample(n, m, rng)), (0.8, lambda: doob_chain(src, 0.8, n).sample(m, rng))):
        law = markov_law(src, n).tilt(lam)
        totals = src.path_reward(draw())
        assert abs(totals.mean() - law.mean()) < 5 * math.sqrt(law.var() / m)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="transition must be a 2 x 2"):
        MarkovSource([0.5, 0.5], [[1.0]], [0, 1])
    with pytest.raises(ValueError, match="transition row 1"):
        MarkovSource([0.5, 0.5], [[0.5, 0.5], [0.5, 0.6]], [0, 1])
    with pytest.raises(ValueError, match="initial"):
        MarkovSource([0.5, 0.6], [[0.5, 0.5], [0.5, 0.5]], [0, 1])
    with pytest.raises(ValueError, match="reward"):
        MarkovSource([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [0, 1, 2])
    with pytest.raises(ValueError, match="lattice"):
        markov_law(MarkovSource(np.ones(3) / 3, np.ones((3, 3)) / 3, [0, 1, math.pi]), 3)
    src = MarkovSource([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [0, 1])
    with pytest.raises(ValueError, match="length"):
        markov_law(src, 0)
    with pytest.raises(ValueError, match="lengths"):
        markov_laws(src, [10**6])
    with pytest.raises(ValueError, match="irreducible"):
        perron(MarkovSource([0.5, 0.5], [[1.0, 0.0], [0.0, 1.0]], [0, 1]), 0.5)
    with pytest.raises(ValueError, match="outside the range"):
        theta_of_rate(src, 1.5)
    with pytest.raises(ValueError, match="paths"):
        src.path_logprob(np.array([[0, 2]]))


def test_period_of_a_chain():
    from lmalign.markov import period

    assert period(MarkovSource([0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], [0, 1])) == 2
    cycle3 = np.roll(np.eye(3), 1, axis=1)
    assert period(MarkovSource(np.ones(3) / 3, cycle3, [0, 1, 2])) == 3
    # a zero diagonal is not periodicity: cycles of lengths 2 and 3 give gcd 1
    assert period(MarkovSource([0.5, 0.5], [[0.0, 1.0], [0.5, 0.5]], [0, 1])) == 1
    with pytest.raises(ValueError, match="irreducible"):
        period(MarkovSource([0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]], [0, 1]))


def test_limit_functions_refuse_a_periodic_chain():
    # the flip chain alternates states, so log E e^{tR_n} - n Lambda(t) alternates with the parity of n
    flip = MarkovSource([0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], [0, 1])
    gaps = [markov_law(flip, n).cgf(2.0) - n * 1.0 for n in (100, 101, 1000, 1001)]  # Lambda(2) = 2/2
    assert abs(gaps[0] - gaps[1]) > 0.2 and gaps[0] == pytest.approx(gaps[2], abs=1e-9)
    calls = [
        lambda: perron(flip, 0.5),
        lambda: log_spectral_radius(flip, 0.5),
        lambda: scaled_cgf_mean(flip, 0.5),
        lambda: scaled_cgf_variance(flip, 0.5),
        lambda: stationary_doob(flip, 0.5),
        lambda: asymptotic_partition(flip, 0.5),
        lambda: doob_kl_rate(flip, 0.5),
        lambda: markov_rate(flip, 0.7),
        lambda: theta_of_rate(flip, 0.7),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="periodic"):
            call()
    # the exact finite-length computations and the stationary law do not need aperiodicity
    np.testing.assert_allclose(flip.stationary(), [0.5, 0.5], atol=1e-12)
    assert markov_law(flip, 5).values.tolist() == [2.0, 3.0]
    assert doob_chain(flip, 0.5, 5).transitions.shape == (4, 2, 2)
    aperiodic = MarkovSource([0.5, 0.5], [[0.0, 1.0], [0.5, 0.5]], [0, 1])
    assert markov_law(aperiodic, 400).cgf(0.5) - 400 * log_spectral_radius(aperiodic, 0.5) == pytest.approx(
        asymptotic_partition(aperiodic, 0.5), abs=1e-9
    )
