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


# -- the lattice of the additive reward: hidden periods -------------------------------------------------------------
def _support_by_end(P: np.ndarray, r: np.ndarray, start: int, n: int) -> list[set[int]]:
    """Totals of length-n paths from `start`, by last state, by exact integer sets (independent of the library)."""
    k = len(r)
    sets = [set() for _ in range(k)]
    sets[start].add(int(r[start]))
    for _ in range(n - 1):
        new = [set() for _ in range(k)]
        for s in range(k):
            for s2 in range(k):
                if P[s, s2] > 0:
                    new[s2].update(v + int(r[s2]) for v in sets[s])
        sets = new
    return sets


def brute_hidden_period(P: np.ndarray, r: np.ndarray) -> tuple[int, int]:
    """(span H, number of cosets of H Z the totals from state 0 occupy by last state) from exact supports: H is the
    gcd of the differences of totals with the same first and last state, at a length where every cycle fits."""
    k = len(r)
    n = k * k + 2 * k
    sets = _support_by_end(P, r, 0, n)
    span = 0
    for totals in sets:
        lo = min(totals)
        for v in totals:
            span = math.gcd(span, v - lo)
    if span == 0:  # every total fixed by its end state: bounded fluctuations
        return 0, 0
    return span, len({min(totals) % span for totals in sets})


def constructed_hidden_period_source(rng: np.random.Generator, k: int, m: int) -> MarkovSource:
    """A random primitive chain whose integer reward has a hidden period: classes c(s) in Z_m, each state s' reached
    only from the class q(s') and rewarded r(s') = q(s') - c(s') mod m (plus a multiple of m), so that
    r(s') + c(s') - c(s) is in mZ on every transition, and every class is used."""
    for _ in range(1000):
        c = np.concatenate([np.arange(m), rng.integers(0, m, size=k - m)])
        q = rng.integers(0, m, size=k)
        r = (q - c) % m + m * rng.integers(0, 2, size=k)
        allowed = (c[:, None] == q[None, :]) & (rng.random((k, k)) < 0.8)
        if not allowed.any(axis=1).all():
            continue
        P = np.where(allowed, rng.random((k, k)) + 0.1, 0.0)
        P /= P.sum(axis=1, keepdims=True)
        src = MarkovSource(np.ones(k) / k, P, r.astype(float))
        try:
            if period(src) == 1:
                return src
        except ValueError:  # not irreducible
            continue
    raise AssertionError("no primitive chain drawn")


from lmalign.markov import (  # noqa: E402
    hidden_period,
    kl_rate_multiplier,
    lattice_classes,
    markov_bon_expansion,
    markov_log_tail,
    period,
    reward_lattice,
)


def test_the_hidden_period_of_the_audit_chain():
    src = MarkovSource([1.0, 0.0, 0.0], [[0.7, 0.3, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], [0.0, 1.0, 1.0])
    lat = reward_lattice(src)
    assert (lat.span, lat.hidden_period) == (2.0, 2)
    assert brute_hidden_period(src.transition, src.reward) == (2, 2)
    # the single-coset formula (step 1, constant log c) alternates with the parity of the total; the coset form
    # decays like 1/n
    x = scaled_cgf_mean(src, 0.5)
    errs, old = [], []
    laws = markov_laws(src, [1200, 1201, 2400, 2401])
    for n, law in laws.items():
        s = float(law.values[np.searchsorted(law.values, n * x)])
        exact = float(logsumexp(law.logprobs[np.searchsorted(law.values, s) :]))
        th = theta_of_rate(src, s / n)
        sig = math.sqrt(scaled_cgf_variance(src, th))
        single = (
            asymptotic_partition(src, th)
            + n * log_spectral_radius(src, th)
            - th * s
            - math.log(sig * math.sqrt(2 * math.pi * n) * -math.expm1(-th))
        )
        old.append(exact - single)
        errs.append(exact - markov_log_tail(src, n, s))
    assert max(old) > 0.05 and min(old) < -0.05  # the hidden period: an oscillation that does not decay
    assert max(abs(e) for e in errs[2:]) < 0.6 * max(abs(e) for e in errs[:2])  # O(1/n)
    assert max(abs(e) for e in errs) < 0.02


@pytest.mark.parametrize("m", [2, 3])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), extra=st.integers(2, 4))
def test_constructed_hidden_periods_are_found(m, seed, extra):
    src = constructed_hidden_period_source(np.random.default_rng(seed), m + extra, m)
    lat = reward_lattice(src)
    span, cosets = brute_hidden_period(src.transition, src.reward)
    if span == 0:
        assert math.isinf(lat.span) and lat.hidden_period == 0
        return
    assert cosets >= 2 and span % m == 0
    assert (lat.span, lat.hidden_period) == (float(span), cosets)
    # the potential's law: r(s') + c(s') - c(s) - a is a multiple of the span on every transition
    s, s2 = np.nonzero(src.transition)
    defect = src.reward[s2] + lat.potential[s2] - lat.potential[s] - lat.offset
    np.testing.assert_allclose(np.round(defect / lat.span) * lat.span, defect, atol=1e-9)
    # float rewards: the same chain with rewards scaled by an irrational number
    scaled = MarkovSource(src.initial, src.transition, src.reward * math.pi)
    assert reward_lattice(scaled).hidden_period == cosets
    assert reward_lattice(scaled).span == pytest.approx(span * math.pi, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 5), sparsity=st.sampled_from([0.0, 0.4, 0.6]))
