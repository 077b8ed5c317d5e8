import math

import numpy as np
import pytest
import sympy as sp

from lmalign import RewardLaw
from lmalign.ldp import cgf_derivative
from lmalign.symbolic import (
    bernoulli_cgf,
    cumulant_series,
    legendre_transform,
    symbolic_cgf,
    tilt_kl_expr,
    tilted_probs,
)
from lmalign.tilting import tilt_kl

l = sp.Symbol("l")  # noqa: E741


def test_tilt_kl_derivative_is_l_kappa_second():
    a, b = sp.symbols("a b", positive=True)
    kappa = symbolic_cgf([a / (a + b), b / (a + b)], [0, 1], l)
    d = tilt_kl_expr(kappa, l)
    assert sp.simplify(sp.diff(d, l) - l * sp.diff(kappa, l, 2)) == 0
    q = tilted_probs([a / (a + b), b / (a + b)], [0, 1], l)
    assert sp.simplify(sum(q) - 1) == 0


def test_cumulant_series_of_bernoulli():
    p = sp.Symbol("p", positive=True)
    c = cumulant_series(symbolic_cgf([1 - p, p], [0, 1], l), l, 3, at=0)
    assert [sp.expand(sp.simplify(x)) for x in c] == [p, sp.expand(p * (1 - p)), sp.expand(p * (1 - p) * (1 - 2 * p))]


def test_symbolic_and_numeric_agree():
    """Sympy expressions, lambdified, against the library's numbers on a four-level law."""
    probs = [sp.Rational(4, 10), sp.Rational(3, 10), sp.Rational(2, 10), sp.Rational(1, 10)]
    vals = [0, 1, 2, 5]
    law = RewardLaw(vals, [float(x) for x in probs])
    kappa = symbolic_cgf(probs, vals, l)
    kl_f = sp.lambdify(l, tilt_kl_expr(kappa, l))
    q_f = sp.lambdify(l, tilted_probs(probs, vals, l))
    cum_f = [sp.lambdify(l, c) for c in cumulant_series(kappa, l, 5)]
    for lam in (-0.7, 0.2, 1.3):
        assert tilt_kl(law, lam) == pytest.approx(kl_f(lam), rel=1e-11)
        np.testing.assert_allclose(law.tilt(lam).probs, q_f(lam), rtol=1e-12)
        for k, f in enumerate(cum_f, start=1):
            assert cgf_derivative(law, lam, k) == pytest.approx(f(lam), rel=1e-9, abs=1e-12)


def test_bernoulli_legendre_is_the_binary_kl():
    p, t, x = sp.symbols("p t x", positive=True)
    rate = legendre_transform(bernoulli_cgf(p, 0, 1, t), t, x)
    binary_kl = x * sp.log(x / p) + (1 - x) * sp.log((1 - x) / (1 - p))
    for pv, xv in ((0.3, 0.1), (0.3, 0.8), (0.9, 0.5)):
        assert float(rate.subs({p: pv, x: xv})) == pytest.approx(float(binary_kl.subs({p: pv, x: xv})), rel=1e-12)
    assert float(bernoulli_cgf(p, 0, 1, t).subs({p: 0.3, t: 0.0})) == 0.0
    assert math.isclose(
        float(bernoulli_cgf(p, -1, 2, t).subs({p: 0.5, t: 1.0})),
        math.log(0.5 * math.exp(-1) + 0.5 * math.exp(2)),
        rel_tol=1e-14,
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: symbolic_cgf(None, [], l),  # not a sequence
        lambda: symbolic_cgf([sp.nan], [0], l),  # nan entry
        lambda: symbolic_cgf([0.5, 0.5], [0, sp.oo], l),
        lambda: symbolic_cgf(["x"], [0], l),  # strings are not sympified
        lambda: tilted_probs([-0.5, 1.5], [0, 1], l),  # a negative probability
        lambda: bernoulli_cgf(0.5, 2.0, None, l),
        lambda: tilt_kl_expr("x", l),
        lambda: cumulant_series(None, l, 2),
        lambda: cumulant_series(l**2, l, 10**18),  # would differentiate forever
        lambda: cumulant_series(l**2, l, 9),  # beyond MAX_ORDER: a log-sum-exp takes ~25 s at order 12
        lambda: legendre_transform(bernoulli_cgf(sp.Rational(1, 2), 0, 1, l), l, l),  # x is t: sympy cannot solve
    ],
)
def test_bad_symbolic_input_is_a_value_error(call):
    """Wrong types, nan or infinite entries, negative probabilities, an unbounded order and an equation sympy
    cannot solve all give a ValueError (not TypeError, NotImplementedError or a hang)."""
    with pytest.raises(ValueError):
        call()


def test_a_law_without_mass_is_refused():
    """``probs = [0]``: ``kappa = log 0`` made every tilted probability ``nan``."""
    with pytest.raises(ValueError, match="no mass"):
        tilted_probs([0.0], [0.0], l)
    with pytest.raises(ValueError, match="no mass"):
        symbolic_cgf([0, sp.Integer(0)], [1, 2], l)
