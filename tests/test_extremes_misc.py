"""Extreme inputs of the divergences, transforms, Markov sources, LDP rates and best-of-N: every public
function returns the right value (checked against mpmath at high precision) or a ValueError naming the
argument."""

import math

import mpmath as mp
import numpy as np
import pytest
from mp_rates import mp_kappa, mp_rate

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
PAIRS = [
    ([0.5, 0.5], [0.2, 0.8]),
    ([0.2, 0.8], [0.5, 0.5]),
    ([0.1, 0.3, 0.6], [0.6, 0.3, 0.1]),
    ([1 - 1e-12, 1e-12], [0.5, 0.5]),
    ([0.5, 0.5, 0.0], [0.2, 0.3, 0.5]),
    ([0.1, 0.9], [1e-200, 1.0]),
]


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
    """Relative error of a float against an mpmath value; a reference below the smallest normal float must
    come out below it too (0 is the float's right answer for e^(-3e21))."""
    if abs(ref) < 2.2250738585072014e-308:
        return 0.0 if abs(got) < 2.2250738585072014e-308 else math.inf
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


# -- transforms ------------------------------------------------------------------------------------------------
from lmalign import best_of_n  # noqa: E402
from lmalign.transforms import (  # noqa: E402
    MAX_SOFT_LEVELS,
    log_power_mean_calibration,
    soft_best_of_n,
    transform_policy,
    win_rate,
)

HUGE = RewardLaw([-1e308, 0.0, 1e308], [0.2, 0.3, 0.5])


def _soft_enumeration(values, probs, n, beta):
    """Soft best-of-n by enumerating the n-tuples in mpmath (weights exp(v / beta) relative to the top)."""
    import itertools

    with mp.workdps(50):
        v = [mp.mpf(float(x)) for x in values]
        w = [mp.exp((x - v[-1]) / mp.mpf(beta)) for x in v]
        out = [mp.mpf(0)] * len(v)
        for idx in itertools.product(range(len(v)), repeat=n):
            pr = mp.fprod(mp.mpf(float(probs[i])) for i in idx)
            total = mp.fsum(w[i] for i in idx)
            for i in idx:
                out[i] += pr * w[i] / total
        return out


@pytest.mark.parametrize("n, beta", [(2, 1.0), (3, 1e-300), (3, 1e300), (2, 1.7e308), (4, 1e308)])
def test_soft_best_of_n_with_values_near_the_float_limit(n, beta):
    # it raised IndexError: (v - top) / beta overflowed to -inf and the log ratios became NaN
    got = soft_best_of_n(HUGE, n, beta)
    ref = _soft_enumeration(HUGE.values, HUGE.probs, n, beta)
    np.testing.assert_allclose(got.probs, [float(x) for x in ref], rtol=1e-9)


def test_soft_best_of_n_extreme_n_and_beta():
    law = RewardLaw([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])
    assert soft_best_of_n(HUGE, 1, 1.0) is HUGE
    # n -> inf at fixed beta: the tilt p_{1/beta}, to O(1/n)
    np.testing.assert_allclose(soft_best_of_n(law, 10**18, 0.5).probs, law.tilt(2.0).probs, rtol=1e-9)
    # beta -> 0: best-of-N
    np.testing.assert_allclose(soft_best_of_n(law, 3, 1e-300).probs, best_of_n(law, n=3).probs, rtol=1e-12)
    # beta -> inf: the reference law itself
    np.testing.assert_allclose(soft_best_of_n(law, 7, 1e300).probs, law.probs, rtol=1e-12)
    # n = 1e300 with infinite weight ratios: everything on the top level, the rest e^(-1e300 log 2)
    top = soft_best_of_n(RewardLaw([-1e308, 1e308], [0.5, 0.5]), 10**300, 1.0)
    assert top.probs[-1] == 1.0 and top.logprobs[0] == pytest.approx(10**300 * math.log(0.5), rel=1e-9)


def test_soft_best_of_n_refuses_what_it_cannot_resolve():
    with pytest.raises(ValueError, match="n must be at most"):
        soft_best_of_n(HUGE, 10**301, 1.0)
    with pytest.raises(ValueError, match="law has"):
        soft_best_of_n(RewardLaw(np.arange(MAX_SOFT_LEVELS + 1.0), np.full(MAX_SOFT_LEVELS + 1, 1.0 / 101)), 2, 1.0)
    # the mass of the bottom level, e^(-n log 2) with n = 1e300, lies below the resolution e^(-2e298) of
    # the weight ratio: a ValueError naming beta, not a wrong logarithm
    with pytest.raises(ValueError, match="beta"):
        soft_best_of_n(RewardLaw([-1e308, 1e308], [0.5, 0.5]), 10**300, 1e10)


