"""Hypothesis strategies for random finite reward laws: skewed and flat probabilities, ties, wide ranges."""

from __future__ import annotations

import math

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
        vals = draw(
            st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.0]) | grid, min_size=p.size, max_size=p.size)
        )
    law = RewardLaw(np.array(vals, dtype=float), p)
    if len(law) < 2:
        law = RewardLaw(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    return law


def random_policy_on(law: RewardLaw, rng: np.random.Generator) -> RewardLaw:
    """A random law on the same support (every level positive)."""
    w = rng.dirichlet(np.full(len(law), 0.7)) + 1e-3
    return RewardLaw(law.values, w / w.sum())


# -- adversarial inputs for the fuzz suite (tests/test_fuzz.py) -----------------------------------------------------
EXTREME_FLOATS = (
    0.0,
    -0.0,
    5e-324,
    1e-320,
    -1e-320,
    2.2250738585072014e-308,
    1e-300,
    -1e-300,
    1e-16,
    1e-8,
    0.5,
    1.0,
    -1.0,
    2.0,
    3.0,
    -7.5,
    1e8,
    1e16,
    -1e16,
    1e150,
    1e300,
    -1e300,
    1e308,
    -1e308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
)
NONFINITE = (math.nan, math.inf, -math.inf)
WRONG_TYPES = ("a", "1.5", "", None, [1.0, 2.0], [[1.0], [2.0]], {"x": 1}, b"\x00", 1j, (), [])


def finite_floats() -> st.SearchStrategy[float]:
    """Finite floats: the extremes above (most of the time), ordinary values and anything else finite."""
    return st.one_of(
        st.sampled_from(EXTREME_FLOATS), st.floats(-10.0, 10.0), st.floats(allow_nan=False, allow_infinity=False)
    )


def adversarial_scalars(finite_only: bool = False) -> st.SearchStrategy:
    """A parameter (lambda, beta, delta, alpha, x, ...): finite extremes (two draws in three), NaN and
    infinities, wrong types."""
    if finite_only:
        return finite_floats()
    return _weighted((finite_floats(), 4), (st.sampled_from(NONFINITE), 1), (st.sampled_from(WRONG_TYPES), 1))


def positive_params() -> st.SearchStrategy:
    """A parameter that must be positive (beta, delta, alpha, sigma): ordinary, tiny, huge, or adversarial."""
    return _weighted(
        (st.floats(1e-3, 1e3), 2),
        (st.sampled_from((5e-324, 1e-300, 1e-12, 1e12, 1e300, 1e308)), 1),
        (adversarial_scalars(), 1),
    )


@st.composite
def _pick(draw, options: tuple):
    strategies = [s for s, w in options for _ in range(w)]
    return draw(strategies[draw(st.integers(0, len(strategies) - 1))])


def _weighted(*options: tuple) -> st.SearchStrategy:
    """``one_of`` with integer weights: ``_weighted((a, 3), (b, 1))`` draws ``a`` three times as often."""
    return _pick(options)


def adversarial_counts() -> st.SearchStrategy:
    """An integer parameter (n, k, length, levels): ordinary, huge (10**9, 10**18), zero and negative,
    integral and fractional floats, NaN, strings, None and booleans."""
    return st.one_of(
        st.integers(1, 64),
        st.sampled_from(
            (
                0,
                1,
                2,
                3,
                16,
                1000,
                10**6,
                10**9,
                10**18,
                2**63,
                -1,
                -(10**18),
                2.0,
                2.5,
                1e300,
                math.nan,
                math.inf,
                "4",
                None,
                True,
                np.int64(5),
                [2, 3],
            )
        ),
    )


def adversarial_log_ns() -> st.SearchStrategy:
    """A ``log_n``: 0, tiny, ordinary, at the float limits of ``e^log_n``, huge, infinite, negative, NaN."""
    return st.one_of(
        st.floats(0.0, 50.0),
        st.sampled_from(
            (
                0.0,
                -0.0,
                1e-320,
                1e-300,
                1e-12,
                0.5,
                1.0,
                10.0,
                700.0,
                709.9,
                710.0,
                745.0,
                1e4,
                1e5,
                1e15,
                1e300,
                1e308,
                math.inf,
                -1.0,
                -1e-300,
                math.nan,
                "1",
                None,
            )
        ),
    )


@st.composite
def n_or_log_n(draw) -> dict:
    """Keyword arguments for a best-of-N size: ``n``, ``log_n``, both (an error) or neither (an error)."""
    which = draw(st.sampled_from(("n", "n", "log_n", "log_n", "both", "neither")))
    kw = {}
    if which in ("n", "both"):
        kw["n"] = draw(adversarial_counts())
    if which in ("log_n", "both"):
        kw["log_n"] = draw(adversarial_log_ns())
    return kw


@st.composite
def extreme_laws(draw, max_size: int = 6) -> RewardLaw:
    """A valid RewardLaw built to be hard: 1..max_size levels (sometimes 64), ties, values from the float extremes
    (±1e308, subnormals, 0), masses from flat to ``e^-1e4`` relative, by ``RewardLaw`` or ``from_logprobs``."""
    k = draw(st.one_of(st.integers(1, max_size), st.just(64)))
    pool = draw(st.lists(finite_floats(), min_size=1, max_size=k))
    vals = np.array(draw(st.lists(st.sampled_from(pool), min_size=k, max_size=k)), dtype=float)
    logw = np.array(
        draw(
            st.lists(
                st.one_of(
                    st.floats(-5.0, 0.0), st.sampled_from((0.0, -1.0, -30.0, -700.0, -745.0, -800.0, -1e4, -math.inf))
                ),
                min_size=k,
                max_size=k,
            )
        )
    )
    if np.isneginf(logw).all():
        logw[0] = 0.0
    top = logw.max()
    logp = logw - (top + math.log(math.fsum(np.exp(logw - top).tolist())))
    if draw(st.booleans()):
        return RewardLaw.from_logprobs(vals, logp)
    p = np.exp(logp)
    return RewardLaw(vals, p / p.sum())


def laws_or_junk() -> st.SearchStrategy:
    """Mostly a hard valid law; sometimes an ordinary one, or not a law at all (one draw in nine)."""
    return _weighted((extreme_laws(), 6), (reward_laws(1, 5), 2), (st.sampled_from(WRONG_TYPES + (1.0,)), 1))


# Most draws are valid, so the computation itself is reached; the rest are broken in one way each.
_BROKEN_VECTORS = ("nonfinite", "empty", "junk", "longer", "shorter")


@st.composite
def real_lists(draw, min_size: int = 0, max_size: int = 6, size: int | None = None, valid: int = 10):
    """Vectors of reals from the extremes (length ``size`` if given), as lists or arrays; about one draw in
    ``valid + 1`` is broken: a NaN or infinity, empty, junk, or one entry too many or too few."""
    k = draw(st.integers(max(min_size, 1), max(max_size, 1))) if size is None else size
    kind = draw(st.sampled_from(("ok",) * valid + _BROKEN_VECTORS))
    if kind == "junk":
        return draw(st.sampled_from(WRONG_TYPES + ([["1.0"]], np.zeros((2, 2)))))
    if kind == "empty":
        return draw(st.sampled_from(([], np.zeros(0))))
    k = k + 1 if kind == "longer" else max(k - 1, 0) if kind == "shorter" else k
    xs = draw(st.lists(finite_floats(), min_size=k, max_size=k))
    if kind == "nonfinite" and xs:
        xs[draw(st.integers(0, len(xs) - 1))] = draw(st.sampled_from(NONFINITE))
    return draw(st.sampled_from((xs, np.array(xs, dtype=float))))


@st.composite
def prob_lists(draw, max_size: int = 6, size: int | None = None, valid: int = 10):
    """Probability-like vectors (length ``size`` if given): mostly valid, with zeros, subnormal and tiny masses;
    else slightly or badly off, negative, NaN, empty, nested, the wrong length or not numbers at all."""
    kind = draw(st.sampled_from(("valid",) * valid + ("tiny", "off", "negative", "nan", "empty", "junk", "length")))
    k = draw(st.integers(1, max_size)) if size is None else size
    if kind == "length":
        k = k + 1
    if kind in ("valid", "tiny", "length"):
        w = np.array(
            draw(
                st.lists(
                    st.sampled_from((0.0, 1e-320, 1e-300, 1e-12, 0.1, 1.0, 3.0)) | st.floats(0, 1),
                    min_size=k,
                    max_size=k,
                )
            )
        )
        if kind == "tiny":
            w[0] = 1.0
        if w.sum() == 0:
            w[-1] = 1.0
        return (w / w.sum()).tolist()
    if kind == "off":
        return np.full(k, 1.0 / k + draw(st.sampled_from((1e-6, -1e-3, 0.5, 1e300)))).tolist()
    if kind == "negative":
        return [-0.5] + [1.5 / k] * k
    if kind == "nan":
        return [math.nan] + [1.0 / k] * (k - 1)
    if kind == "empty":
        return draw(st.sampled_from(([], np.zeros(0), [[]])))
    return draw(st.sampled_from(WRONG_TYPES + ([[0.5, 0.5], [0.5, 0.5]], ["0.5", "0.5"])))


@st.composite
def logprob_lists(draw, size: int):
    """Log-probabilities of length ``size``: normalised log-weights down to ``-1e4`` and ``-inf`` (mostly), or a
    vector that is off (positive entries, unnormalised, NaN, all ``-inf``)."""
    w = np.array(
        draw(
            st.lists(
                st.one_of(st.floats(-5.0, 0.0), st.sampled_from((0.0, -30.0, -700.0, -745.0, -1e4, -math.inf))),
                min_size=size,
                max_size=size,
            )
        )
    )
    if np.isneginf(w).all():
        w[0] = 0.0
    lp = w - (w.max() + math.log(math.fsum(np.exp(w - w.max()).tolist())))
    kind = draw(st.sampled_from(("ok",) * 8 + ("plus", "unnormalised", "nan", "allinf")))
    if kind == "plus":
        lp = lp + 1e-6
    elif kind == "unnormalised":
        lp = lp - 1.0
    elif kind == "nan":
        lp[0] = math.nan
    elif kind == "allinf":
        lp[:] = -math.inf
    return lp.tolist()


@st.composite
def values_and_probs(draw, max_size: int = 6, logs: bool = False):
    """``(values, probs)`` (or log-probabilities) of matching length, each broken now and then."""
    k = draw(st.integers(1, max_size))
    vals = draw(real_lists(size=k))
    return vals, draw(logprob_lists(k) if logs else prob_lists(size=k))
