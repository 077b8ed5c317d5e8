"""Property-based fuzzing of the public API on adversarial and ordinary inputs.

For every public function (``lmalign.book`` aside): it returns within ``fuzzutil.CALL_SECONDS`` (a SIGALRM time
limit per call), raises nothing but ``ValueError`` (and its subclasses), never returns NaN, returns laws whose
probabilities sum to 1 within 1e-12 on finite values, and never a negative divergence, KL or rate. Inputs come
from ``strategies``: float extremes (±1e308, subnormals, 0), parameters from 1e-300 to 1e300, negative, NaN and
infinite, huge integers (10**9, 10**18), empty, size-1 and tied laws, wrong types and mismatched lengths.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from fuzzutil import (
    MEMORY_HEADROOM,
    OUTCOMES,
    REJECTED,
    CallTimeout,
    call,
    check_law,
    check_nonneg,
    check_result,
    describe,
    last_rejection,
    reset_time_limit,
    time_limit,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from strategies import (
    WRONG_TYPES,
    adversarial_counts,
    adversarial_scalars,
    extreme_laws,
    finite_floats,
    laws_or_junk,
    n_or_log_n,
    positive_params,
    prob_lists,
    real_lists,
    values_and_probs,
)

from lmalign import (
    RewardLaw,
    best_of_n,
    bon_bounds,
    bon_vs_tilt,
    characteristic,
    divergences,
    kl_constrained,
    ldp,
    markov,
    memoryless,
    models,
    reference,
    subgaussian,
    symbolic,
    tail_expansion,
    tilting,
    transforms,
    win_frontier,
    wordmodel,
)
from lmalign import frontier as frontier_mod
from lmalign.best_of_n import bon_kl_bound, lattice_gumbel, log_minus_log_cdf, resolve_log_n

EXAMPLES = 50
# LMALIGN_FUZZ_SCALE multiplies the examples (e.g. 20 for a deep nightly run); LMALIGN_FUZZ_SHRINK=0 skips
# shrinking (a quick survey of every failing case). One bug is reported per case.
SCALE = float(os.environ.get("LMALIGN_FUZZ_SCALE", "1"))
PHASES = [p for p in Phase if p != Phase.shrink or os.environ.get("LMALIGN_FUZZ_SHRINK", "1") != "0"]
FUZZ = settings(
    max_examples=max(1, round(EXAMPLES * SCALE)),
    deadline=None,
    derandomize=True,
    database=None,
    phases=PHASES,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

X = adversarial_scalars
P = positive_params
L = laws_or_junk
N = adversarial_counts


def args(*strategies, **kw_strategies):
    """A strategy for ``(args, kwargs)``."""
    return st.tuples(st.tuples(*strategies), st.fixed_dictionaries(kw_strategies))


def with_n(*strategies):
    """``(args, kwargs)`` with the best-of-N size keywords ``n`` / ``log_n``."""
    return st.tuples(st.tuples(*strategies), n_or_log_n())


def vector_or_scalar(finite_only: bool = False):
    return st.one_of(X(finite_only), real_lists(0, 5).map(np.asarray), st.sampled_from(WRONG_TYPES))


# -- inputs that are objects of the library -----------------------------------------------------------------------
@st.composite
def markov_sources(draw):
    """A valid MarkovSource on 1..3 states (zero transitions, periodic and reducible chains, extreme rewards),
    or not a source at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(WRONG_TYPES))
    k = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(("random", "random", "random", "cycle", "identity", "memoryless")))
    if kind == "cycle":
        P = np.roll(np.eye(k), 1, axis=1)
    elif kind == "identity":
        P = np.eye(k)
    else:
        w = (
            np.array(
                draw(
                    st.lists(st.sampled_from((0.0, 1e-300, 0.2, 1.0)) | st.floats(0, 1), min_size=k * k, max_size=k * k)
                )
            ).reshape(k, k)
            + np.eye(k) * 1e-3
        )
        P = w / w.sum(axis=1, keepdims=True)
        if kind == "memoryless":
            P = np.tile(P[0], (k, 1))
    mu = np.full(k, 1.0 / k)
    r = draw(st.lists(st.one_of(st.sampled_from((0.0, 1.0, -1.0, 0.5, 2.0)), finite_floats()), min_size=k, max_size=k))
    return markov.MarkovSource(mu, P, r)


def sources():
    return markov_sources()


