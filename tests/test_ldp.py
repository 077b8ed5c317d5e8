import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from mp_rates import mp_rate
from strategies import reward_laws

from lmalign import RewardLaw
from lmalign.ldp import aligned_rate, cgf_derivative, cramer_rate, scaled_cgf, theta_of_mean
from lmalign.symbolic import bernoulli_cgf, legendre_transform


@settings(max_examples=20)
@given(reward_laws())
def test_three_forms_agree(law):
    xs = np.linspace(law.values[0], law.values[-1], 7)
    for lam in (0.0, 0.4, 2.0):
        a = aligned_rate(law, lam, xs, form="legendre")
        b = aligned_rate(law, lam, xs, form="shift")
        c = aligned_rate(law, lam, xs, form="kl")
        np.testing.assert_allclose(a, c, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(b, c, rtol=1e-8, atol=1e-10)
        assert (c >= -1e-14).all()


@settings(max_examples=40)
@given(reward_laws())
def test_rate_endpoints_and_zero(law):
    lo, hi = law.values[0], law.values[-1]
    assert cramer_rate(law, hi) == pytest.approx(law.max_kl, rel=1e-14)
    assert cramer_rate(law, lo) == pytest.approx(-law.logprobs[0], rel=1e-14)
    assert cramer_rate(law, hi + 1) == math.inf and cramer_rate(law, lo - 1) == math.inf
    assert law.rate(law.mean()) == pytest.approx(0.0, abs=1e-12)


def test_bernoulli_rate_matches_sympy_legendre():
    p, t, x = sp.symbols("p t x", positive=True)
    rate = sp.lambdify((p, x), legendre_transform(bernoulli_cgf(p, 0, 1, t), t, x))
    law = RewardLaw([0.0, 1.0], [0.7, 0.3])
    for xv in (0.05, 0.3, 0.61, 0.99):
        assert cramer_rate(law, xv) == pytest.approx(float(rate(0.3, xv)), rel=1e-10)


def test_theta_inverts_the_mean():
    law = RewardLaw([0.0, 1.0, 4.0], [0.5, 0.4, 0.1])
    for x in (0.01, 0.5, 3.99):
        assert law.tilt(theta_of_mean(law, x)).mean() == pytest.approx(x, rel=1e-12)
    assert theta_of_mean(law, 4.0) == math.inf
    with pytest.raises(ValueError, match="inside"):
        theta_of_mean(law, 5.0)


def test_scaled_cgf_and_cumulants_against_sympy():
    vals, probs = [0, 1, 2, 5], [sp.Rational(4, 10), sp.Rational(3, 10), sp.Rational(2, 10), sp.Rational(1, 10)]
    lam = sp.Symbol("l")
    kappa = sp.log(sum(pr * sp.exp(lam * v) for pr, v in zip(probs, vals, strict=True)))
    law = RewardLaw(vals, [float(pr) for pr in probs])
    for lv in (sp.Rational(3, 10), sp.Rational(-2, 1)):
        for k in range(1, 9):
            exact = float(sp.diff(kappa, lam, k).subs(lam, lv))
            assert cgf_derivative(law, float(lv), k) == pytest.approx(exact, rel=1e-11, abs=1e-13)
    assert scaled_cgf(law, 0.3, 0.5) == pytest.approx(float(kappa.subs(lam, 0.8) - kappa.subs(lam, 0.3)), rel=1e-13)


def test_bad_input():
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="form"):
        aligned_rate(law, 0.1, 0.5, form="other")
    with pytest.raises(ValueError, match="lam"):
        aligned_rate(law, math.inf, 0.5)
    with pytest.raises(ValueError, match="k must"):
        cgf_derivative(law, 0.0, 0)


def _rate_high_precision(vals, probs, x):
    """sup_t [t x - kappa(t)] with mpmath (:func:`mp_rates.mp_rate` at lam = 0)."""
    return float(mp_rate(RewardLaw(vals, probs), 0.0, x)[0])


