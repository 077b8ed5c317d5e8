import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from strategies import reward_laws

from lmalign import RewardLaw
from lmalign.ldp import aligned_rate, cgf_derivative, cramer_rate, scaled_cgf, theta_of_mean
from lmalign.symbolic import bernoulli_cgf, legendre_transform


@settings(max_examples=40)
@given(reward_laws())
def test_three_forms_agree(law):
    xs = np.linspace(law.values[0], law.values[-1], 9)
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
    for k in range(1, 7):
        exact = float(sp.diff(kappa, lam, k).subs(lam, sp.Rational(3, 10)))
        assert cgf_derivative(law, 0.3, k) == pytest.approx(exact, rel=1e-12)
    assert scaled_cgf(law, 0.3, 0.5) == pytest.approx(float(kappa.subs(lam, 0.8) - kappa.subs(lam, 0.3)),
                                                     rel=1e-13)


def test_bad_input():
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="form"):
        aligned_rate(law, 0.1, 0.5, form="other")
    with pytest.raises(ValueError, match="lam"):
        aligned_rate(law, math.inf, 0.5)
    with pytest.raises(ValueError, match="k must"):
        cgf_derivative(law, 0.0, 0)