SYM = sp.Symbol("l")


def sym_numbers():
    return st.one_of(
        finite_floats(),
        st.integers(-5, 5),
        st.sampled_from(
            (sp.Rational(1, 3), sp.Rational(2, 3), sp.Symbol("p", positive=True), sp.nan, sp.oo, "x", None)
        ),
    )


def sym_lists():
    return st.one_of(st.lists(sym_numbers(), min_size=0, max_size=3), st.sampled_from((None, 3, "ab")))


def sym_vars():
    return st.one_of(st.just(SYM), st.just(SYM), st.sampled_from(("l", None, 1.0, sp.Integer(2))))


def sym_exprs():
    a, b = sp.Rational(1, 2), sp.Rational(1, 3)
    return st.one_of(
        st.sampled_from(
            (
                symbolic.bernoulli_cgf(a, 0, 1, SYM),
                symbolic.bernoulli_cgf(b, -1, 2, SYM),
                SYM**2 / 2,
                sp.exp(SYM),
                sp.Integer(0),
                sp.log(SYM),
            )
        ),
        st.sampled_from(("x", None, 1.0)),
    )


TRANSFORMS = (
    np.tanh,
    np.negative,
    lambda v: v**3,
    lambda v: np.full_like(v, np.nan),
    lambda v: np.full_like(v, -np.inf),
    lambda v: v[:-1],
    lambda v: "x",
    np.exp,
)


def directories():
    return st.sampled_from((None, "/nonexistent/wordmodel", "", ".", "/", "tests", 3, b"/tmp"))


def tokens_and(*more):
    """``(p, r, *more)``: a token law and rewards of matching length (broken now and then), then ``more``."""
    return values_and_probs(4).flatmap(lambda vp: args(st.just(vp[1]), st.just(vp[0]), *more))


def prob_pair(*more):
    """``(p, q, *more)``: two probability vectors of one length (now and then broken or of another length)."""
    return st.integers(1, 6).flatmap(lambda k: args(prob_lists(size=k), prob_lists(size=k), *more))


def orders():
    """A Renyi order: ordinary (0.5, 2, 1, inf), tiny, huge, or adversarial."""
    return st.one_of(st.sampled_from((0.5, 1.0, 2.0, math.inf, 1e-300, 1e300, 1 + 1e-12)), X())


def _points(law: RewardLaw):
    """A level, a point between the extreme levels, or anything (outside, NaN, junk, arrays)."""
    lo, hi = float(law.values[0]), float(law.values[-1])
    return st.one_of(st.sampled_from(law.values.tolist()), st.floats(lo, hi), vector_or_scalar())


def law_and_budget():
    """``(law, delta)``: budgets at the edges of the law (0, ``D_max`` and within rounding of it), inside, or
    anything."""

    def pair(law):
        m = law.max_kl
        return args(
            st.just(law),
            st.one_of(
                st.sampled_from((0.0, 5e-324, 1e-300, m, m * (1 - 1e-15), m * (1 + 1e-15), m + 1.0)),
                st.floats(0.0, max(m, 1e-300)),
                P(),
            ),
        )

    return extreme_laws().flatmap(pair)


def law_and_point():
    """``(law, x)`` with ``x`` mostly inside the law's range, where rates and inverses are finite."""
    return extreme_laws().flatmap(lambda law: args(st.just(law), _points(law)))


def source_and_point():
    """``(source, x)`` with ``x`` mostly between the least and largest token reward."""

    def pair(src):
        if not isinstance(src, markov.MarkovSource):
            return args(st.just(src), X())
        lo, hi = float(src.reward.min()), float(src.reward.max())
        return args(st.just(src), st.one_of(st.floats(lo, hi), st.sampled_from(src.reward.tolist()), X()))

    return sources().flatmap(pair)


@st.composite
def sym_law(draw):
    """``(probs, values, var)`` for a symbolic law: exact, float or symbolic probabilities (now and then junk)."""
    p = sp.Symbol("p", positive=True)
    probs = draw(
        st.sampled_from(
            (
                [sp.Rational(1, 3), sp.Rational(2, 3)],
                [0.5, 0.5],
                [1 - p, p],
                [1.0],
                [sp.Rational(1, 2)] * 2,
                [1e-300, 1 - 1e-300],
            )
        )
    )
    values = draw(st.lists(st.one_of(finite_floats(), st.integers(-3, 3)), min_size=len(probs), max_size=len(probs)))
    if draw(st.integers(0, 4)) == 0:
        return draw(args(sym_lists(), sym_lists(), sym_vars()))
    return (probs, values, draw(sym_vars())), {}


