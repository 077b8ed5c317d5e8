"""Certified law at length 1e5 against an independent arb reference (python-flint ball arithmetic, 128 bits):
the saddle-point circular power of :mod:`arb_reference`, whose radius covers every rounding and the aliasing.
"""

import flint
import numpy as np
import pytest
from arb_reference import log_prob

from lmalign import RewardLaw
from lmalign.lattice_power import tolerance

WEIGHTS = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41]  # p = WEIGHTS / 1024: exact doubles, exact rationals
N_TOKENS = 100_000
D = len(WEIGHTS) - 1
PREC = 128


def reference(level: int) -> flint.arb:
    """``log P(S_n = level)`` as an arb ball."""
    return log_prob(WEIGHTS, N_TOKENS, level)


@pytest.fixture(scope="module")
def law():
    return RewardLaw.from_tokens(np.array(WEIGHTS) / 1024, np.arange(10.0), N_TOKENS)


LEVELS = sorted(
    {
        0,
        1,
        2,
        7,
        50,
        400,
        3000,
        20_000,
        80_000,
        150_000,
        250_000,
        300_000,
        330_000,
        345_000,
        350_000,
        355_000,
        360_000,
        380_000,
        420_000,
        500_000,
        600_000,
        700_000,
        800_000,
        880_000,
        899_000,
        899_950,
        899_997,
        899_999,
        900_000,
    }
)


def test_sampled_levels_within_their_certificates(law):
    flint.ctx.prec = PREC
    assert len(law) == N_TOKENS * D + 1
    for level in LEVELS:
        ref = reference(level)
        assert ref.rad() < 1e-20, (level, ref)  # the reference itself is far finer than the certificates
        mid = float(ref.mid())
        err = abs(law.logprobs[level] - mid) - float(ref.rad())
        assert err <= law.log_error[level], (level, law.logprobs[level], mid, law.log_error[level])
        assert law.log_error[level] <= tolerance(law.logprobs[level : level + 1])[0]
    assert law.logprobs[N_TOKENS * D] < -300_000  # both tails far below the smallest double, in log space


def test_reference_detects_a_wrong_value(law):
    """The reference is sharp enough to catch an error of 1e-9 in the log at a central and a tail level."""
    flint.ctx.prec = PREC
    for level in (355_000, 899_950):
        ref = reference(level)
        assert abs(law.logprobs[level] + 1e-9 - float(ref.mid())) - float(ref.rad()) > law.log_error[level]
