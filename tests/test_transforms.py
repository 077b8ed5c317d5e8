import itertools
import math

import numpy as np
import pytest

from lmalign import RewardLaw, best_of_n
from lmalign.transforms import calibrated_reward, soft_best_of_n, transform_policy, win_rate

LAW = RewardLaw([0.0, 1.0, 2.0, 5.0], [0.4, 0.3, 0.2, 0.1])


def test_win_rate_against_enumeration():
    a = best_of_n(LAW, n=3)
    direct = sum(pa * pb * (1.0 if va > vb else 0.5 if va == vb else 0.0)
                 for va, pa in zip(a.values, a.probs, strict=True)
                 for vb, pb in zip(LAW.values, LAW.probs, strict=True))
    assert win_rate(a, LAW) == pytest.approx(direct, rel=1e-14)
    assert win_rate(LAW, LAW) == pytest.approx(0.5, rel=1e-15)


def test_calibrated_reward_is_mid_rank():
    np.testing.assert_allclose(calibrated_reward(LAW), [0.2, 0.55, 0.8, 0.95])


def test_soft_best_of_n_against_enumeration():
    beta, n = 0.7, 3
    v, p = LAW.values, LAW.probs
    out = np.zeros(len(LAW))
    for idx in itertools.product(range(len(LAW)), repeat=n):
        w = np.exp(v[list(idx)] / beta)
        pr = math.prod(p[list(idx)])
        for i in range(n):
            out[idx[i]] += pr * w[i] / w.sum()
    np.testing.assert_allclose(soft_best_of_n(LAW, n, beta).probs, out, rtol=1e-9)


def test_soft_best_of_n_limits():
    np.testing.assert_allclose(soft_best_of_n(LAW, 4, 1e-3).probs, best_of_n(LAW, n=4).probs, rtol=1e-9)
    far = soft_best_of_n(LAW, 20_000, 1.0)
    assert far.kl(LAW.tilt(1.0)) < soft_best_of_n(LAW, 200, 1.0).kl(LAW.tilt(1.0)) < 1e-2


def test_transform_policy_is_a_tilt_for_the_identity():
    np.testing.assert_allclose(transform_policy(LAW, lambda v: v, 0.5).probs, LAW.tilt(2.0).probs, rtol=1e-13)
    with pytest.raises(ValueError, match="beta"):
        transform_policy(LAW, lambda v: v, 0.0)
    with pytest.raises(ValueError, match="transform"):
        transform_policy(LAW, lambda v: v[:2], 1.0)