def frontier_args():
    """Reward samples (extremes, ties, NaN now and then) or a law, with ordinary settings most of the time."""
    rewards = st.one_of(
        real_lists(1, 12),
        extreme_laws(),
        st.lists(st.sampled_from((0.0, 1.0, 2.0, -1e308, 1e308, 5e-324, 1e-300)), min_size=1, max_size=40),
    )

    def groups(r):
        size = np.size(r) if not isinstance(r, RewardLaw) else 0
        return st.one_of(st.none(), st.none(), st.just(np.arange(size) % 3), st.sampled_from(([1, 2], "g")))

    def rest(r):
        return args(
            st.just(r),
            max_n=st.one_of(
                st.integers(1, 64), st.sampled_from((1, 2, 1024, 10**6, 10**6 + 1, 10**18, 0, -3, 2.5, None))
            ),
            n=st.one_of(
                st.none(),
                st.none(),
                st.lists(adversarial_counts(), max_size=3),
                st.sampled_from(([], "4", [0], [2**40])),
            ),
            groups=groups(r),
            bootstrap=st.sampled_from((0, 0, 0, 3, -1, 2.5)),
            confidence=st.sampled_from((0.95, 0.95, 0.5, 0.0, 1.0, math.nan)),
        )

    return rewards.flatmap(rest)


@pytest.fixture(autouse=True)
def _full_time_limit():
    reset_time_limit()


# -- the cases ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    fn: object
    inputs: st.SearchStrategy
    kind: str = "any"  # see fuzzutil.check_result
    examples: int = EXAMPLES


def method(name: str):
    """``RewardLaw.<name>`` as a function of the law and the method's arguments (named for messages)."""

    def run(law, *a, **kw):
        attr = getattr(law, name)
        return attr(*a, **kw) if callable(attr) else attr

    run.__qualname__ = f"RewardLaw.{name}"
    if callable(getattr(RewardLaw, name)):
        run.__wrapped__ = getattr(RewardLaw, name)  # inspect.signature: the method's parameters (self = the law)
    return run


def law_method(name: str, *strategies, kind: str = "any") -> Case:
    return Case(method(name), args(extreme_laws(), *strategies), kind)