@pytest.mark.parametrize("gap", [1e-3, 1e-9, 1e-15, 1e-40, 1e-200])
def test_rate_near_the_end_levels(gap):
    """x within ``gap`` of an end level: theta is large, the rate is computed from the tilted law."""
    vals, probs = [0.0, 1.0, 3.0], [0.5, 0.3, 0.2]
    law = RewardLaw(vals, probs)
    for x in [gap] + ([3.0 - gap] if gap > 1e-15 else []):
        assert cramer_rate(law, x) == pytest.approx(_rate_high_precision(vals, probs, x), rel=1e-11)
        th = theta_of_mean(law, x)
        gap_tilted = law.tilt(th).mean() if x < 1 else 3.0 - law.tilt(th).mean()
        assert gap_tilted == pytest.approx(gap, rel=1e-9)


def test_rate_is_affine_invariant_up_to_huge_rewards():
    """I_{aR+b}(a x + b) = I_R(x): rewards of magnitude 1e6 give the same rates as the unit law."""
    unit = RewardLaw([0.0, 0.25, 1.0], [0.6, 0.3, 0.1])
    big = RewardLaw([-1e6, -5e5, 1e6], [0.6, 0.3, 0.1])
    xs = np.array([1e-12, 0.01, 0.2, 0.5, 0.97, 1 - 1e-9])
    np.testing.assert_allclose(cramer_rate(big, -1e6 + 2e6 * xs), cramer_rate(unit, xs), rtol=1e-7)
    for lam in (0.3, 4.0):
        np.testing.assert_allclose(
            aligned_rate(big, lam / 2e6, -1e6 + 2e6 * xs), aligned_rate(unit, lam, xs), rtol=1e-7
        )


def test_one_level_law_and_infinite_cgf_arguments():
    law = RewardLaw([2.0], [1.0])
    np.testing.assert_array_equal(cramer_rate(law, np.array([1.0, 2.0, 3.0])), [math.inf, 0.0, math.inf])
    two = RewardLaw([0.0, 1.0], [0.3, 0.7])
    assert two.cgf(math.inf) == math.inf
    assert two.cgf(-math.inf) == pytest.approx(math.log(0.3), rel=1e-15)
    assert RewardLaw([-2.0, -1.0], [0.5, 0.5]).cgf(math.inf) == -math.inf


@pytest.mark.parametrize(
    ("values", "probs", "lam", "t"),
    [
        ([0.0, 1.79769e292], [5 / 6, 1 / 6], 0.0, -1e16),  # t times the top level is at the edge of the floats
        ([0.0, 1.79769e292], [5 / 6, 1 / 6], 0.0, -1.0),
        ([0.0, 1e292], [0.9, 0.1], 1e-292, -3e-292),  # lam and lam + t on either side of 0
        ([-1.0, 2.0], [0.3, 0.7], 2.0, -5.0),
        ([-1.0, 2.0], [0.3, 0.7], -2.0, 5.0),
    ],
)
def test_scaled_cgf_when_the_tilt_changes_side(values, probs, lam, t):
    """kappa(lam + t) - kappa(lam) against 50-digit arithmetic where lam + t and lam have opposite signs, so the
    two CGFs are shifted by opposite ends of the law (one shift for both lost the answer to cancellation)."""
    law = RewardLaw(values, probs)
    with mpmath.workdps(50):

        def kappa(s):
            return mpmath.log(
                sum(
                    mpmath.mpf(p) * mpmath.exp(s * mpmath.mpf(v))
                    for v, p in zip(law.values.tolist(), law.probs.tolist(), strict=True)
                )
            )

        exact = float(kappa(mpmath.mpf(lam) + mpmath.mpf(t)) - kappa(mpmath.mpf(lam)))
    got = scaled_cgf(law, lam, t)
    assert abs(got - exact) <= 64 * np.finfo(float).eps * (1 + abs(exact)), (got, exact)
