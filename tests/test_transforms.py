import itertools
import math

import numpy as np
import pytest

from lmalign import RewardLaw, best_of_n
from lmalign.transforms import calibrated_reward, soft_best_of_n, transform_policy, win_rate

LAW = RewardLaw([0.0, 1.0, 2.0, 5.0], [0.4, 0.3, 0.2, 0.1])


def test_win_rate_against_enumeration():
    a = best_of_n(LAW, n=3)
    direct = sum(
        pa * pb * (1.0 if va > vb else 0.5 if va == vb else 0.0)
        for va, pa in zip(a.values, a.probs, strict=True)
        for vb, pb in zip(LAW.values, LAW.probs, strict=True)
    )
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


def test_soft_best_of_n_extreme_temperatures():
    """Tiny beta with large n: every level equals best-of-n in log space, even masses near e^-2466;
    huge beta: the reference law."""
    law = RewardLaw([0.0, 0.5, 1.0, 1.5, 3.0], [0.3, 0.25, 0.2, 0.15, 0.1])
    hard = best_of_n(law, n=2048)
    np.testing.assert_allclose(soft_best_of_n(law, 2048, 1e-5).logprobs, hard.logprobs, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(soft_best_of_n(law, 5, 1e9).probs, law.probs, rtol=1e-8)


def test_soft_best_of_n_two_levels_closed_form():
    """Two levels: the lower one is kept only through draws that are all low, or by the softmax choice
    among k low draws and n - k high ones: pi(low) = sum_k C(n,k) a^k b^(n-k) k / (k + (n-k) w)."""
    a, n, beta = 0.7, 12, 0.4
    law = RewardLaw([0.0, 1.0], [a, 1 - a])
    w = math.exp(1.0 / beta)
    low = sum(math.comb(n, k) * a**k * (1 - a) ** (n - k) * k / (k + (n - k) * w) for k in range(n + 1))
    assert soft_best_of_n(law, n, beta).probs[0] == pytest.approx(low, rel=1e-10)


def test_log_power_mean_calibration_against_exact_fractions():
    """u_N(v)^(N-1) = (F^N - F_-^N) / (N p(v)) in exact rational arithmetic, including a tiny top cell
    and a tiny bottom cell; best-of-N is then the transform policy with beta = 1/(N-1)."""
    from fractions import Fraction

    from lmalign.transforms import log_power_mean_calibration

    probs = [
        Fraction(1, 10**9),
        Fraction(3, 10),
        Fraction(2, 5),
        Fraction(3, 10) - Fraction(2, 10**9),
        Fraction(1, 10**9),
    ]
    law = RewardLaw([0.0, 1.0, 2.0, 3.0, 4.0], [float(q) for q in probs])
    for n in (2, 3, 7, 50):
        exact, below = [], Fraction(0)
        for q in probs:
            top = below + q
            ratio = (top**n - below**n) / (n * q)  # exact; its log from the integers (no underflow)
            exact.append((math.log(ratio.numerator) - math.log(ratio.denominator)) / (n - 1))
            below = top
        got = log_power_mean_calibration(law, n)
        np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-13)
        policy = transform_policy(law, lambda v, g=got: g, beta=1.0 / (n - 1))
        np.testing.assert_allclose(policy.logprobs, best_of_n(law, n=n).logprobs, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="n must be >= 2"):
        log_power_mean_calibration(law, 1)


def test_win_rate_stays_in_the_unit_interval_when_masses_sum_an_ulp_over_one():
    """A policy above every level of the reference wins with probability exactly 1; this reference's masses
    exp(log p) sum to 1 + 2.2e-16 in floats, which gave 1.0000000000000002 (found by the fuzz suite)."""
    from lmalign import RewardLaw
    from lmalign.transforms import win_rate

    probs = [0.056077687642032456, 0.3630585532620047, 0.1511112338130568, 0.11107865770955146, 0.3186738675733547]
    reference = RewardLaw([0.0, 1.0, 2.0, 3.0, 4.0], probs)
    policy = RewardLaw([10.0], [1.0])
    assert win_rate(policy, reference) == 1.0
    assert win_rate(reference, policy) == 0.0