CASES: dict[str, Case] = {
    # law.py
    "RewardLaw": Case(RewardLaw, values_and_probs().map(lambda vp: (vp, {})), "law"),
    "RewardLaw.from_logprobs": Case(
        RewardLaw.from_logprobs, values_and_probs(logs=True).map(lambda vp: (vp, {})), "law"
    ),
    "RewardLaw.from_samples": Case(
        RewardLaw.from_samples, args(st.one_of(real_lists(0, 8), st.sampled_from(WRONG_TYPES))), "law"
    ),
    "RewardLaw.from_tokens": Case(RewardLaw.from_tokens, tokens_and(N()), "law"),
    "RewardLaw.mean": law_method("mean"),
    "RewardLaw.var": law_method("var", kind="nonneg"),
    "RewardLaw.cgf": law_method("cgf", vector_or_scalar()),
    "RewardLaw.log_cdf": law_method("log_cdf"),
    "RewardLaw.log_sf": law_method("log_sf"),
    "RewardLaw.max_kl": law_method("max_kl", kind="nonneg"),
    "RewardLaw.kl": law_method("kl", L(), kind="nonneg"),
    "RewardLaw.tilt": law_method("tilt", X(), kind="law"),
    "RewardLaw.log_tilt_ratio": law_method("log_tilt_ratio", X()),
    "RewardLaw.rate": Case(method("rate"), law_and_point(), "nonneg"),
    # tilting.py
    "kl_constrained": Case(kl_constrained, law_and_budget()),
    "kl_regularized": Case(tilting.kl_regularized, args(L(), P()), "law"),
    "solve_lambda": Case(tilting.solve_lambda, law_and_budget()),
    "tilt_kl": Case(tilting.tilt_kl, args(L(), X()), "nonneg"),
    # best_of_n.py
    "best_of_n": Case(best_of_n, with_n(L()), "law"),
    "bon_kl_bound": Case(bon_kl_bound, with_n(), "nonneg"),
    "resolve_log_n": Case(resolve_log_n, with_n(), "nonneg"),
    "log_minus_log_cdf": Case(log_minus_log_cdf, args(L())),  # log(-log F): any sign
    "lattice_gumbel": Case(
        lattice_gumbel,
        args(
            P(),
            P(),
            P(),
            N(),
            st.one_of(st.floats(-3, 3), X()),
            st.one_of(st.floats(-3, 3), X()),
            log_shift=st.one_of(st.just(0.0), X()),
        ),
    ),
    # divergences.py
    "kl": Case(divergences.kl, prob_pair(), "nonneg"),
    "renyi_divergence": Case(divergences.renyi_divergence, prob_pair(orders()), "nonneg"),
    "renyi_cross_entropy": Case(divergences.renyi_cross_entropy, prob_pair(orders()), "nonneg"),
    "entropy": Case(divergences.entropy, args(prob_lists()), "nonneg"),
    "collision_entropy": Case(divergences.collision_entropy, args(prob_lists()), "nonneg"),
    "binary_entropy": Case(divergences.binary_entropy, args(vector_or_scalar()), "nonneg"),
    # ldp.py
    "aligned_rate": Case(
        ldp.aligned_rate,
        law_and_point().flatmap(
            lambda lx: args(
                st.just(lx[0][0]), X(), st.just(lx[0][1]), st.sampled_from(("kl", "legendre", "shift", "other"))
            )
        ),
        "nonneg",
    ),
    "cramer_rate": Case(ldp.cramer_rate, law_and_point(), "nonneg"),
    # characteristic.py
    "nonprincipal_modulus": Case(
        characteristic.nonprincipal_modulus, args(L(), X(), st.sampled_from((1e-9, 1e-14, 0.5, 0.0))), "unit"
    ),
    # tail_expansion.py
    "tail_correction_terms": Case(tail_expansion.tail_correction_terms, args(N())),
    "offset_moments": Case(tail_expansion.offset_moments, args(X(), X(), X(), X(), st.booleans(), N())),
    "tail_corrections": Case(
        tail_expansion.tail_corrections,
        args(L(), X(), X(), X(), X(), st.booleans(), st.sampled_from((1, 2, 4, 0, 7, 2.5))),
    ),
    "scaled_cgf": Case(ldp.scaled_cgf, args(L(), X(), vector_or_scalar())),
    "cgf_derivative": Case(ldp.cgf_derivative, args(L(), X(), N())),
    "cgf_derivatives": Case(ldp.cgf_derivatives, args(L(), X(), st.sampled_from((1, 2, 3, 8, 0, -1, 401, 2.5)))),
    "theta_of_mean": Case(ldp.theta_of_mean, law_and_point()),
    # transforms.py
    "win_rate": Case(transforms.win_rate, args(L(), L()), "unit"),
    "calibrated_reward": Case(transforms.calibrated_reward, args(L()), "unit"),
    "transform_policy": Case(transforms.transform_policy, args(L(), st.sampled_from(TRANSFORMS), P()), "law"),
    "soft_best_of_n": Case(transforms.soft_best_of_n, args(L(), N(), P()), "law"),
    "log_power_mean_calibration": Case(transforms.log_power_mean_calibration, args(L(), N())),
    # markov.py
    "MarkovSource": Case(
        markov.MarkovSource,
        st.integers(1, 3).flatmap(
            lambda k: args(
                prob_lists(size=k),
                st.one_of(st.lists(prob_lists(size=k), min_size=k, max_size=k), st.sampled_from(WRONG_TYPES)),
                real_lists(size=k),
            )
        ),
    ),
    "MarkovSource.memoryless": Case(markov.MarkovSource.memoryless, tokens_and()),
    "markov_law": Case(markov.markov_law, args(sources(), N()), "law"),
    "markov_laws": Case(markov.markov_laws, args(sources(), st.one_of(st.lists(N(), max_size=3), N()))),
    "markov_rate": Case(markov.markov_rate, source_and_point(), "nonneg"),
    "doob_kl_rate": Case(markov.doob_kl_rate, args(sources(), X()), "nonneg"),
    "log_spectral_radius": Case(markov.log_spectral_radius, args(sources(), vector_or_scalar())),
    "scaled_cgf_mean": Case(markov.scaled_cgf_mean, args(sources(), X())),
    "scaled_cgf_variance": Case(markov.scaled_cgf_variance, args(sources(), X()), "nonneg"),
    "theta_of_rate": Case(markov.theta_of_rate, source_and_point()),
    "period": Case(markov.period, args(sources())),
    "perron": Case(markov.perron, args(sources(), X())),
    "doob_chain": Case(markov.doob_chain, args(sources(), X(), N())),
    "stationary_doob": Case(markov.stationary_doob, args(sources(), X())),
    "asymptotic_partition": Case(markov.asymptotic_partition, args(sources(), X())),
    "MarkovSource.sample": Case(
        lambda s, n, m: s.sample(n, m, np.random.default_rng(0)),
        args(sources().filter(lambda s: isinstance(s, markov.MarkovSource)), N(), N()),
    ),
    # memoryless.py
    "law_of_sum": Case(memoryless.law_of_sum, tokens_and(N()), "law"),
    "token_tilt": Case(memoryless.token_tilt, tokens_and(X()), "unit"),
    # bon_bounds.py
    "binary_uniform_bon_kl": Case(bon_bounds.binary_uniform_bon_kl, with_n(), "nonneg"),
    "bon_kl_gap_bound": Case(bon_bounds.bon_kl_gap_bound, with_n(P()), "nonneg"),
    "bon_kl_estimate": Case(bon_bounds.bon_kl_estimate, with_n(st.one_of(X(), st.floats(0, 1))), "nonneg"),
    "bon_win_rate": Case(bon_bounds.bon_win_rate, with_n(L()), "unit"),
    "bon_win_rate_bound": Case(bon_bounds.bon_win_rate_bound, with_n(), "unit"),
    "bon_win_gap_bound": Case(bon_bounds.bon_win_gap_bound, with_n(P()), "nonneg"),
    # win_frontier.py
    "quantile_tilt_win": Case(win_frontier.quantile_tilt_win, args(vector_or_scalar()), "unit"),
    "quantile_tilt_kl": Case(win_frontier.quantile_tilt_kl, args(vector_or_scalar()), "nonneg"),
    "quantile_tilt_param": Case(win_frontier.quantile_tilt_param, args(P()), "nonneg"),
    "frontier_win": Case(win_frontier.frontier_win, args(P()), "unit"),
    "bon_frontier_gap": Case(win_frontier.bon_frontier_gap, with_n()),
    # subgaussian.py
    "subgaussian_variance_proxy": Case(
        subgaussian.subgaussian_variance_proxy,
        args(L(), st.sampled_from(("upper", "lower", "both", "x", None))),
        "nonneg",
    ),
    "subgaussian_optimum": Case(subgaussian.subgaussian_optimum, args(L(), st.sampled_from(("upper", "lower", 1)))),
    "subgaussian_gain_bound": Case(subgaussian.subgaussian_gain_bound, args(P(), P()), "nonneg"),
    "tilt_gain": Case(subgaussian.tilt_gain, args(L(), X())),
    "unit_scaled": Case(subgaussian.unit_scaled, args(L())),
    "discretised_gaussian": Case(
        subgaussian.discretised_gaussian,
        args(st.one_of(st.floats(1e-3, 1e3), X()), st.one_of(st.just(0.25), X()), st.one_of(st.just(24.0), X())),
        "law",
    ),
    # bon_vs_tilt.py
    "bon_log_ratio": Case(bon_vs_tilt.bon_log_ratio, with_n(L())),
    "bon_tilt_projection": Case(bon_vs_tilt.bon_tilt_projection, with_n(L())),
    "bon_affine_residual": Case(bon_vs_tilt.bon_affine_residual, with_n(L()), "nonneg"),
    # frontier.py
    "frontier": Case(frontier_mod.frontier, frontier_args(), examples=30),
    "default_ns": Case(frontier_mod.default_ns, args(N())),
    "example_rewards": Case(
        frontier_mod.example_rewards,
        args(
            st.sampled_from((1, 3, 0, -1, 10**9, 10**18, 2.5)),
            st.sampled_from((1, 5, 0, 10**9, None)),
            st.sampled_from((0, -1, 2**70, "s")),
        ),
    ),
    # models.py
    "uniform_law": Case(models.uniform_law, args(N()), "law"),
    "random_law": Case(
        lambda k, **kw: models.random_law(k, np.random.default_rng(1), **kw),
        args(N(), scale=X(), floor=st.one_of(st.just(1e-12), X())),
        "law",
    ),
    "random_token_model": Case(
        lambda k, **kw: models.random_token_model(k, np.random.default_rng(2), **kw),
        args(
            N(),
            reward=st.sampled_from(("mixed", "lattice", "continuous", "x")),
            uniform_mix=st.one_of(st.just(0.0), st.floats(0, 1), X()),
            floor=st.one_of(st.just(1e-12), st.floats(0, 1), X()),
        ),
    ),
    # reference.py
    "mp_probs": Case(reference.mp_probs, args(prob_lists())),
    "mp_cgf": Case(reference.mp_cgf, tokens_and(st.one_of(st.floats(-10, 10), X()))),
    # symbolic.py
    "symbolic_cgf": Case(symbolic.symbolic_cgf, sym_law()),
    "tilted_probs": Case(symbolic.tilted_probs, sym_law()),
    "tilt_kl_expr": Case(symbolic.tilt_kl_expr, args(sym_exprs(), sym_vars())),
    "legendre_transform": Case(
        symbolic.legendre_transform,
        args(sym_exprs(), sym_vars(), st.one_of(st.just(sp.Symbol("x")), sym_vars())),
        examples=20,
    ),
    "cumulant_series": Case(
        symbolic.cumulant_series,
        args(sym_exprs(), sym_vars(), st.one_of(st.integers(1, 8), N()), st.sampled_from((None, 0, 1.5, SYM))),
    ),
    "bernoulli_cgf": Case(symbolic.bernoulli_cgf, args(sym_numbers(), sym_numbers(), sym_numbers(), sym_vars())),
    # wordmodel.py
    "load_word_model": Case(wordmodel.load_word_model, args(directories()), examples=5),
}


