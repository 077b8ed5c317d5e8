"""RewardLaw and the KL-constrained tilt at the extremes: rewards near +-1.8e308 and in the subnormal range, tiny
and huge multipliers of both signs, budgets from 1e-300 to within rounding of D_max. Every value is compared
with mpmath at high precision, on the law the floats define: ``exp(logprobs)`` renormalised."""

import math

import mpmath as mp
import numpy as np
import pytest

from lmalign import RewardLaw, kl_constrained
from lmalign.tilting import kl_regularized, solve_lambda, tilt_kl

DPS = 400  # enough digits for D(p_lam || p) ~ lam^2 at lam = 1e-300 to survive the cancellation in mpmath
KL_TOL = 2e-14  # the relative accuracy tilt_kl and kl_constrained promise (measured: at most 4e-15)

BASE = RewardLaw([0.0, 1.0, 2.0, 5.0], [0.4, 0.3, 0.2, 0.1])
RARE_TOP = RewardLaw.from_logprobs([-1.0, 0.5, 3.0], [math.log1p(-1e-300 - 0.25), math.log(0.25), math.log(1e-300)])
HUGE = RewardLaw([-1.7e308, -1e307, 3e307, 1.7e308], [0.25, 0.25, 0.25, 0.25])
OFFSET = RewardLaw([1e6, 1e6 + 1.0, 1e6 + 3.0], [0.5, 0.3, 0.2])  # mean far from 0, spread 1
SUBNORMAL = RewardLaw([0.0, 1e-320, 3e-320], [0.3, 0.3, 0.4])
NARROW = RewardLaw([1.0, 1.0 + 2**-52, 1.0 + 2**-51], [0.3, 0.3, 0.4])  # spread of 2 ulps: the mean rounds
LAWS = {"base": BASE, "rare_top": RARE_TOP, "huge": HUGE, "offset": OFFSET, "subnormal": SUBNORMAL, "narrow": NARROW}


def mp_law(law):
    """Values and renormalised probabilities of ``law`` as mpmath numbers (call inside ``mp.workdps``)."""
    vs = [mp.mpf(float(v)) for v in law.values]
    ps = [mp.exp(mp.mpf(float(lp))) for lp in law.logprobs]
    total = mp.fsum(ps)
    return vs, [p / total for p in ps]


def ref_mean(law):
    with mp.workdps(DPS):
        vs, ps = mp_law(law)
        return mp.fsum(p * v for p, v in zip(ps, vs, strict=True)), mp.fsum(
            p * abs(v) for p, v in zip(ps, vs, strict=True)
        )


def ref_var(law):
    with mp.workdps(DPS):
        vs, ps = mp_law(law)
        m = mp.fsum(p * v for p, v in zip(ps, vs, strict=True))
        return mp.fsum(p * (v - m) ** 2 for p, v in zip(ps, vs, strict=True))


def ref_cgf(law, t):
    with mp.workdps(DPS):
        vs, ps = mp_law(law)
        t = mp.mpf(t)
        return mp.log(mp.fsum(p * mp.exp(t * v) for p, v in zip(ps, vs, strict=True)))


def ref_tilt(law, lam):
    """Tilted probabilities and ``D(p_lam || p)`` in mpmath."""
    with mp.workdps(DPS):
        vs, ps = mp_law(law)
        lam = mp.mpf(lam)
        shift = max(lam * v for v in vs)
        w = [p * mp.exp(lam * v - shift) for p, v in zip(ps, vs, strict=True)]
        z = mp.fsum(w)
        q = [x / z for x in w]
        kl = mp.fsum(qi * mp.log(qi / pi) for qi, pi in zip(q, ps, strict=True) if qi != 0)
        return q, kl


def rel_err(x, ref):
    return float(abs(mp.mpf(x) - ref) / abs(ref))


