"""The optimal sub-Gaussian proxy's maximiser, the tilt's gain, and the discretised Gaussian."""

import math

import numpy as np
import pytest

from lmalign import RewardLaw
from lmalign.models import random_law
from lmalign.subgaussian import (
    discretised_gaussian,
    subgaussian_gain_bound,
    subgaussian_optimum,
    subgaussian_variance_proxy,
    tilt_gain,
)
from lmalign.tilting import tilt_kl


def test_interior_maximiser_attains_the_bound():
    law = RewardLaw([0.0, 1.0, 2.0, 4.0], [0.5, 0.3, 0.15, 0.05])
    s2, t = subgaussian_optimum(law)
    assert s2 == subgaussian_variance_proxy(law)
    assert s2 > law.var() and 1.0 < t < 2.0
    ratio = tilt_gain(law, t) / subgaussian_gain_bound(s2, tilt_kl(law, t))
    assert ratio == pytest.approx(1.0, abs=1e-13)


def test_supremum_at_zero_gives_the_variance_and_a_strict_bound():
    law = RewardLaw([-4.0, -2.0, -1.0, 0.0], [0.05, 0.15, 0.3, 0.5])  # skewed downwards: kappa_3 < 0
    s2, t = subgaussian_optimum(law)
    assert t == 0.0 and s2 == law.var()
    for lam in (1e-3, 0.1, 1.0, 10.0):
        assert tilt_gain(law, lam) < subgaussian_gain_bound(s2, tilt_kl(law, lam))


def test_lower_side_mirrors_and_degenerate_law():
    law = RewardLaw([0.0, 1.0, 5.0], [0.5, 0.4, 0.1])
    s2, t = subgaussian_optimum(law, "upper")
    s2m, tm = subgaussian_optimum(RewardLaw(-law.values, law.probs), "lower")
    assert s2m == pytest.approx(s2, rel=1e-12) and tm == pytest.approx(-t, rel=1e-6)
    assert subgaussian_optimum(RewardLaw([2.0], [1.0])) == (0.0, 0.0)
    with pytest.raises(ValueError):
        subgaussian_optimum(law, "both")


def test_tilt_gain_matches_the_tilted_mean():
    rng = np.random.default_rng(3)
    for _ in range(20):
        law = random_law(6, rng)
        for lam in (-2.0, 1e-6, 0.5, 3.0):
            assert tilt_gain(law, lam) == pytest.approx(law.tilt(lam).mean() - law.mean(), rel=1e-8, abs=1e-14)
    assert tilt_gain(law, 0.0) == 0.0


def test_discretised_gaussian_is_gaussian():
    for sigma in (0.5, 2.0):
        law = discretised_gaussian(sigma)
        assert law.mean() == pytest.approx(0.0, abs=1e-14)
        assert law.var() == pytest.approx(sigma**2, rel=1e-13)
        assert float(law.cgf(1.0 / sigma)) == pytest.approx(0.5, rel=1e-13)
        assert subgaussian_variance_proxy(law) == pytest.approx(sigma**2, rel=1e-12)
    with pytest.raises(ValueError):
        discretised_gaussian(0.0)
    assert math.isfinite(subgaussian_optimum(discretised_gaussian(1.0))[0])


@pytest.mark.parametrize("scale", [1e-300, 2.0**-1060, 1e300, 1e307])
def test_proxy_and_gain_scale_exactly(scale):
    """``sigma^2(aR) = a^2 sigma^2(R)``, ``t*(aR) = t*(R)/a`` and ``gain(aR, lam/a) = a gain(R, lam)``, for ``a`` up
    to values near ``1e308`` (``v - mean`` overflowed and ``t`` became 0: ZeroDivisionError) and down to subnormal."""
    law = RewardLaw([0.0, 1.0, 2.0, 4.0], [0.5, 0.3, 0.15, 0.05])
    big = RewardLaw(law.values * scale, law.probs)
    s2, t = subgaussian_optimum(law)
    s2_big, t_big = subgaussian_optimum(big)
    tol = 1e-9 if scale > 1e-300 else 1e-3  # subnormal values keep few bits
    assert s2_big == pytest.approx(s2 * scale * scale, rel=tol, abs=1e-320)
    if s2 * scale * scale > 1e-300:
        assert t_big == pytest.approx(t / scale, rel=tol)
    if scale >= 1e-300:
        assert tilt_gain(big, 0.7 / scale) == pytest.approx(tilt_gain(law, 0.7) * scale, rel=tol)


