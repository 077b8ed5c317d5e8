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