def test_transform_policy_near_the_float_limit():
    sharp = transform_policy(HUGE, lambda v: v, 1e-300)  # weight ratios exp(1e608): the top level
    assert sharp.values.tolist() == [1e308] and sharp.probs[0] == 1.0
    soft = transform_policy(HUGE, lambda v: v, 1e308)  # weight ratios e^(+-1): no overflow of v - max v
    with mp.workdps(30):
        w = [mp.mpf(0.2) * mp.e**-2, mp.mpf(0.3) * mp.e**-1, mp.mpf(0.5)]
        ref = [float(x / mp.fsum(w)) for x in w]
    np.testing.assert_allclose(soft.probs, ref, rtol=1e-14)
    with pytest.raises(ValueError, match="transform"):
        transform_policy(HUGE, lambda v: np.full(v.shape, -np.inf), 1.0)


def _ref_log_u(log_p_tail, p_cell, n):
    """log u_N for a cell (F - p, F] with F = 1 - tail, in mpmath: ((F^N - F_-^N) / (N p))^(1/(N-1))."""
    with mp.workdps(700):
        F = 1 - mp.exp(mp.mpf(log_p_tail)) if log_p_tail > -math.inf else mp.mpf(1)
        p = mp.mpf(p_cell)
        return (mp.log(F**n - (F - p) ** n) - mp.log(n) - mp.log(p)) / (n - 1)


@pytest.mark.parametrize("n", [2, 3, 1000, 10**18, 10**300])
def test_log_power_mean_calibration_top_cell_of_mass_e_minus_700(n):
    eps = math.exp(-700.0)
    law = RewardLaw.from_logprobs([0.0, 1.0], [math.log1p(-eps), -700.0])
    got = log_power_mean_calibration(law, n)
    # the top cell: log u_N ~ -eps/2 = -5e-305 (it was 0, or +1e-31 at n = 1e18)
    assert _rel(got[1], _ref_log_u(-math.inf, eps, n)) < 1e-12
    with mp.workdps(700):
        ref0 = mp.log(1 - mp.mpf(eps)) - mp.log(n) / (n - 1)
    assert _rel(got[0], ref0) < 1e-12
    with pytest.raises(ValueError, match="n must be at most"):
        log_power_mean_calibration(law, 10**301)


def test_win_rate_with_tiny_masses():
    a = RewardLaw.from_logprobs([0.0, 1.0], [math.log1p(-1e-300), math.log(1e-300)])
    b = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with mp.workdps(700):
        pa = mp.mpf(1e-300)
        ref = (1 - pa) * mp.mpf(0.25) + pa * mp.mpf(0.75)
    assert _rel(win_rate(a, b), ref) < 1e-14
    assert _rel(win_rate(b, a), 1 - ref) < 1e-14


# -- large deviations ------------------------------------------------------------------------------------------
from lmalign.ldp import (  # noqa: E402
    MAX_CUMULANT_ORDER,
    aligned_rate,
    cgf_derivative,
    cramer_rate,
    scaled_cgf,
    theta_of_mean,
)

