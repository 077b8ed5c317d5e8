"""The affine residual certificate of best-of-N against the tilts."""

import math

import numpy as np

from lmalign import RewardLaw
from lmalign.bon_vs_tilt import bon_affine_residual, bon_tilt_projection


def test_residual_vanishes_exactly_when_bon_is_a_tilt():
    two = RewardLaw([0.0, 1.0], [0.3, 0.7])
    three = RewardLaw([0.0, math.log(3), math.log(5)], [1 / 3] * 3)
    for n in (2, 5, 100):
        assert bon_affine_residual(two, n=n) < 1e-13
    assert bon_affine_residual(three, n=2) < 1e-13
    assert bon_affine_residual(three, n=3) > 1e-3
    assert bon_tilt_projection(three, n=3)[1] > 1e-5


def test_residual_of_uniform_laws_is_positive():
    for k in (3, 5, 9):
        law = RewardLaw(np.arange(k, dtype=float), np.full(k, 1.0 / k))
        assert bon_affine_residual(law, n=4) > 1e-2


def test_projection_is_scale_invariant_up_to_the_float_limits():
    """``D`` does not depend on the units of the reward and ``lam`` scales as ``1/a``: values near ``±1e308`` and
    tiny spreads gave a NaN deficit and a ValueError from the root finder before."""
    import pytest

    base = RewardLaw([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])
    lam, d = bon_tilt_projection(base, n=4)
    assert 0 < lam < math.inf and d > 1e-5
    for a in (1e-300, 2.0**-900, 1e300, 8e307):
        lam_a, d_a = bon_tilt_projection(RewardLaw(base.values * a, base.probs), n=4)
        assert d_a == pytest.approx(d, rel=1e-9)
        assert lam_a == pytest.approx(lam / a, rel=1e-9)
    wide = RewardLaw([-1e308, 0.0, 1e308], [0.2, 0.3, 0.5])  # spread 2e308 overflows
    lam_w, d_w = bon_tilt_projection(wide, n=4)
    assert d_w == pytest.approx(d, rel=1e-9) and lam_w == pytest.approx(lam / 1e308, rel=1e-9)
    assert bon_tilt_projection(wide, log_n=1e4) == (math.inf, 0.0)