# -- moments ----------------------------------------------------------------------------------------------
def test_mean_of_opposite_extremes_is_finite_and_exact():
    assert RewardLaw([-1.7e308, 1.7e308], [0.25, 0.75]).mean() == 8.5e307
    assert RewardLaw([-1e308, 1e308], [0.5, 0.5]).mean() == 0.0
    assert RewardLaw.from_samples([-1.7e308, 1.7e308, 1.7e308]).mean() == pytest.approx(1.7e308 / 3, rel=1e-15)


@pytest.mark.parametrize("name", sorted(LAWS))
def test_mean_within_its_promise(name):
    law = LAWS[name]
    m, abs_m = ref_mean(law)
    assert abs(mp.mpf(law.mean()) - m) <= 1e-15 * abs_m


@pytest.mark.parametrize("name", ["base", "rare_top", "offset", "subnormal", "narrow"])
def test_var_within_its_promise(name):
    law = LAWS[name]
    ref = ref_var(law)
    if ref < mp.mpf(2.2250738585072014e-308):
        assert law.var() <= 1e-300  # below the float range: rounds towards 0
    else:
        assert rel_err(law.var(), ref) <= 1e-14


def test_variance_beyond_the_float_range_raises():
    with pytest.raises(ValueError, match="variance"):
        HUGE.var()


@pytest.mark.parametrize("name", ["base", "rare_top", "offset"])
@pytest.mark.parametrize("t", [1e-300, -1e-300, 1e-20, -1e-20, 1e-8, -1e-3, 0.3, -2.0, 40.0, -700.0])
def test_cgf_within_its_promise(name, t):
    law = LAWS[name]
    ref = ref_cgf(law, t)
    tm = abs(t * mp.mpf(law.mean()))
    assert abs(mp.mpf(law.cgf(t)) - ref) <= 1e-14 * (tm + abs(ref - t * mp.mpf(law.mean())))


def test_cgf_of_extreme_values():
    assert HUGE.cgf(1e-308) == pytest.approx(float(ref_cgf(HUGE, 1e-308)), rel=1e-14)
    assert HUGE.cgf(-1e-300) == pytest.approx(float(ref_cgf(HUGE, -1e-300)), rel=1e-14)
    assert SUBNORMAL.cgf(1e300) == pytest.approx(float(ref_cgf(SUBNORMAL, 1e300)), rel=1e-14)
    with pytest.raises(ValueError, match="t=2.0: kappa"):
        HUGE.cgf(2.0)


# -- tilt and its KL ----------------------------------------------------------------------------------------
SMALL_LAMS = [10.0**-k for k in (3, 5, 8, 12, 16, 17, 20, 32, 50, 100, 150)]


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("lam", SMALL_LAMS)
def test_tilt_kl_small_lam_relative_accuracy(lam, sign):
    _, ref = ref_tilt(BASE, sign * lam)
    assert rel_err(tilt_kl(BASE, sign * lam), ref) <= KL_TOL


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("lam", [1e-160, 1e-200, 1e-250, 1e-300])
def test_tilt_kl_down_to_1e_300_on_large_rewards(lam, sign):
    law = RewardLaw(np.array([0.0, 1.0, 2.0, 5.0]) * 1e150, [0.4, 0.3, 0.2, 0.1])
    _, ref = ref_tilt(law, sign * lam)
    assert rel_err(tilt_kl(law, sign * lam), ref) <= KL_TOL


