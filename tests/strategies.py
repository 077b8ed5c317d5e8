"""Hypothesis strategies for random finite reward laws: skewed and flat probabilities, ties, wide ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lmalign import RewardLaw


@st.composite
def prob_vectors(draw, min_size: int = 2, max_size: int = 8) -> np.ndarray:
    """A probability vector with entries bounded away from 0: uniform, or skewed by a random exponent."""
    k = draw(st.integers(min_size, max_size))
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    skew = draw(st.sampled_from([0.0, 1.0, 3.0, 8.0]))  # 0: flat (uniform)
    w = raw**skew
    return w / w.sum()


@st.composite
def reward_laws(draw, min_size: int = 2, max_size: int = 8, integer: bool = False) -> RewardLaw:
    """A RewardLaw with ``min_size..max_size`` draws of values (ties possible) and random probabilities."""
    p = draw(prob_vectors(min_size, max_size))
    if integer:
        vals = draw(st.lists(st.integers(-5, 5), min_size=p.size, max_size=p.size))
    else:
        grid = st.integers(-3000, 3000).map(lambda k: k / 1000)
        vals = draw(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.0]) | grid,
                             min_size=p.size, max_size=p.size))
    law = RewardLaw(np.array(vals, dtype=float), p)
    if len(law) < 2:
        law = RewardLaw(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    return law


def random_policy_on(law: RewardLaw, rng: np.random.Generator) -> RewardLaw:
    """A random law on the same support (every level positive)."""
    w = rng.dirichlet(np.full(len(law), 0.7)) + 1e-3
    return RewardLaw(law.values, w / w.sum())
