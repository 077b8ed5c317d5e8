"""Shared token models and simple laws: sizes and parameters are validated before anything is allocated."""

import math

import numpy as np
import pytest

from lmalign.models import MAX_LEVELS, random_law, random_token_model, uniform_law


def test_uniform_law_and_random_models_are_valid():
    law = uniform_law(5)
    assert law.values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert math.fsum(law.probs.tolist()) == pytest.approx(1.0, abs=1e-15)
    p, r = random_token_model(6, np.random.default_rng(0), reward="lattice")
    assert p.size == r.size == 6 and np.unique(r).size > 1 and abs(p.sum() - 1) < 1e-12
    assert len(random_law(7, np.random.default_rng(1), scale=1e300)) == 7
    assert len(random_law(2.0, np.random.default_rng(1))) == 2  # an integral float, as every size argument


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: uniform_law(10**9), "too large"),  # allocated 8 GB (MemoryError) before
        (lambda: uniform_law(MAX_LEVELS + 1), "too large"),
        (lambda: random_token_model(10**18, np.random.default_rng(0)), "too large"),
        (lambda: random_law(10**18, np.random.default_rng(0)), "too large"),
        (lambda: random_token_model(1, np.random.default_rng(0)), "k "),
        (lambda: random_token_model(3, np.random.default_rng(0), floor=math.inf), "floor"),
        (lambda: random_token_model(3, np.random.default_rng(0), floor=math.nan), "floor"),
        (lambda: random_token_model(3, np.random.default_rng(0), floor=-1.0), "floor"),
        (lambda: random_law(3, np.random.default_rng(0), scale=math.nan), "scale"),
        (lambda: random_law(3, np.random.default_rng(0), scale="big"), "scale"),
    ],
)
def test_oversized_or_bad_parameters_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
