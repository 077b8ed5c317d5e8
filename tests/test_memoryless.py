import itertools
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import prob_vectors

from lmalign import RewardLaw, lattice_sum, memoryless
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
    ref = np.array(
        [float(mp.log(mp.binomial(n, k)) + k * mp.log(mp.mpf(3) / 10) + (n - k) * mp.log(mp.mpf(7) / 10)) for k in ks]
    )
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


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (([0.5, 0.5], [0, 1], 0), "length"),
        (([0.5, 0.5], [0, 1], 2.5), "length"),
        (([0.5, 0.6], [0, 1], 2), "sum to 1"),
        (([0.5, 0.5], [0, 1, 2], 2), "different lengths"),
        (([0.5, 0.5], [0, float("inf")], 2), "infinite"),
        (([], [], 2), "empty"),
        (([0.25] * 4, [0, 1, math.sqrt(2), math.pi], 5000), "type classes"),
    ],
)
def test_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        law_of_sum(*args)


def test_tilted_windows_against_direct_log_convolution():
    """Length 600 with ten token values (5401 levels) goes through the tilted windows; the direct log-space
    convolution (sums of positive terms only) is an independent reference for every level."""
    from lmalign.lattice_sum import _log_conv_power_direct

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
    from lmalign.lattice_sum import _log_conv_power_direct

    p = np.array([1 / 3, 2e-8, 1 / 3, 5e-6, 1 / 3, 5e-6])
    p /= p.sum()
    for n in (820, 3000):
        law = law_of_sum(p, np.arange(6.0), n)
        assert len(law) == 5 * n + 1
        np.testing.assert_allclose(law.logprobs, _log_conv_power_direct(np.log(p), n), rtol=0, atol=1e-10)


def test_all_equal_rewards_give_a_certain_total():
    law = law_of_sum(np.full(7, 1 / 7), np.full(7, 0.5), 30)
    assert law.values.tolist() == [15.0] and law.logprobs.tolist() == [0.0] and law.max_kl == 0.0


@pytest.fixture
def windows_only(monkeypatch):
    """Every law through the windows: no direct convolution, and no fallback to it (a refusal raises)."""
    monkeypatch.setattr(lattice_sum, "DIRECT_MAX_LEVELS", 0)
    monkeypatch.setattr(lattice_sum, "DIRECT_FALLBACK_MAX_LEVELS", 0)


def direct_reference(p, steps, n):
    logq = np.full(int(max(steps)) + 1, -np.inf)
    logq[np.asarray(steps)] = np.log(p)
    ref = lattice_sum._log_conv_power_direct(logq, n)
    return ref[ref > -np.inf]


def test_dominant_token_and_gapped_edges(windows_only):
    """A token of probability 1 - 4e-4 with rare neighbours on a gapped lattice: the levels near n k* come from
    the dominant-token windows, those near the bottom from the edge recurrence (first gap 14)."""
    p = np.array([2.85648338e-04, 9.99634936e-01, 7.94157051e-05])
    p /= p.sum()
    law = law_of_sum(p, [0.0, 14.0, 15.0], 173)
    np.testing.assert_allclose(law.logprobs, direct_reference(p, [0, 14, 15], 173), rtol=0, atol=1e-10)
    p = np.array([1.36559765e-09, 9.99999060e-01, 1.75388973e-10, 8.95370462e-08, 8.43087274e-07, 6.20217064e-09])
    p /= p.sum()
    steps = [0, 2, 5, 8, 11, 15]
    law = law_of_sum(p, np.array(steps, dtype=float), 101)
    np.testing.assert_allclose(law.logprobs, direct_reference(p, steps, 101), rtol=0, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 19), min_size=2, max_size=8, unique=True),
    st.lists(st.floats(-27.0, 0.0), min_size=8, max_size=8),
    st.integers(60, 200),
)
def test_windows_on_gapped_lattices_with_rare_tokens(steps, log_weights, n):
    """Random gapped lattices with probabilities down to 1e-12 (rare tokens, dominant tokens, periodic
    structure), every level through the windows, against the direct log-space convolution."""
    steps = sorted(steps)
    steps = [k - steps[0] for k in steps]
    p = np.exp(np.array(log_weights[: len(steps)]))
    p /= p.sum()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lattice_sum, "DIRECT_MAX_LEVELS", 0)
        patch.setattr(lattice_sum, "DIRECT_FALLBACK_MAX_LEVELS", 0)
        law = law_of_sum(p, np.array(steps, dtype=float), n)
    ref = direct_reference(p, steps, n)
    assert len(law) == ref.size
    np.testing.assert_allclose(law.logprobs, ref, rtol=0, atol=1e-10)