THREE = RewardLaw([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    "lam, x", [(0.0, 1.0), (0.0, 2 - 1e-12), (0.0, 2 - 2**-52), (0.0, 1e-12), (3.0, 1.0), (-50.0, 1.9)]
)
def test_rate_and_theta_against_mpmath(lam, x):
    ref, theta = mp_rate(THREE, lam, x)
    for form in ("kl", "legendre", "shift"):
        assert _rel(aligned_rate(THREE, lam, x, form=form), ref) < 1e-12, form
    assert _rel(theta_of_mean(THREE, x), theta) < 1e-12


def test_rates_of_values_near_the_float_limit():
    # "math domain error" before: the span 2e308 overflowed; the rate is invariant under R -> R/2
    huge = RewardLaw([-1e308, 0.0, 1e308], [0.2, 0.3, 0.5])
    unit = RewardLaw([-1.0, 0.0, 1.0], [0.2, 0.3, 0.5])
    for x in (0.0, -0.75, 0.999):
        assert cramer_rate(huge, x * 1e308) == pytest.approx(cramer_rate(unit, x), rel=1e-13)
        assert theta_of_mean(huge, x * 1e308) * 1e308 == pytest.approx(theta_of_mean(unit, x), rel=1e-13)
    assert cramer_rate(huge, 1e308) == pytest.approx(-math.log(0.5), rel=1e-15)
    assert aligned_rate(huge, 2e-308, 0.0) == pytest.approx(aligned_rate(unit, 2.0, 0.0), rel=1e-13)
    with pytest.raises(ValueError, match="lam"):
        aligned_rate(huge, 1e308, 0.0)


def test_rates_and_scaled_cgf_at_huge_tilts():
    # lam = +-1e300: I_lam(x) = I_0(x) - lam x + kappa(lam) ~ lam (top - x) or lam (x - bottom)
    for lam, x, ref in ((1e300, 0.5, 1.5e300), (1e300, 1.5, 0.5e300), (-1e300, 1.5, 1.5e300)):
        assert aligned_rate(THREE, lam, x) == pytest.approx(ref, rel=1e-14)
    # kappa(lam + t) - kappa(lam): lam = -1e300, t = 1e300 is kappa(0) - kappa(-1e300) = -log p(bottom)
    # (it was 0: the tilted law's log-probabilities had lost their O(1) parts)
    assert scaled_cgf(THREE, -1e300, 1e300) == pytest.approx(-math.log(0.2), rel=1e-14)
    assert scaled_cgf(THREE, 1e300, 1.0) == pytest.approx(2.0, rel=1e-15)
    assert scaled_cgf(THREE, 1e300, -1e300) == pytest.approx(-2e300, rel=1e-15)
    with mp.workdps(700):
        for t in (1e-300, -1e-8, 0.3, 5.0):
            ref = mp_kappa(THREE, mp.mpf(t)) - mp_kappa(THREE, 0)
            assert _rel(scaled_cgf(THREE, 0.0, t), ref) < 1e-14, t


def _ref_cumulant(law, lam, k):
    """k! [h^k] log M(h), M(h) = E_{p_lam} e^{h R} = sum_j a_j h^j, by the log-series recursion
    l_j = a_j - (1/j) sum_{i<j} i l_i a_{j-i} at 600 digits (another route than the library's)."""
    with mp.workdps(600):
        w = [
            mp.exp(mp.mpf(float(a)) + mp.mpf(lam) * mp.mpf(float(b)))
            for a, b in zip(law.logprobs, law.values, strict=True)
        ]
        total = mp.fsum(w)
        a = [
            mp.fsum(wi * mp.mpf(float(b)) ** j for wi, b in zip(w, law.values, strict=True)) / total / mp.factorial(j)
            for j in range(k + 1)
        ]
        ell = [mp.mpf(0)] * (k + 1)
        for j in range(1, k + 1):
            ell[j] = a[j] - mp.fsum(i * ell[i] * a[j - i] for i in range(1, j)) / j
        return ell[k] * mp.factorial(k)


@pytest.mark.parametrize(
    "law", [THREE, RewardLaw([0.0, 1.0], [1 - 1e-10, 1e-10]), RewardLaw([0.0, 1.0, 100.0], [0.3, 0.3, 0.4])]
)
def test_cumulants_of_high_order_against_mpmath(law):
    # the float recursion returned NaN at k = 400 (inf - inf): now exact to 1e-15 or a ValueError naming k
    for k in (3, 6, 40, 150):
        ref = _ref_cumulant(law, 0.7, k)
        if abs(ref) > 1e308:
            with pytest.raises(ValueError, match=f"k={k}"):
                cgf_derivative(law, 0.7, k)
        else:
            assert _rel(cgf_derivative(law, 0.7, k), ref) < 1e-13, k
    with pytest.raises(ValueError, match="k must be at most"):
        cgf_derivative(law, 0.0, MAX_CUMULANT_ORDER + 1)


def test_cumulants_at_huge_tilts_and_values():
    # at lam = 1e300 the tilt sits on the top level: every cumulant of order >= 2 is ~ e^-1e300
    assert cgf_derivative(THREE, 1e300, 2) == 0.0 and cgf_derivative(THREE, 1e300, 5) == 0.0
    symmetric = RewardLaw([-1.0, 0.0, 1.0], [0.25, 0.5, 0.25])
    assert cgf_derivative(symmetric, 0.0, 7) == 0.0  # odd cumulants of a symmetric law
    with pytest.raises(ValueError, match="k=2"):
        cgf_derivative(RewardLaw([-1e308, 1e308], [0.5, 0.5]), 0.0, 2)


# -- Markov sources: work-size guards ----------------------------------------------------------------------------
from lmalign import markov  # noqa: E402
from lmalign.markov import MarkovSource, doob_chain, markov_law, markov_laws  # noqa: E402

SOURCE = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])


