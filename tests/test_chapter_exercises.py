"""``Chapter.check_exercises``: the stated numbers of an exercise's solution within half a unit of their last
decimal of the exact route, the library within its tolerance of it; each failure raises ``ClaimFailed``."""

from __future__ import annotations

import sys
from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from lmalign.book.chapter import Chapter
from lmalign.book.claims import ClaimFailed

EPS = sys.float_info.epsilon
BOUND = ("half a unit of the last stated decimal", "64 eps (1 + |x|) for the library")


@pytest.fixture
def ch(tmp_path):
    return Chapter("01_optimal_policy", output_dir=tmp_path)


def test_exact_numbers_pass_and_record_both_claims(ch):
    # 0.6614 stated for 0.66142: off by 2e-5, within half a unit of the fourth decimal (5e-5)
    ch.check_exercises({"E1.1": {"q": "0.6614"}}, {"E1.1": {"q": (mpmath.mpf("0.66142"), 0.66142)}}, bound=BOUND)
    stated, library = ch.claims.checks
    assert (stated.claim, library.claim) == ("E1.1", "E1.1")
    assert stated.passed and library.passed
    assert stated.error == pytest.approx(2e-5, rel=1e-9)
    assert stated.tolerance == pytest.approx(5e-5, rel=1e-12)
    assert library.tolerance == 64 * EPS
    assert (stated.bound, library.bound) == BOUND
    assert stated.detail == "stated {'q': '0.6614'} vs the exact route"
    assert library.detail == "the library vs the exact route, relative to 1 + |x|"


@pytest.mark.parametrize(("exact", "ok"), [("0.66144", True), ("0.66146", False), ("0.66134", False)])
def test_stated_number_off_by_more_than_half_a_unit_fails(ch, exact, ok):
    routes = {"E1.1": {"q": (mpmath.mpf(exact), float(exact))}}
    if ok:
        ch.check_exercises({"E1.1": {"q": "0.6614"}}, routes, bound=BOUND)
    else:
        with pytest.raises(ClaimFailed, match="E1.1"):
            ch.check_exercises({"E1.1": {"q": "0.6614"}}, routes, bound=BOUND)
        assert [c.passed for c in ch.claims.checks] == [False]


@pytest.mark.parametrize(("stated", "ok"), [("0.66", True), ("0.660", False), ("0.6640", True), ("0.6641", False)])
def test_the_half_unit_follows_the_stated_decimals(ch, stated, ok):
    # 0.664 is within 0.005 of 0.66 (two decimals) but not within 0.0005 of 0.660 (three)
    routes = {"E1.1": {"q": (sp.Rational(664, 1000), 0.664)}}
    if ok:
        ch.check_exercises({"E1.1": {"q": stated}}, routes, bound=BOUND)
        decimals = len(stated.split(".")[1])
        assert ch.claims.checks[0].tolerance == pytest.approx(float(Fraction(1, 2 * 10**decimals)), rel=1e-12)
    else:
        with pytest.raises(ClaimFailed):
            ch.check_exercises({"E1.1": {"q": stated}}, routes, bound=BOUND)


def test_the_widest_half_unit_of_an_exercise_is_its_tolerance(ch):
    routes = {"E1.1": {"a": (sp.Rational(1, 4), 0.25), "b": (sp.Rational(1, 3), 1 / 3)}}
    ch.check_exercises({"E1.1": {"a": "0.25", "b": "0.3333"}}, routes, bound=BOUND)
    assert ch.claims.checks[0].tolerance == pytest.approx(0.005, rel=1e-12)


@pytest.mark.parametrize(("ulps", "ok"), [(32, True), (100, False)])
def test_library_off_by_more_than_its_tolerance_fails(ch, ulps, ok):
    # at x = 3 the library is off by ulps * eps * (1 + |x|), against 64 eps (1 + |x|)
    x = 3.0
    library = x + ulps * 4 * EPS
    routes = {"E1.1": {"q": (sp.Integer(3), library)}}
    if ok:
        ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND)
        assert ch.claims.checks[1].error == pytest.approx(ulps * EPS, rel=1e-6)
    else:
        with pytest.raises(ClaimFailed, match="library"):
            ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND)
        assert [c.passed for c in ch.claims.checks] == [True, False]


def test_a_chapter_tolerance_per_exercise(ch):
    routes = {"E1.1": {"q": (sp.Integer(3), 3.0 + 1e-9)}}
    with pytest.raises(ClaimFailed):
        ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND)
    ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND, library_tol={"E1.1": 1e-8})
    assert ch.claims.checks[-1].passed and ch.claims.checks[-1].tolerance == 1e-8


def test_per_value_bounds_are_absolute_and_the_smallest_applies(ch):
    routes = {"E1.1": {"a": (sp.Integer(3), 3.0 + 2e-12, 1e-11), "b": (sp.Integer(1), 1.0, 1e-12)}}
    with pytest.raises(ClaimFailed):  # 2e-12 > min(1e-11, 1e-12)
        ch.check_exercises({"E1.1": {"a": "3.0000", "b": "1.0000"}}, routes, bound=BOUND)
    library = ch.claims.checks[-1]
    assert library.error == pytest.approx(2e-12, rel=1e-3)  # absolute, not divided by 1 + |x| = 4
    assert library.tolerance == 1e-12
    assert library.detail == "the library vs the exact route"
    mixed = {"E1.1": {"a": routes["E1.1"]["a"], "b": (sp.Integer(1), 1.0)}}
    with pytest.raises(ValueError, match="own library bound"):
        ch.check_exercises({"E1.1": {"a": "3.0000", "b": "1.0000"}}, mixed, bound=BOUND)


def test_the_details_name_the_route(ch):
    routes = {"E1.1": {"q": (sp.Integer(3), 3.0)}}
    ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND, route="30-digit arithmetic")
    ch.check_exercises({"E1.1": {"q": "3.0000"}}, routes, bound=BOUND, stated_route="the exact route (40 digits)")
    assert [c.detail for c in ch.claims.checks] == [
        "stated {'q': '3.0000'} vs 30-digit arithmetic",
        "the library vs 30-digit arithmetic, relative to 1 + |x|",
        "stated {'q': '3.0000'} vs the exact route (40 digits)",
        "the library vs the exact route, relative to 1 + |x|",
    ]