@pytest.mark.parametrize(
    ("name", "lam"),
    [
        ("base", 0.5),
        ("base", -7.0),
        ("base", 300.0),
        ("rare_top", 1e-3),
        ("rare_top", 50.0),
        ("rare_top", 600.0),
        ("rare_top", -30.0),
        ("offset", 1e-9),
        ("offset", 2.0),
        ("huge", 1e-308),
        ("huge", -3e-308),
        ("huge", 1e-306),
        ("subnormal", 1e300),
        ("subnormal", -3e307),
        ("subnormal", 1e-3),
        ("narrow", 1e15),
        ("narrow", -3e16),
        ("narrow", 1e-3),
    ],
)
def test_tilt_kl_and_tilt_at_extremes(name, lam):
    law = LAWS[name]
    q, ref = ref_tilt(law, lam)
    if ref >= mp.mpf(2.2250738585072014e-308):
        assert rel_err(tilt_kl(law, lam), ref) <= KL_TOL
    else:
        assert tilt_kl(law, lam) <= 1e-300
    tilted = law.tilt(lam)
    np.testing.assert_allclose(tilted.probs, [float(x) for x in q], rtol=1e-12, atol=1e-300)
    d = law.log_tilt_ratio(lam)
    tau_y = np.abs(law.scaled_multiplier(lam) * law.frame.y)  # the promise: within 1e-14 (|tau y| + |d|)
    with mp.workdps(DPS):
        _, ps = mp_law(law)
        for di, qi, pi, ty in zip(d, q, ps, tau_y, strict=True):
            exact = mp.log(qi / pi)
            assert abs(mp.mpf(di) - exact) <= 1e-14 * (abs(exact) + ty) + 2e-323  # plus subnormal rounding


def test_huge_multipliers_condition_on_an_edge():
    law = RewardLaw([-1e308, 0.0, 1e308], [0.2, 0.5, 0.3])
    assert law.tilt(1e300).values.tolist() == [1e308]
    assert law.tilt(-1e300).values.tolist() == [-1e308]
    assert tilt_kl(law, 1e300) == pytest.approx(-math.log(0.3), rel=1e-15)
    assert tilt_kl(law, -1e300) == pytest.approx(-math.log(0.2), rel=1e-15)
    assert law.cgf(-math.inf) == math.inf and law.cgf(math.inf) == math.inf


# -- the KL-constrained policy --------------------------------------------------------------------------------
def test_budget_on_rewards_of_opposite_extremes():
    law = RewardLaw([-1e308, 1e308], [0.5, 0.5])
    sol = kl_constrained(law, 0.1)
    assert 0 < sol.lam < 1e-300
    assert sol.kl == pytest.approx(0.1, rel=KL_TOL)
    assert rel_err(0.1, ref_tilt(law, sol.lam)[1]) <= KL_TOL
    assert sol.mean > 0 and math.isfinite(sol.mean)


def test_subnormal_spread_is_solved_or_rejected_by_name():
    with pytest.raises(ValueError, match="delta=0.1: the multiplier"):
        kl_constrained(RewardLaw([0.0, 1e-320], [0.5, 0.5]), 0.1)
    law = RewardLaw([0.0, 1e-300, 3e-300], [0.3, 0.3, 0.4])
    sol = kl_constrained(law, 0.1)
    assert 1e299 < sol.lam < 1e302 and rel_err(0.1, ref_tilt(law, sol.lam)[1]) <= KL_TOL
    tiny = RewardLaw([0.0, 5e-324, 1e-323], [0.3, 0.3, 0.4])
    phi = kl_regularized(tiny, 5e-324)  # lam = 1/beta overflows; the tilt by 2e323 does not
    assert len(phi) == 3
    np.testing.assert_allclose(
        phi.probs, [0.3, 0.3 * math.e, 0.4 * math.e**2] / np.float64(0.3 + 0.3 * math.e + 0.4 * math.e**2), rtol=1e-12
    )


@pytest.mark.parametrize("delta", [10.0**-k for k in (2, 5, 10, 16, 20, 32, 64, 100, 200, 300)])
@pytest.mark.parametrize("name", ["base", "rare_top", "offset", "narrow"])
def test_small_budgets(delta, name):
    law = LAWS[name]
    sol = kl_constrained(law, delta)
    assert sol.kl == pytest.approx(delta, rel=KL_TOL)
    assert rel_err(delta, ref_tilt(law, sol.lam)[1]) <= KL_TOL  # the lam itself is right, checked independently
    if delta <= 1e-20:  # D = lam^2 Var / 2 (1 + O(lam))
        assert sol.lam == pytest.approx(math.sqrt(2 * delta / law.var()), rel=1e-6)


