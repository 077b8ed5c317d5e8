"""``lmalign.book.bounds.kl_rounding``: a rounding bound of ``RewardLaw.kl`` against exact relative entropies.

The reference is computed by mpmath from the probabilities given to ``RewardLaw`` (doubles, taken as exact), with
enough bits that every sum and product of them is exact and 30 digits survive the cancellation of
``sum p log(p/q)``; it is recomputed at twice the precision to show those 30 digits.
"""

import mpmath as mp
import numpy as np
import pytest

from lmalign import RewardLaw
from lmalign.book.bounds import EPS, kl_rounding

BITS = 2300  # doubles span 2**-1074 .. 1: sums and products of a few dozen of them are exact at this precision


def kl_exact(p: np.ndarray, q: np.ndarray, bits: int = BITS) -> mp.mpf:
    """``D(p/sum p || q/sum q)`` in ``bits`` bits of mpmath from the doubles ``p`` and ``q``."""
    with mp.workprec(bits):
        sp, sq = mp.fsum(map(mp.mpf, p)), mp.fsum(map(mp.mpf, q))
        terms = [mp.mpf(a) / sp * mp.log(mp.mpf(a) * sq / (mp.mpf(b) * sp)) for a, b in zip(p, q, strict=True) if a > 0]
        return mp.fsum(terms)


def kl_30_digits(p: np.ndarray, q: np.ndarray) -> float:
    ref, check = kl_exact(p, q), kl_exact(p, q, 2 * BITS)
    assert abs(ref - check) <= mp.mpf(10) ** -30 * abs(check)
    return float(check)


def random_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two probability vectors on 2 to 12 levels with log-masses down to -700 (at a random depth), some masses
    of ``p`` zero."""
    k = int(rng.integers(2, 13))
    p, q = np.exp(rng.uniform(-rng.uniform(1, 700), 0, size=(2, k)))
    p[rng.random(k) < 0.2] = 0.0
    p[np.argmax(p)] = 1.0
    return p / p.sum(), q / q.sum()


def unscaled_bound(pi: RewardLaw, q: RewardLaw) -> float:
    """``kl_rounding`` without its factor ``1 + |log pi| + |log q|``: ``64 eps sum pi |d|`` (an ablation)."""
    lp, lq = pi.logprobs, q.logprobs
    return 64 * EPS * float(np.sum(pi.probs * np.abs(lp - lq)))


def test_kl_rounding_bounds_the_error_of_kl_on_random_laws():
    rng = np.random.default_rng(20260)
    worst = 0.0
    for _ in range(40):
        p, q = random_pair(rng)
        levels = np.arange(p.size, dtype=float)
        pi, law = RewardLaw(levels, p), RewardLaw(levels, q)
        err = abs(pi.kl(law) - kl_30_digits(p, q))
        worst = max(worst, err / kl_rounding(pi, law))
    assert worst <= 1.0, f"error {worst:.3g} times the bound"


def test_kl_rounding_needs_its_factor_where_logs_are_large():
    """Half the mass on a level where ``q`` has mass ``e^-x``, ``x`` from 600 to 700: ``log q`` is rounded to
    half a unit of 512 eps, ``D`` moves by about ``d`` times that, which is up to 4 times ``64 eps |d|``. The
    bound holds with its factor ``1 + |log pi| + |log q|`` and fails without it."""
    with_factor, without = 0.0, 0.0
    for x in np.linspace(600.0, 700.0, 41):
        p, q = np.array([0.5, 0.5]), np.array([-np.expm1(-x), np.exp(-x)])
        pi, law = RewardLaw([0.0, 1.0], p), RewardLaw([0.0, 1.0], q)
        err = abs(pi.kl(law) - kl_30_digits(p, q))
        with_factor = max(with_factor, err / kl_rounding(pi, law))
        without = max(without, err / unscaled_bound(pi, law))
    assert with_factor <= 1.0
    assert without > 1.0, f"64 eps sum pi |d| alone is not exceeded (worst {without:.3g}): the test sees nothing"


def test_kl_rounding_is_zero_for_equal_laws_and_inf_off_support():
    law = RewardLaw([0.0, 1.0, 2.0], [0.2, 0.3, 0.5])
    assert kl_rounding(law, law) == 0.0
    assert kl_rounding(law, RewardLaw([0.0, 1.0], [0.5, 0.5])) == pytest.approx(np.inf)


def test_the_examples_in_the_docstring_run():
    import doctest

    import lmalign.book.bounds

    failed, tried = doctest.testmod(lmalign.book.bounds)
    assert tried > 0 and failed == 0