def test_markov_guards_refuse_before_allocating():
    # 10**9 steps tried to allocate 30 GiB, 10**7 ran for 825 s; the sample raised an empty MemoryError
    with pytest.raises(ValueError, match="length.*MAX_PATH_LENGTH"):
        doob_chain(SOURCE, 1.0, 10**9)
    with pytest.raises(ValueError, match="length.*MAX_PATH_LENGTH"):
        doob_chain(SOURCE, 1.0, markov.MAX_PATH_LENGTH + 1)
    with pytest.raises(ValueError, match="length.*MAX_PATH_LENGTH"):
        SOURCE.sample(10**9, 10**9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="size.*MAX_CHAIN_CELLS"):
        SOURCE.sample(1000, 10**9, np.random.default_rng(0))
    chain = doob_chain(SOURCE, 1.0, 1000)
    with pytest.raises(ValueError, match="size.*MAX_CHAIN_CELLS"):
        chain.sample(10**8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="lengths.*MAX_DP_CELLS|lengths.*limit"):
        markov_law(SOURCE, 10**9)
    with pytest.raises(ValueError, match="lengths"):
        markov_laws(SOURCE, range(1, 10**9))
    big = MarkovSource.memoryless(
        np.full(markov.MAX_STATES + 1, 1.0 / (markov.MAX_STATES + 1)), np.zeros(markov.MAX_STATES + 1)
    )
    with pytest.raises(ValueError, match="MAX_STATES"):
        markov.log_spectral_radius(big, 0.5)


def test_markov_guards_allow_what_the_chapter_uses():
    # chapter 12: laws at 12 lengths up to 4000, the Doob chain at length 4000, sampled paths
    laws = markov_laws(SOURCE, [10, 100, 4000])
    assert len(laws[4000]) == 4001
    chain = doob_chain(SOURCE, 0.5, 4000)
    assert chain.transitions.shape == (3999, 2, 2)
    assert chain.sample(50, np.random.default_rng(1)).shape == (50, 4000)
    assert SOURCE.sample(4000, 100, np.random.default_rng(2)).shape == (100, 4000)


# -- best-of-N --------------------------------------------------------------------------------------------------
from lmalign.best_of_n import bon_kl_bound, lattice_gumbel, resolve_log_n  # noqa: E402


def _ref_bon_logmass(law, log_n):
    """log(F^N - F_-^N) per level in mpmath, F from the law's log-probabilities, N = e^log_n."""
    with mp.workdps(700):
        ps = [mp.exp(mp.mpf(float(a))) for a in law.logprobs]
        total = mp.fsum(ps)
        ps = [x / total for x in ps]
        big_n = mp.exp(mp.mpf(log_n))
        out, below = [], mp.mpf(0)
        for p in ps:
            top = below + p
            lo = below / top
            out.append(
                big_n * mp.log(top) + mp.log(-mp.expm1(big_n * mp.log(lo))) if below > 0 else big_n * mp.log(top)
            )
            below = top
        return out


@pytest.mark.parametrize("log_n", [1e-300, 1e-9, math.log(2), 50.0, 700.0])
def test_best_of_n_log_masses_against_mpmath(log_n):
    tail = RewardLaw.from_logprobs([0.0, 1.0, 2.0], [math.log1p(-2e-300), math.log(1e-300), math.log(1e-300)])
    for law in (tail, HUGE):
        got = best_of_n(law, log_n=log_n)
        ref = _ref_bon_logmass(law, log_n)
        for v, lp in zip(got.values, got.logprobs, strict=True):
            assert _rel(lp, ref[int(np.searchsorted(law.values, v))]) < 1e-12, (log_n, v)