def test_ten_values_top_and_bottom_edges_at_length_ten_thousand():
    """A rare top token (4e-4) makes the top windows strongly tilted (theta about 15): the untilting must not
    lose the rounding of n m. Closed forms for the extreme levels at each end, by mpmath."""
    p = np.array(
        [
            2.57665063e-01,
            1.18490298e-01,
            2.69385701e-01,
            6.06072836e-03,
            2.32883612e-06,
            8.88060955e-02,
            6.66809110e-02,
            9.55634382e-02,
            9.69198459e-02,
            4.25590529e-04,
        ]
    )
    p /= p.sum()
    n = 10_000
    law = law_of_sum(p, np.arange(10.0), n)
    mp.mp.dps = 40
    P = [mp.mpf(float(x)) for x in p]
    ref = {
        0: n * mp.log(P[0]),
        1: mp.log(n) + (n - 1) * mp.log(P[0]) + mp.log(P[1]),
        9 * n: n * mp.log(P[9]),
        9 * n - 1: mp.log(n) + (n - 1) * mp.log(P[9]) + mp.log(P[8]),
        9 * n - 2: mp.log(mp.binomial(n, 2) * P[9] ** (n - 2) * P[8] ** 2 + n * P[9] ** (n - 1) * P[7]),
    }
    for level, value in ref.items():
        assert abs(law.logprobs[level] - float(value)) < 2e-11, level
    assert law.logprobs[9 * n] < -77_000


def test_edge_recurrence_is_the_binomial_law():
    """Miller's recurrence over the whole binomial range (every term positive for a two-point law)."""
    n = 10_000
    g = lattice_sum._log_power_edge(np.log([0.7, 0.3]), n, n + 1)
    mp.mp.dps = 30
    ks = list(range(0, n + 1, 53)) + [n]
    ref = [float(mp.log(mp.binomial(n, k)) + k * mp.log(mp.mpf(3) / 10) + (n - k) * mp.log(mp.mpf(7) / 10)) for k in ks]
    assert np.max(np.abs(g[ks] - np.array(ref))) < 1e-11
    with pytest.raises(AssertionError):  # beyond (n + 1) j1 the recurrence has negative terms
        lattice_sum._log_power_edge(np.log([0.7, 0.3]), 10, 12)


def test_refuses_rather_than_return_an_inaccurate_level(monkeypatch):
    """With the certified windows unable to certify anything (their FFT rounding bound inflated), the float
    windows unable to resolve anything (every class peak counted as underflowed), the dominant-token windows
    disabled and no fallback, the middle levels (beyond the edge recurrences) are refused."""
    from lmalign import lattice_power

    monkeypatch.setattr(lattice_power, "FFT_ROUNDING", 1e12)
    monkeypatch.setattr(lattice_sum, "DIRECT_MAX_LEVELS", 0)
    monkeypatch.setattr(lattice_sum, "DIRECT_FALLBACK_MAX_LEVELS", 0)
    monkeypatch.setattr(lattice_sum, "TINY", 2.0)
    monkeypatch.setattr(lattice_sum, "DOMINANT_MAX_J", 0)
    with pytest.raises(ArithmeticError, match="rare tokens"):
        law_of_sum([0.25] * 4, [0.0, 1.0, 2.0, 3.0], 2000)


def test_token_law_is_renormalised():
    """p summing to 1 + 5e-10 is accepted and renormalised: the law of the sum has mass 1, not (1 + 5e-10)^n."""
    p = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.09, 0.08, 0.07, 0.05, 0.04])
    p[0] += 5e-10
    law = RewardLaw.from_tokens(p, np.arange(10.0), 20_000)
    assert abs(np.logaddexp.reduce(law.logprobs)) < 1e-11
    RewardLaw.from_logprobs(law.values, law.logprobs)  # accepted by the validated constructor


def test_kl_constrained_on_a_token_sum_solves_per_token():
    from lmalign import kl_constrained
    from lmalign.tilting import solve_lambda

    p = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.09, 0.08, 0.07, 0.05, 0.04])
    law = RewardLaw.from_tokens(p, np.arange(10.0), 2000)
    assert law.length == 2000 and len(law.token_law) == 10
    for delta in (0.0, 1e-6, 3.0, 200.0, 1e5):
        sol = kl_constrained(law, delta)
        plain = RewardLaw._trusted(law.values, law.logprobs)  # the same law, without its token law
        lam = solve_lambda(plain, delta)
        assert sol.lam == pytest.approx(lam, rel=1e-9)
        tilted = law.tilt(sol.lam)
        assert np.array_equal(sol.law.values, tilted.values) and np.array_equal(sol.law.logprobs, tilted.logprobs)
        if 0 < delta < law.max_kl:
            assert sol.kl == pytest.approx(delta, rel=1e-9)


def test_near_equal_rewards_share_a_lattice_level():
    law = law_of_sum([0.2, 0.3, 0.5], [0.0, 1.0, 1.0 + 1e-13], 3)
    assert math.fsum(law.probs) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(law.probs, [0.008, 0.096, 0.384, 0.512], rtol=1e-12)