def _check_special(name: str, result, what: str) -> None:
    """Properties beyond the generic ones, for results that hold a divergence or a law."""
    if result is REJECTED:
        return
    if name == "kl_constrained":
        check_law(result.law, what)
        check_nonneg(result.kl, f"{what}.kl")
        assert result.lam >= 0, f"{what}: negative lam {result.lam!r}"
    elif name == "bon_tilt_projection":
        check_nonneg(result[1], f"{what}[1] (a KL)")
    elif name == "markov_laws":
        for law in result.values():
            check_law(law, what)
    elif name == "frontier":
        for key in ("bon_kl", "bound", "curve_kl", "tilt_kl", "winfront_kl"):
            check_nonneg(getattr(result, key), f"{what}.{key}")
        for key in ("bon_win", "opt_win", "curve_win", "tilt_win", "winfront_win"):
            arr = np.asarray(getattr(result, key))
            assert ((arr >= 0) & (arr <= 1)).all(), f"{what}.{key} outside [0, 1]: {arr}"
    elif name == "doob_kl_rate" or name == "markov_rate":
        check_nonneg(result, what)


# Documented NaN: the unbiased estimate where N exceeds a prompt's samples, the top share where the gain is 0,
# and intervals that are undefined; everything else in a Frontier must be a number.
_FRONTIER_NAN_OK = ("bon_mean_unbiased", "opt_top_share", "ci")


