"""The frontier's level work space: the exponential that skips underflow, and prompts sharing one tilt."""

from __future__ import annotations

import numpy as np
import pytest

from lmalign.frontier import core
from lmalign.frontier.levels import UNDERFLOW_EXPONENT, SharedPrompts


def _levels(seed: int) -> core._Levels:
    """Prompts of 1 to 12 samples: most of distinct rewards, some with ties (rewards on a coarse grid)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 13, size=300)
    groups = np.repeat(np.arange(sizes.size), sizes)
    rewards = rng.normal(size=groups.size)
    coarse = np.isin(groups, rng.choice(sizes.size, 60, replace=False))
    rewards[coarse] = np.round(rewards[coarse])
    return core._Levels.from_samples(rewards, groups)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_prompts_give_the_tilt_of_all_levels_bit_for_bit(seed):
    lv = _levels(seed)
    shared, full = core._win_tilt(lv), core._win_tilt(lv, share=False)
    assert isinstance(shared.lv, SharedPrompts) and shared.lv.size < lv.size / 2
    for attr in ("ref_s", "ref_win", "var_p", "dmax"):
        np.testing.assert_array_equal(getattr(shared, attr), getattr(full, attr))
    assert (shared.cmax, shared.var0, shared.smin) == (full.cmax, full.var0, full.smin)
    for t in (0.0, 0.3, 2.0, 40.0, 900.0, 5e4, np.inf):  # both branches of the evaluation, underflow, the limit
        a, b = shared.at(t), full.at(t)
        for attr in ("kl", "win", "slope"):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    for a, b in zip(shared.curve(1.0, 12), full.curve(1.0, 12), strict=True):
        assert (a.t, a.avg_kl, float(np.mean(a.win))) == (b.t, b.avg_kl, float(np.mean(b.win)))


def test_a_prompt_with_a_tie_stands_for_itself():
    """Two prompts of three samples: one of distinct rewards, one with a tie; they must not share."""
    lv = core._Levels.from_samples(np.array([0.0, 1.0, 2.0, 5.0, 5.0, 7.0]), np.array([0, 0, 0, 1, 1, 1]))
    shared = core._win_tilt(lv)
    assert shared.lv.size == lv.size
    np.testing.assert_array_equal(shared.at(3.0).kl, core._win_tilt(lv, share=False).at(3.0).kl)


def test_exp_in_place_equals_numpy_exp_across_underflow():
    lv = _levels(0)
    a = np.linspace(-760.0, 1.0, lv.size)  # normal values, subnormal results and underflow to 0
    assert a.min() < UNDERFLOW_EXPONENT
    with np.errstate(under="ignore"):
        want = np.exp(a)
        got = lv.exp_in_place(a.copy(), float(a.min()))
    np.testing.assert_array_equal(got, want)
    assert np.count_nonzero(want == 0) > 0 and np.count_nonzero((want > 0) & (want < 2.3e-308)) > 0
