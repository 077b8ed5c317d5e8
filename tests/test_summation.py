"""Compensated and pairwise sums against exact rational sums, at the bounds their docstrings prove."""

import math
from fractions import Fraction

import numpy as np
import pytest

from lmalign._summation import SMALL, compensated_sum, pairwise_roundings
from lmalign.law import RewardLaw, align

U = 2.0**-53


def exact(x: np.ndarray) -> Fraction:
    return sum((Fraction(float(v)) for v in x), Fraction(0))


def ill_conditioned(n: int, seed: int) -> np.ndarray:
    """Terms spanning 40 binary orders of magnitude whose sum cancels to about 1e-12 of their absolute sum."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n // 2) * np.exp2(rng.integers(-20, 20, n // 2))
    x = np.concatenate([x, -x * (1 + 1e-12 * rng.standard_normal(n // 2)), rng.standard_normal(n % 2)])
    return rng.permutation(x)


@pytest.mark.parametrize("n", [SMALL + 1, 2**17 + 17, 3 * 2**17 - 5])
def test_compensated_sum_within_its_bound(n):
    x = ill_conditioned(n, n)
    s = exact(x)
    bound = U * abs(float(s)) + 1e-27 * math.fsum(np.abs(x).tolist())
    err = abs(Fraction(compensated_sum(x)) - s)
    assert float(err) <= bound
    # the cancellation is real: a plain sum misses by far more than the bound
    assert float(abs(Fraction(float(np.sum(x))) - s)) > 10 * bound


def test_compensated_sum_small_and_non_finite():
    assert compensated_sum(np.array([1e300, 1.0, -1e300])) == 1.0
    assert compensated_sum(np.array([])) == 0.0
    big = np.ones(10 * SMALL)
    big[3] = np.inf
    assert compensated_sum(big) == np.inf
    big[4] = -np.inf
    assert math.isnan(compensated_sum(big))


def test_numpy_pairwise_sum_of_one_sign_within_the_stated_roundings():
    """The bound the law's frame and tilt KL rely on; a sequential sum of these terms is 1e4 times worse."""
    n = 2**22
    x = np.full(n, 0.1) * (1 + np.random.default_rng(0).uniform(0, 1e-3, n))
    s = math.fsum(x.tolist())  # correctly rounded: within u of the exact sum
    k = pairwise_roundings(n)
    assert abs(float(np.sum(x)) - s) <= (k * U / (1 - k * U) + U) * s
    assert abs(float(np.cumsum(x)[-1]) - s) > (k * U / (1 - k * U) + U) * s


def test_align_fast_paths_agree_with_the_union():
    rng = np.random.default_rng(1)
    values = np.sort(rng.standard_normal(50))
    p = rng.dirichlet(np.ones(50))
    law = RewardLaw(values, p)
    cases = [
        RewardLaw(values.copy(), rng.dirichlet(np.ones(50))),  # equal supports, another array
        RewardLaw(values[5:40], rng.dirichlet(np.ones(35))),  # inside
        RewardLaw(np.r_[values[:10], 7.0], rng.dirichlet(np.ones(11))),  # overlapping, not inside
        law,
    ]
    for other in cases:
        for a, b in ((law, other), (other, law)):
            vals, la, lb = align(a, b)
            union = np.union1d(a.values, b.values)
            assert np.array_equal(vals, union)
            for lx, x in ((la, a), (lb, b)):
                ref = np.full(union.size, -np.inf)
                ref[np.searchsorted(union, x.values)] = x.logprobs
                assert np.array_equal(lx, ref)