def _generic(name: str, result):
    if name == "frontier" and result is not REJECTED:
        return {f: getattr(result, f) for f in result.__dataclass_fields__ if f not in _FRONTIER_NAN_OK}
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_function(name):
    """Every public function: in time, ``ValueError`` or a result without NaN, laws normalised, rates >= 0."""
    case = CASES[name]

    @settings(FUZZ, max_examples=max(1, round(case.examples * SCALE)))
    @given(data=st.data())
    def fuzz(data):
        a, kw = data.draw(case.inputs, label="arguments")
        result = call(case.fn, *a, **kw)
        OUTCOMES[name, "rejected" if result is REJECTED else "returned"] += 1
        what = describe(case.fn, a, kw)
        check_result(_generic(name, result), what, case.kind)
        _check_special(name, result, what)

    fuzz()


def valid_sizes():
    """Valid best-of-N sizes: ``n`` from 1 to 10**18 or ``log_n`` from 0 to 1e4 (the documented exact range)."""
    return st.one_of(
        st.integers(1, 10**6).map(lambda n: {"n": n}),
        st.sampled_from(({"n": 10**9}, {"n": 10**18})),
        st.floats(0.0, 1e4).map(lambda x: {"log_n": x}),
        st.sampled_from(({"log_n": 5e-324}, {"log_n": 1e-300}, {"log_n": 1e4})),
    )


