"""High-precision references: exact normalisation, and clear errors for input they cannot represent."""

import math

import mpmath
import pytest

from lmalign.reference import mp_cgf, mp_probs


def test_normalised_exactly_and_cgf_matches_the_closed_form():
    mpmath.mp.dps = 40
    p = mp_probs([0.1, 0.2, 0.7 + 1e-12])
    assert mpmath.fsum(p) == 1
    t = mpmath.mpf("0.5")
    assert mp_cgf([0.5, 0.5], [0.0, 1.0], t) == pytest.approx(float(mpmath.log((1 + mpmath.exp(t)) / 2)), rel=1e-15)
    assert mp_cgf([0.5, 0.5], [0.0, 1.0], "0.5") == mp_cgf([0.5, 0.5], [0.0, 1.0], t)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mp_probs([[]]), "one-dimensional"),  # TypeError from float([]) before
        (lambda: mp_probs(None), "probs"),
        (lambda: mp_probs([-0.5, 1.5]), "negative"),  # gave a complex log in mp_cgf
        (lambda: mp_probs([math.nan, 1.0]), "NaN"),
        (lambda: mp_probs([0.0, 0.0]), "positive sum"),
        (lambda: mp_cgf([0.5, 0.5], [0.0, math.inf], 1.0), "values"),
        (lambda: mp_cgf([0.5, 0.5], [0.0, 1.0], math.nan), "t must be finite"),  # returned mpf nan before
        (lambda: mp_cgf([0.5, 0.5], [0.0, 1.0], -math.inf), "t must be finite"),
        (lambda: mp_cgf([0.5, 0.5], [0.0, 1.0], [1.0]), "t must be a real"),
        (lambda: mp_cgf([0.5, 0.5], [0.0], 1.0), "different lengths"),
    ],
)
def test_bad_input_is_a_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
