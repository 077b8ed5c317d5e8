"""Certified tilted windows against exact integer references (python-flint): every level within its own
certificate, and an injected error (bins dropped that matter) caught by the certificate."""

import math

import flint
import numpy as np
import pytest

from lmalign import RewardLaw, lattice_power
from lmalign.lattice_power import certified_power, tolerance

WEIGHTS = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41]  # p = WEIGHTS / 1024: exact doubles, exact rationals


def exact_logs(n: int) -> np.ndarray:
    """``log P(S_n = K)`` for every ``K``: coefficients of ``(sum w_k x^k)^n`` as exact integers, logs in arb."""
    flint.ctx.prec = 128
    coeffs = (flint.fmpz_poly(WEIGHTS) ** n).coeffs()
    shift = n * flint.arb(1024).log()
    return np.array([float((flint.arb(c).log() - shift).mid()) for c in coeffs])


@pytest.fixture(scope="module")
def law_and_reference():
    n = 1500
    p = np.array(WEIGHTS) / 1024
    ref = exact_logs(n)
    return n, np.log(p), RewardLaw.from_tokens(p, np.arange(10.0), n), ref, np.spacing(np.abs(ref))


def test_reference_is_the_law_of_the_doubles():
    assert math.fsum((np.array(WEIGHTS) / 1024).tolist()) == 1.0


def test_every_level_within_its_certificate(law_and_reference):
    n, _, law, ref, ulp = law_and_reference
    err = np.abs(law.logprobs - ref) - ulp  # the reference is rounded to the nearest double
    assert len(law) == 9 * n + 1
    assert (err <= law.log_error).all()
    assert (law.log_error <= tolerance(law.logprobs)).all()
    assert ref.min() < -4000  # tails far below the smallest double, in log space


def test_windows_alone_certify_every_level(law_and_reference):
    n, lp, _, ref, ulp = law_and_reference
    vals, cert = certified_power(lp, n, lp_ext=np.log(np.array(WEIGHTS, dtype=np.longdouble) / 1024))
    assert (cert <= tolerance(vals)).all()
    assert (np.abs(vals - ref) - ulp <= cert).all()


def test_injected_error_is_caught(law_and_reference, monkeypatch):
    """Dropping spectrum bins up to |psi|^n = e^-3 damages many levels; the dropped-bin bound must refuse them."""
    n, lp, _, ref, ulp = law_and_reference
    monkeypatch.setattr(lattice_power, "LIVE_LOG", 3.0)
    monkeypatch.setattr(lattice_power, "REFINE_ROUNDS", 1)
    vals, cert = certified_power(lp, n, lp_ext=np.log(np.array(WEIGHTS, dtype=np.longdouble) / 1024))
    err = np.abs(vals - ref) - ulp
    computed = np.isfinite(vals)
    assert (err[computed & (cert <= tolerance(vals))] <= cert[computed & (cert <= tolerance(vals))]).all()
    assert (err[computed] > 1e-10).sum() > 100  # the injection does damage ...
    assert (cert[computed & (err > 1e-10)] > 1e-10).all()  # ... and every damaged level is refused


def test_refusal_names_length_and_levels(monkeypatch):
    from lmalign import lattice_sum

    monkeypatch.setattr(lattice_power, "FFT_ROUNDING", 1e12)
    monkeypatch.setattr(lattice_sum, "DIRECT_MAX_LEVELS", 0)
    monkeypatch.setattr(lattice_sum, "DIRECT_FALLBACK_MAX_LEVELS", 0)
    monkeypatch.setattr(lattice_sum, "TINY", 2.0)
    monkeypatch.setattr(lattice_sum, "DOMINANT_MAX_J", 0)
    with pytest.raises(ArithmeticError, match=r"length.3000"):
        RewardLaw.from_tokens([0.25] * 4, [0.0, 1.0, 2.0, 3.0], 3000)


def test_log_error_is_immutable():
    law = RewardLaw.from_tokens([0.5, 0.5], [0.0, 1.0], 5000)
    with pytest.raises(ValueError):
        law.log_error[0] = 0.0
    assert math.isclose(float(np.logaddexp.reduce(law.logprobs)), 0.0, abs_tol=1e-12)