def _answered(fn, *a, **kw):
    result = call(fn, *a, **kw)
    what = describe(fn, a, kw)
    assert result is not REJECTED, f"{what} refused valid input: {last_rejection()}"
    check_result(_generic(getattr(fn, "__name__", ""), result), what)
    return result


@FUZZ
@given(law=extreme_laws(), size=valid_sizes(), lam=finite_floats(), side=st.sampled_from(("upper", "lower")))
def test_valid_laws_are_answered(law, size, lam, side):
    """On every valid law (values to ±1e308 and subnormal, masses to e^-1e4) and valid size, the functions on
    laws in bon_vs_tilt, bon_bounds, subgaussian and frontier return numbers: no ValueError."""
    _answered(bon_vs_tilt.bon_log_ratio, law, **size)
    check_nonneg(_answered(bon_vs_tilt.bon_tilt_projection, law, **size)[1], "bon_tilt_projection D")
    check_nonneg(_answered(bon_vs_tilt.bon_affine_residual, law, **size), "bon_affine_residual")
    check_result(_answered(bon_bounds.bon_win_rate, law, **size), "bon_win_rate", "unit")
    check_nonneg(_answered(subgaussian.subgaussian_optimum, law, side)[0], "subgaussian_optimum")
    _answered(subgaussian.tilt_gain, law, lam)
    if size.get("n", 0) <= frontier_mod.MAX_N and "log_n" not in size:
        _answered(frontier_mod.frontier, law, max_n=max(size["n"], 1), progress=False)


@FUZZ
@given(
    rewards=st.lists(finite_floats(), min_size=1, max_size=30),
    data=st.data(),
    max_n=st.one_of(st.integers(1, 64), st.sampled_from((1024, 10**6))),
    bootstrap=st.sampled_from((0, 2)),
)
def test_valid_samples_are_answered(rewards, data, max_n, bootstrap):
    """frontier answers any finite samples (±1e308, subnormal, ties), pooled or per prompt, with numbers."""
    groups = (
        data.draw(st.lists(st.integers(0, 3), min_size=len(rewards), max_size=len(rewards)), label="groups")
        if bootstrap
        else None
    )
    fr = _answered(frontier_mod.frontier, rewards, max_n=max_n, groups=groups, bootstrap=bootstrap, progress=False)
    _check_special("frontier", fr, "frontier")


@FUZZ
@given(
    size=valid_sizes(),
    x=st.one_of(st.floats(0.0, 1.0), st.sampled_from((0.0, 5e-324, 1e-300, 1.0))),
    big=st.one_of(st.floats(0.0, 1e308), st.sampled_from((0.0, 5e-324, 1e-300, 708.0, 709.0, 1e308))),
)
def test_valid_scalars_are_answered(size, x, big):
    """The closed forms of bon_bounds and win_frontier answer every valid argument (``eps`` in ``[0, 1]``,
    ``H_2``, ``KL`` and ``c`` from 0 to 1e308)."""
    for fn in (bon_bounds.binary_uniform_bon_kl, bon_bounds.bon_win_rate_bound, win_frontier.bon_frontier_gap):
        _answered(fn, **size)
    check_nonneg(_answered(bon_bounds.bon_kl_estimate, x, **size), "bon_kl_estimate")
    check_nonneg(_answered(bon_bounds.bon_kl_gap_bound, big, **size), "bon_kl_gap_bound")
    check_nonneg(_answered(bon_bounds.bon_win_gap_bound, big, **size), "bon_win_gap_bound")
    check_nonneg(_answered(win_frontier.quantile_tilt_param, big), "quantile_tilt_param")
    check_result(_answered(win_frontier.frontier_win, big), "frontier_win", "unit")
    check_result(_answered(win_frontier.quantile_tilt_win, [big, -big]), "quantile_tilt_win", "unit")
    check_nonneg(_answered(win_frontier.quantile_tilt_kl, [big, -big]), "quantile_tilt_kl")
    check_nonneg(_answered(subgaussian.subgaussian_gain_bound, big, big), "subgaussian_gain_bound")