@pytest.mark.parametrize("gap", [1e-3, 1e-6, 1e-9, 1e-12])
@pytest.mark.parametrize("name", ["base", "rare_top", "huge"])
def test_budgets_close_to_max_kl(gap, name):
    law = LAWS[name]
    delta = law.max_kl * (1 - gap)
    sol = kl_constrained(law, delta)
    assert math.isfinite(sol.lam) and sol.lam > 0
    assert sol.kl == pytest.approx(delta, rel=KL_TOL)
    assert rel_err(delta, ref_tilt(law, sol.lam)[1]) <= KL_TOL


def test_solve_lambda_bounds():
    assert solve_lambda(BASE, BASE.max_kl) == math.inf
    assert solve_lambda(BASE, 0.0) == 0.0
    with pytest.raises(ValueError, match="delta=5e-324: the multiplier"):
        solve_lambda(HUGE, 5e-324)  # lam ~ 1e-470: not a float


# -- normalisation --------------------------------------------------------------------------------------------
def test_both_constructors_renormalise_alike_within_the_tolerance():
    probs = [0.5, 0.5 + 8e-10]
    a = RewardLaw([0.0, 1.0], probs)
    b = RewardLaw.from_logprobs([0.0, 1.0], np.log(probs))
    np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=0, atol=2e-16)
    with mp.workdps(50):
        for law in (a, b):
            assert abs(mp.fsum(mp.exp(mp.mpf(float(x))) for x in law.logprobs) - 1) < 4e-16
    assert RewardLaw.from_logprobs([2.0], [5e-10]).logprobs.tolist() == [0.0]
    with pytest.raises(ValueError, match="probs must sum to 1 within 1e-09"):
        RewardLaw([0.0, 1.0], [0.5, 0.5 + 2e-9])
    with pytest.raises(ValueError, match="logprobs must exponentiate to probabilities summing to 1 within 1e-09"):
        RewardLaw.from_logprobs([0.0, 1.0], np.log([0.5, 0.5 + 2e-9]))


def test_cdf_and_tail_with_masses_far_below_the_float_range():
    lp = [math.log1p(-1e-300), -1e300, math.log(1e-300) - 1e-300]  # the middle mass is e^-1e300
    law = RewardLaw.from_logprobs([-1.7e308, 0.0, 1.7e308], lp)
    assert law.log_sf()[0] == pytest.approx(math.log(1e-300), rel=1e-15)  # e^-1e300 is lost next to 1e-300
    assert law.log_sf()[1] == law.logprobs[2] and law.log_sf()[2] == -math.inf
    assert law.log_cdf()[1] == pytest.approx(-1e-300, rel=1e-12) and law.log_cdf()[2] == 0.0  # not rounded to 0
    assert law.max_kl == pytest.approx(-math.log(1e-300), rel=1e-15) and law.top == 1.7e308
    assert tilt_kl(law, 1e-300) == pytest.approx(float(ref_tilt(law, 1e-300)[1]), rel=KL_TOL)


@pytest.mark.parametrize("lam", [-1.0, -40.0, -1e10, 1e-300, 3e-308])
def test_tilt_keeps_small_gaps_beside_huge_values(lam):
    """Levels 0 and 1 beside 1e308: the centred scaled values cannot tell them apart, the tilt must."""
    law = RewardLaw([0.0, 1.0, 1e308], [1 / 3] * 3)
    q, _ = ref_tilt(law, lam)
    got = np.exp(law.log_tilt_ratio(lam) + law.logprobs)
    for g, r in zip(got, q, strict=True):
        assert g == pytest.approx(float(r), rel=1e-13, abs=1e-300)