def test_sums_that_overflow_float64_are_refused():
    """Ten rewards near 1e308 sum past the largest double: a ValueError naming r, not inf values and a NaN mean."""
    with pytest.raises(ValueError, match=r"^r: sums of length=10 rewards overflow float64"):
        RewardLaw.from_tokens([0.5, 0.5], [1e308, 1.7e308], 10)
    with pytest.raises(ValueError, match=r"^r: .*overflow"):
        law_of_sum([0.5, 0.5], [-1.7e308, 1e308], 2)
    law = RewardLaw.from_tokens([0.5, 0.5], [1e306, 1.7e306], 10)  # sums up to 1.7e307: fine
    assert np.isfinite(law.values).all() and math.isfinite(law.mean())
    assert law.mean() == pytest.approx(1.35e307, rel=1e-12)
    one = RewardLaw.from_tokens([0.5, 0.5], [-1.7e308, 1.7e308], 1)  # a single token never overflows
    assert one.values.tolist() == [-1.7e308, 1.7e308]


@pytest.mark.parametrize("length", [10**9, 10**30])
def test_lattice_too_large_names_length_and_limit(length):
    """A lattice sum beyond MAX_LEVELS levels (and too many type classes to enumerate) is a work-size error
    naming length and the limit, not a message about non-lattice rewards."""
    with pytest.raises(ValueError, match=rf"^length={length}: .*limit {memoryless.MAX_LEVELS}") as info:
        RewardLaw.from_tokens([0.5, 0.5], [0, 1], length)
    assert "non-lattice" not in str(info.value)


def test_wide_lattice_with_few_values_uses_type_classes():
    """Rewards 0, 1/999, 1/998, 1 lie on a lattice of 997,002 steps: at length 21 that is more than MAX_LEVELS
    levels but only 2,024 count vectors, so the exact type-class law is returned, not an error."""
    r = [0.0, 1 / 999, 1 / 998, 1.0]
    assert 21 * int(lattice_steps(np.array(r))[2][-1]) + 1 > memoryless.MAX_LEVELS
    law = law_of_sum([0.25] * 4, r, 21)
    assert len(law) == 2024 and math.fsum(law.probs) == pytest.approx(1.0, abs=1e-14)
    assert law.logprobs[-1] == pytest.approx(21 * math.log(0.25), abs=1e-12)


def test_zero_probability_token_with_an_outlying_reward():
    """A token of probability 0 whose reward lies outside the others' range does not enter the lattice."""
    law = RewardLaw.from_tokens([0.5, 0.5, 0.0], [0.0, 1.0, 5.0], 3000)
    assert len(law) == 3001 and law.values[-1] == 3000.0
    assert law.logprobs[0] == pytest.approx(3000 * math.log(0.5), abs=1e-10)


@pytest.mark.parametrize("vector_terms", [1, 10**9])
def test_edge_recurrence_blocks_and_levels_agree_within_the_bound(monkeypatch, vector_terms):
    """A gapped law (first step 14): the recurrence by numpy blocks of 14 levels and level by level in Python
    floats both match the direct log-space convolution within _edge_bound."""
    monkeypatch.setattr(lattice_sum, "EDGE_VECTOR_TERMS", vector_terms)
    p = np.array([2.85648338e-04, 9.99634936e-01, 7.94157051e-05])
    p /= p.sum()
    logq = np.full(16, -np.inf)
    logq[[0, 14, 15]] = np.log(p)
    n = 173
    depth = lattice_sum._edge_depth(logq, n)
    g = lattice_sum._log_power_edge(logq, n, depth)
    ref = lattice_sum._log_conv_power_direct(logq, n)[:depth]
    reach = np.isfinite(ref)
    assert (np.isfinite(g) == reach).all() and depth == 14 * 174
    err = np.abs(g[reach] - ref[reach])
    assert (err <= lattice_sum._edge_bound(logq, n, g)[reach] + 2 * np.spacing(np.abs(ref[reach]))).all()
    assert err.max() < 1e-11


def test_moved_lattice_power_names_still_import_with_a_warning():
    from lmalign import lattice_sum as moved

    for name in ("certified_lattice_power", "reachable_totals", "DIRECT_MAX_LEVELS", "EDGE_VECTOR_TERMS"):
        with pytest.warns(DeprecationWarning, match=f"lmalign.lattice_sum.{name}"):
            assert getattr(memoryless, name) is getattr(moved, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        memoryless.no_such_name  # noqa: B018
    with warnings.catch_warnings():  # what stayed is imported as before, silently
        warnings.simplefilter("error")
        from lmalign.memoryless import MAX_LEVELS, TokenSumLaw, lattice_steps, law_of_sum, token_tilt  # noqa: F401