def test_every_public_function_is_fuzzed():
    """Each name in a module's ``__all__`` (of the modules that declare it) has a case, so the suite grows with
    the API."""
    covered = set(CASES) | {c.split(".")[-1] for c in CASES}
    data_only = {
        "Frontier",
        "RewardFileError",
        "RewardSamples",
        "example_file",
        "write_example",
        "read_rewards",
        "read_samples",
        "MAX_N",
        "__version__",
    }
    import lmalign

    for mod in (lmalign, bon_bounds, bon_vs_tilt, frontier_mod, subgaussian, win_frontier):
        missing = set(mod.__all__) - covered - data_only
        assert not missing, f"{mod.__name__}: no fuzz case for {sorted(missing)}"


# -- the time limit itself ------------------------------------------------------------------------------------------
def _slow(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # Python bytecode, so the alarm is delivered
        pass
    return "done"


def test_time_limit_catches_a_slow_call():
    """A deliberately slow callable is stopped and the failure names the function and its arguments."""
    with pytest.raises(CallTimeout, match=r"_slow\(5.0\) did not return within 0.2 s"):
        with time_limit(0.2, describe(_slow, (5.0,))):
            _slow(5.0)


def _swallows_first_alarm() -> str:
    try:
        _slow(5.0)
    except BaseException:  # noqa: BLE001 - as an alarm delivered inside a __del__ or a gc callback is lost
        pass
    return _slow(5.0)


def test_call_times_out_even_when_the_callee_swallows_the_first_alarm(monkeypatch):
    """``call`` applies the limit, its timeout passes through ``except Exception`` in the callee, and the alarm
    fires again when the first one is swallowed."""
    import fuzzutil

    monkeypatch.setattr(fuzzutil, "CALL_SECONDS", 0.2)
    with pytest.raises(CallTimeout, match=r"_swallows_first_alarm\(\) did not return within 0.2 s"):
        call(_swallows_first_alarm)


def test_time_limit_passes_a_quick_call_and_disarms():
    """A quick call returns its value and leaves no alarm armed behind it."""
    import signal

    with time_limit(5.0, "quick"):
        assert _slow(0.0) == "done"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _missing(key):
    return {}[key]


def _reraises_type_error():
    try:
        return np.zeros(2) + None
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def test_call_rejects_value_error_and_fails_on_other_exceptions():
    assert call(int, "not a number") is REJECTED
    with pytest.raises(pytest.fail.Exception, match=r"_missing\('k'\) raised KeyError"):
        call(_missing, "k")  # a KeyError is not a ValueError
    with pytest.raises(pytest.fail.Exception, match="unvalidated ValueError: .operands could not be broadcast"):
        call(np.add, np.zeros(2), np.zeros(3))  # numpy's own ValueError is not a refusal naming the argument
    with pytest.raises(pytest.fail.Exception, match="unvalidated ValueError: .unsupported operand"):
        call(_reraises_type_error)  # numpy's TypeError text passed on as a ValueError
    with pytest.raises(pytest.fail.Exception, match=r"log\('a'\) raised TypeError"):
        call(np.log, "a")  # a ufunc leaves no frame: named by the call alone
    with pytest.raises(pytest.fail.Exception, match=r"raised TypeError inside numpy"):
        call(np.mean, np.array(["a"]))
    with pytest.raises(pytest.fail.Exception, match="raised ComplexWarning"):
        call(float, np.complex128(1 + 2j))  # the imaginary part would be dropped with a warning only
    with pytest.raises(AssertionError, match="NaN"):
        check_result(float("nan"), "nan", "any")
    with pytest.raises(AssertionError):
        check_result(-1e-300, "neg", "nonneg")


def test_memory_cap_turns_a_runaway_allocation_into_memory_error():
    """Inside ``call``, an allocation beyond the headroom fails fast (a test failure, not a swap storm), while
    outside it the same (untouched) allocation succeeds: the cap, not the machine, refused it."""
    size = (MEMORY_HEADROOM + 2**30) // 8
    with pytest.raises(pytest.fail.Exception, match="MemoryError"):
        call(np.empty, size)
    assert np.empty(size).size == size  # virtual memory only: np.empty touches no page


def test_word_model_directory_with_garbage(tmp_path: Path):
    """A folder with a corrupt word list or metadata gives a ValueError (``WordModelError``), nothing else."""
    for words, meta in ((b"\xff\xfe", b"{}"), (b"rank,word\n", b"not json"), (b"", b"[]")):
        (tmp_path / "words.csv").write_bytes(words)
        (tmp_path / "metadata.json").write_bytes(meta)
        assert call(wordmodel.load_word_model, tmp_path) is REJECTED