def test_extreme_spread_gives_numbers_not_errors():
    law = RewardLaw([-1e308, 0.0, 3.09769e243, 1e308], [0.25] * 4)
    s2, t = subgaussian_optimum(law)
    assert s2 == math.inf and t == 0.0  # the variance, 5e615, is beyond the float range
    assert subgaussian_variance_proxy(law, "both") == math.inf
    assert tilt_gain(law, 1e-300) == pytest.approx(1e308, rel=1e-12)  # lam (v - m) = 1e8: all mass on top
    assert tilt_gain(law, -1e300) == pytest.approx(-1e308, rel=1e-12)


@pytest.mark.parametrize(
    "args, match",
    [
        ((1.0, 1e-300, 24.0), "lattice points"),  # would allocate 1e301 points
        ((1e308, 0.25, 24.0), "overflows"),
        ((1.0, 0.25, {"x": 1}), "width"),
        ((1.0, -0.25, 24.0), "step"),
        ((1.0, 0.25, math.inf), "width"),
    ],
)
def test_discretised_gaussian_rejects_oversized_or_bad_lattices(args, match):
    with pytest.raises(ValueError, match=match):
        discretised_gaussian(*args)


def test_gain_bound_at_the_float_limits():
    """``sqrt(2 s2 D)`` as a product of square roots: ``s2 = 1e308`` and ``D = 0`` gave NaN (inf * 0), and
    ``s2 D`` beyond the float range gave inf for a finite bound."""
    assert subgaussian_gain_bound(1e308, 0.0) == 0.0
    assert subgaussian_gain_bound(0.0, math.inf) == 0.0
    assert subgaussian_gain_bound(1e308, 1e10) == pytest.approx(math.sqrt(2.0) * 1e154 * 1e5, rel=1e-15)
    assert subgaussian_gain_bound(1.0, math.inf) == math.inf


def test_gain_counts_a_level_whose_probability_underflows():
    """``p = e^-800`` underflows to 0 while the tilt puts all its mass there: ``0 * expm1(800)`` was NaN."""
    law = RewardLaw.from_logprobs([3.8271e16, 1.79769e308], [-800.0, math.log(-math.expm1(-800.0))])
    assert tilt_gain(law, -4.19) == pytest.approx(3.8271e16 - 1.79769e308, rel=1e-12)  # all mass to the bottom
    assert tilt_gain(law, 1.0) == 0.0


def test_unit_scaled_merges_levels_that_become_equal():
    """Dividing by ``a = 2^1023`` sends ``5e-324`` and ``1e-323`` to the same float: one level, not a law with
    equal values."""
    from lmalign.subgaussian import unit_scaled

    law = RewardLaw([-1.79769e308, 5e-324, 1e-323, 1e300], [0.25] * 4)
    scaled, a = unit_scaled(law)
    assert a == 2.0**1023 and len(scaled) == 3 and (np.diff(scaled.values) > 0).all()
    assert scaled.probs[1] == pytest.approx(0.5, rel=1e-15)


def test_gain_at_an_infinite_scaled_tilt_on_merged_levels():
    """``lam a = -inf`` on a law whose tiny levels merge when scaled: the conditioned tilt was built on the
    unmerged levels (a numpy broadcast ValueError)."""
    law = RewardLaw([-3e16, 5e-324, 1e-323, 1.79769e308], [0.25] * 4)
    assert tilt_gain(law, -1.7976931348623157e308) == pytest.approx(-3e16 - law.mean(), rel=1e-12)