def test_best_of_n_extremes():
    single = RewardLaw([3.0], [1.0])
    assert best_of_n(single, log_n=1e300) is single and best_of_n(HUGE, n=1) is HUGE
    top = best_of_n(HUGE, log_n=1e300)  # N = e^1e300: every lower mass is below exp(-1.8e308), dropped
    assert top.values.tolist() == [1e308] and top.logprobs[0] == 0.0
    assert resolve_log_n(10**400) == pytest.approx(400 * math.log(10), rel=1e-15)
    with pytest.raises(ValueError, match="log_n must be finite"):
        resolve_log_n(log_n=math.inf)
    with pytest.raises(ValueError, match="exactly one"):
        resolve_log_n(2, 1.0)
    # log N + expm1(-log N) cancelled for small log N (relative error 1e-6 at log N = 1e-10)
    with mp.workdps(50):
        ref = mp.mpf(1e-10) + mp.expm1(-mp.mpf(1e-10))
    assert _rel(bon_kl_bound(log_n=1e-10), ref) < 1e-14


def _ref_gumbel(lam, sigma, step, n, x_star, v0, log_shift=0.0):
    with mp.workdps(60):
        lam, sigma, step, x_star, v0 = (mp.mpf(x) for x in (lam, sigma, step, x_star, v0))
        a = mp.log(sigma * mp.sqrt(2 * mp.pi * n) * -mp.expm1(-lam * step) / step) - log_shift
        j0 = int(mp.ceil((n * x_star - a / lam - n * v0) / step))
        width = int(mp.ceil(80 / (lam * step))) + 8
        mean = ent = mp.mpf(0)
        for j in range(j0 - width, j0 + width + 1):
            u = n * v0 + step * j - n * x_star
            if -lam * (u + step) - a > 1e4:  # G = exp(-e^big) - ... = 0 to any precision
                continue
            g = mp.exp(-mp.exp(-lam * (u + step) - a)) - mp.exp(-mp.exp(min(-lam * u - a, mp.mpf(1e4))))
            if g > 0:
                mean += g * u
                ent -= g * mp.log(g)
        return mean, ent


@pytest.mark.parametrize(
    "args",
    [
        (1.0, 1.0, 1.0, 1, 0.0, 0.0),
        (1e300, 1.0, 1.0, 1, 0.0, 0.0),
        (2.0, 0.5, 0.05, 10**300, 0.0, 0.0),
        (1.0, 1e300, 1.0, 3, 0.25, 0.0),
        (0.7, 1.3, 0.01, 1000, 0.31, 0.01),
    ],
)
def test_lattice_gumbel_against_mpmath(args):
    # lam step = 1e300 gave NaN (inf - inf in the gap of the two exponentials)
    mean, ent = lattice_gumbel(*args)
    ref_mean, ref_ent = _ref_gumbel(*args)
    assert _rel(mean, ref_mean) < 1e-12 and _rel(ent, ref_ent) < 1e-12


def test_lattice_gumbel_refuses_what_it_cannot_represent():
    with pytest.raises(ValueError, match="lam \\* step"):
        lattice_gumbel(1e-300, 1.0, 1.0, 1, 0.0, 0.0)
    with pytest.raises(ValueError, match="x_star"):
        lattice_gumbel(1.0, 1.0, 1.0, 10, 1e308, 0.0)
    with pytest.raises(ValueError, match="log_shift"):
        lattice_gumbel(1.0, 1.0, 1.0, 10, 0.5, 0.0, log_shift=1e300)
    with pytest.raises(ValueError, match="x_star is NaN"):
        lattice_gumbel(1.0, 1.0, 1.0, 10, math.nan, 0.0)


def test_markov_rates_near_the_mean_and_huge_rewards():
    zero = MarkovSource([1 / 3] * 3, [[0.0005, 0.4995, 0.5]] * 3, [0.0, 0.0, 0.0])
    assert 0.0 <= markov.doob_kl_rate(zero, 0.0) < 1e-30  # it was -2.2e-18
    m0 = markov.scaled_cgf_mean(SOURCE, 0.0)
    var = markov.scaled_cgf_variance(SOURCE, 0.0)
    for dx in (1e-9, -1e-7):
        # I(m + dx) = dx^2 / (2 Lambda'') (1 + O(dx)); theta x - Lambda(theta) gave 9e-17 for 4e-19
        assert markov.markov_rate(SOURCE, m0 + dx) == pytest.approx(dx * dx / (2 * var), rel=1e-5)
    scaled = MarkovSource(SOURCE.initial, SOURCE.transition, SOURCE.reward * 2.0**500)
    assert markov.scaled_cgf_variance(scaled, 0.0) == pytest.approx(var * 2.0**1000, rel=1e-12)
    with pytest.raises(ValueError, match="exceeds the float range"):
        markov.scaled_cgf_variance(MarkovSource([0.5, 0.5], SOURCE.transition, [0.0, 1e308]), 0.0)