def test_hidden_period_agrees_with_exact_supports(seed, k, sparsity):
    """Random primitive chains, sparse (some with hidden periods by chance) or dense (none possible: self-loops)."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        P = rng.random((k, k)) * (rng.random((k, k)) >= sparsity)
        r = rng.integers(0, 4, size=k)
        if P.sum(axis=1).all() and np.ptp(r) > 0:
            src = MarkovSource(np.ones(k) / k, P / P.sum(axis=1, keepdims=True), r.astype(float))
            try:
                if period(src) == 1:
                    break
            except ValueError:
                continue
    else:
        pytest.skip("no primitive chain drawn")
    span, cosets = brute_hidden_period(src.transition, src.reward)
    lat = reward_lattice(src)
    assert (lat.span, lat.hidden_period) == ((float(span), cosets) if span else (math.inf, 0))
    if sparsity == 0.0:
        assert hidden_period(src) == 1


def test_non_lattice_and_degenerate_rewards():
    P = [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]]
    irrational = MarkovSource(np.ones(3) / 3, P, [0.0, 1.0, math.sqrt(2)])
    assert reward_lattice(irrational).span == 0.0
    with pytest.raises(ValueError, match="non-lattice"):
        hidden_period(irrational)
    # a lattice of float rewards off by rounding only
    noisy = MarkovSource(np.ones(3) / 3, P, [0.1, 0.2 + 1e-15, 0.30000000000000004])
    assert reward_lattice(noisy).span == pytest.approx(0.1, rel=1e-9) and hidden_period(noisy) == 1
    # r(s') = c(s') - c(s) + a exactly: a deterministic cycle with a self-loop where every cycle has mean reward a
    coboundary = MarkovSource([1.0, 0.0], [[0.5, 0.5], [1.0, 0.0]], [1.0, 1.0])
    assert math.isinf(reward_lattice(coboundary).span)
    with pytest.raises(ValueError, match="coboundary"):
        lattice_classes(coboundary, 0.5, 10)


def test_the_coset_expansions_reduce_to_the_single_lattice():
    from lmalign.best_of_n import lattice_gumbel

    src = MarkovSource([0.5, 0.3, 0.2], [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]], [0.0, 1.0, 2.0])
    for delta, n in ((0.05, 500), (0.3, 2000)):
        e = markov_bon_expansion(src, delta, n)
        assert e.lam * scaled_cgf_mean(src, e.lam) - log_spectral_radius(src, e.lam) == pytest.approx(delta, abs=1e-13)
        u_bar, entropy = lattice_gumbel(e.lam, e.sigma, 1.0, n, e.x_star, 0.0, log_shift=e.log_c)
        assert e.u_bar == pytest.approx(u_bar, abs=1e-10) and e.entropy == pytest.approx(entropy, abs=1e-10)
        assert e.log_c == pytest.approx(asymptotic_partition(src, e.lam), abs=1e-13)


def test_multiplier_from_the_chain_not_a_fixed_grid():
    src = MarkovSource([1 / 3] * 3, [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]], [0.0, 1.0, 3.0])
    for delta in (0.1, 0.25, 0.6):
        lam = kl_rate_multiplier(src, delta)
        assert doob_kl_rate(src, lam) == pytest.approx(delta, rel=1e-12)
    # the largest rate is -log P(2, 2) (staying on the top reward): above it, a clear error
    with pytest.raises(ValueError, match="delta"):
        kl_rate_multiplier(src, -math.log(0.5) + 0.01)


def test_the_sweep_bounds_the_entries_of_its_chains():
    """'sweep in' on a stochastic matrix bounds the nonzero entries the sweep draws: every cycle then has mean
    log-probability at most log 0.9, so the largest relative entropy rate exceeds -log 0.9 > 0.1."""
    import random

    from lmalign.book import parameters

    spec = parameters.parse_spec("stochastic matrix, primitive, size in [2, 4], sweep in (0, 0.9]")
    rng = random.Random(3)
    for _ in range(30):
        rows = parameters.draw_one(spec, rng, {})
        assert all(x <= 0.9 for row in rows for x in row) and parameters.problem(rows, spec) == ""
        src = MarkovSource(np.ones(len(rows)) / len(rows), rows, np.arange(len(rows), dtype=float))
        assert kl_rate_multiplier(src, 0.1) > 0
    unbounded = parameters.parse_spec("stochastic matrix, primitive, size in [3, 3]")
    assert any(max(map(max, parameters.draw_one(unbounded, rng, {}))) > 0.9 for _ in range(200))