def test_more_refusals_found_by_fuzzing():
    from lmalign.best_of_n import log_minus_log_cdf

    with pytest.raises(ValueError, match="lam \\* step"):
        lattice_gumbel(0.5, 1.0, 5e-324, 1, 0.0, 0.0)  # lam step underflows to 0 (ZeroDivisionError before)
    with pytest.raises(ValueError, match="law must be a RewardLaw"):
        log_minus_log_cdf("a")
    one = MarkovSource([1.0], [[1.0]], [1e308])
    assert markov_law(one, 1).values.tolist() == [1e308]
    with pytest.raises(ValueError, match="lengths: the total reward"):
        markov_laws(one, 2)  # the law's value 2e308 was inf


def test_vector_logs_keep_a_subnormal_entry_without_warning():
    import warnings

    from lmalign.divergences import _logs

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = _logs([1e-320, 1.0], "p")
    assert logs[0] == pytest.approx(math.log(1e-320), rel=1e-12)  # not -inf from an overflowing ratio
    assert -1e-300 <= logs[1] <= 0.0


# -- extreme inputs found by the fuzz suite ---------------------------------------------------------------------
def test_doob_chain_huge_tilt_conditions_on_the_top_reward():
    # lam = 1e308: lam r overflowed and the initial law and transitions were NaN
    source = MarkovSource([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [0.0, 1.0])
    chain = doob_chain(source, 1e308, 3)
    assert chain.initial.tolist() == [0.0, 1.0]
    assert chain.transitions.tolist() == [[[0.0, 1.0], [0.0, 1.0]]] * 2
    assert chain.log_partition == math.inf  # 3e308 - log 8: beyond the float range
    low = doob_chain(source, -1e308, 3)  # conditioned on the bottom reward: log Z = 3 log(1/2)
    assert low.initial.tolist() == [1.0, 0.0] and low.log_partition == pytest.approx(3 * math.log(0.5), rel=1e-15)
    neg = MarkovSource([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [-1.0, 0.0])
    assert doob_chain(neg, 1e308, 3).log_partition == pytest.approx(3 * math.log(0.5), rel=1e-15)
    # a moderate tilt agrees with the unshifted recursion: log Z_n = n log((1 + e^lam) / 2) for i.i.d. tokens
    assert doob_chain(source, 3.0, 5).log_partition == pytest.approx(5 * math.log((1 + math.e**3) / 2), rel=1e-14)
    stuck = MarkovSource([1.0, 0.0], np.eye(2), [0.0, 2.0])  # the only path's weight is below exp(-1.8e308)
    with pytest.raises(ValueError, match="lam="):
        doob_chain(stuck, 1e308, 3)


def test_asymptotic_partition_huge_tilt():
    # lam r = 2e308 overflowed (inf - inf = NaN); Z_n = e^{2 lam n} exactly, so log c = 0
    assert markov.asymptotic_partition(MarkovSource([1.0], [[1.0]], [2.0]), 1e308) == 0.0
    assert markov.asymptotic_partition(MarkovSource([1.0], [[1.0]], [2.0]), -1e308) == 0.0


def test_markov_laws_huge_integral_float_length():
    source = MarkovSource([0.5, 0.5], np.eye(2), [1.0, 0.0])
    for lengths in ([1e300], [10**400], [2, 10**6]):  # 1e300 raised OverflowError (integer division)
        with pytest.raises(ValueError, match="lengths"):
            markov_laws(source, lengths)


def test_law_of_sum_logprobs_never_above_zero():
    from lmalign.memoryless import law_of_sum

    p = [6.161707268218494e-73, 0.0, 1.0, 6.161707268218494e-73]  # sums to 1 + 1.2e-72, rounded to 1
    r = [1e8, 1e300, -3.846309305401054e16, 1e300]
    for law in (law_of_sum(p, r, 39), RewardLaw.from_tokens(p, r, 39)):
        assert law.logprobs.max() <= 0.0  # level 0 had log-probability +2.4e-71
        with mp.workdps(120):  # the lowest level: no 1e300 token among the 39
            tiny = mp.mpf(6.161707268218494e-73)
            ref = 39 * mp.log1p(-tiny / (1 + 2 * tiny))  # only one 1e300 token has mass
        assert _rel(law.logprobs[0], ref) < 1e-12


def test_token_tilt_validates_lam_and_huge_negative_tilts():
    from lmalign.memoryless import token_tilt

    for lam in (None, {"x": 1}, "a", math.nan, math.inf):  # None raised TypeError
        with pytest.raises(ValueError, match="lam"):
            token_tilt([0.5, 0.5], [0.0, 1.0], lam)
    assert token_tilt([0.5, 0.5], [0.0, 1e300], -1.8e8).tolist() == [1.0, 0.0]  # was [nan, 0]
    assert token_tilt([0.5, 0.5], [-1e308, 1e308], 1e-308).tolist() == pytest.approx(
        [1 / (1 + math.exp(2.0)), 1 / (1 + math.exp(-2.0))], rel=1e-15
    )  # r - max r overflows
    got = token_tilt([0.25, 0.75], [0.0, 1.0], -2.0)
    assert got[0] == pytest.approx(0.25 / (0.25 + 0.75 * math.exp(-2.0)), rel=1e-15)


def test_transform_policy_names_a_bad_transform():
    from lmalign.transforms import transform_policy

    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    bad = (
        lambda v: "x",
        lambda v: None,
        lambda v: np.zeros(3),
        lambda v: v * np.nan,
        lambda v: v + np.inf,
        lambda v: v + 1j,
    )
    for transform in bad:  # 'x' gave numpy's "could not convert string to float"
        with pytest.raises(ValueError, match="transform .* it returned"):
            transform_policy(law, transform, 1.0)


def test_cramer_rate_where_the_distance_over_the_range_underflows():
    # (max - x) / range = 1e-348 underflowed to 0: math.log raised 'math domain error'
    law = RewardLaw([-1e285, 1e-63], [0.5, 0.5])
    with mp.workdps(400):
        v0, v1, x = mp.mpf(-1e285), mp.mpf(1e-63), mp.mpf(1e-300)

        def mean(s):  # tilted mean at theta = s / 1e285
            w0, w1 = mp.exp(s * v0 / mp.mpf(1e285)), mp.exp(s * v1 / mp.mpf(1e285))
            return (v0 * w0 + v1 * w1) / (w0 + w1)

        s = mp.findroot(lambda s: mean(s) - x, 800)
        theta = s / mp.mpf(1e285)
        ref = theta * x - mp.log((mp.exp(theta * v0) + mp.exp(theta * v1)) / 2)
    assert _rel(cramer_rate(law, 1e-300), ref) < 1e-13
    assert _rel(law.rate(1e-300), ref) < 1e-13


def test_scaled_cgf_at_zero_when_the_tilt_drops_a_level():
    # the tilt at -1e10 drops the level 1e308 (mass below exp(-1.8e308)): shapes (2,) and (3,) did not broadcast
    law = RewardLaw([0.0, 1.0, 1e308], [1 / 3] * 3)
    assert scaled_cgf(law, -1e10, 0.0) == 0.0
    assert scaled_cgf(law, -1e10, [0.0, -0.0]).tolist() == [0.0, 0.0]


def test_lattice_gumbel_far_lattice_offset():
    # n (v0 - x*) = 1e9: u = offset + step j lost 1e-7 to rounding and the window's sum missed 1 by 2.4e-10
    args = (
        0.1180659204002037,
        456.46873786009024,
        173.4281997882599,
        10**9,
        -1.0019043370175749,
        -1.4305573080404697e-85,
        -7.677738410031115e-43,
    )
    mean, ent = lattice_gumbel(*args)
    with mp.workdps(60):
        ref_mean, ref_ent = _ref_gumbel(*args[:6], log_shift=mp.mpf(args[6]))
    assert _rel(mean, ref_mean) < 1e-12 and _rel(ent, ref_ent) < 1e-12
