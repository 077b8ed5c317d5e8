"""Every public function rejects bad input with a ValueError that names the argument and the problem."""

import copy
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy as sp

from lmalign import RewardLaw, best_of_n, kl_constrained, ldp, markov, models, reference, symbolic, tilting, transforms
from lmalign import divergences as dv
from lmalign.best_of_n import bon_kl_bound, resolve_log_n

LAW = RewardLaw([0.0, 1.0, 3.0], [0.5, 0.3, 0.2])
NAN, INF = float("nan"), float("inf")
l = sp.Symbol("l")  # noqa: E741

CASES = [
    # RewardLaw and its constructors
    ("ctor negative", lambda: RewardLaw([0, 1], [1.5, -0.5]), "probs contains a negative"),
    ("ctor nan prob", lambda: RewardLaw([0, 1], [0.5, NAN]), "probs contains NaN"),
    ("ctor inf prob", lambda: RewardLaw([0, 1], [0.5, INF]), "probs contains an infinite"),
    ("ctor sum", lambda: RewardLaw([0, 1], [0.5, 0.5 + 2e-9]), "probs must sum to 1"),
    ("ctor lengths", lambda: RewardLaw([0, 1, 2], [0.5, 0.5]), "different lengths"),
    ("ctor empty", lambda: RewardLaw([], []), "values is empty"),
    ("ctor 2d", lambda: RewardLaw([[0, 1]], [[0.5, 0.5]]), "one-dimensional"),
    ("ctor text", lambda: RewardLaw(["a", "b"], [0.5, 0.5]), "values must be an array of real"),
    ("ctor inf value", lambda: RewardLaw([0, INF], [0.5, 0.5]), "values contains an infinite"),
    ("logprobs nan", lambda: RewardLaw.from_logprobs([0, 1], [NAN, 0.0]), "logprobs contains NaN"),
    ("logprobs +inf", lambda: RewardLaw.from_logprobs([0, 1], [INF, 0.0]), r"logprobs contains \+inf"),
    ("logprobs above 0", lambda: RewardLaw.from_logprobs([0, 1], [0.1, -5.0]), "above 0"),
    ("logprobs no mass", lambda: RewardLaw.from_logprobs([0, 1], [-INF, -INF]), "no mass"),
    ("logprobs sum", lambda: RewardLaw.from_logprobs([0, 1], [-1.0, -1.0]), "summing to 1"),
    ("logprobs empty", lambda: RewardLaw.from_logprobs([], []), "values is empty"),
    ("logprobs lengths", lambda: RewardLaw.from_logprobs([0, 1, 2], [0.0, -INF]), "different lengths"),
    ("samples empty", lambda: RewardLaw.from_samples([]), "rewards is empty"),
    ("samples inf", lambda: RewardLaw.from_samples([1.0, INF]), "rewards contains an infinite"),
    ("cgf nan", lambda: LAW.cgf(NAN), "t contains NaN"),
    ("cgf text", lambda: LAW.cgf("a"), "t must be an array of real"),
    ("tilt nan", lambda: LAW.tilt(NAN), "lam is NaN"),
    ("tilt text", lambda: LAW.tilt("a"), "lam must be a real"),
    ("log tilt ratio inf", lambda: LAW.log_tilt_ratio(INF), "lam must be finite"),
    ("kl other", lambda: LAW.kl([0.5, 0.5]), "other must be a RewardLaw"),
    ("rate nan", lambda: LAW.rate(NAN), "x contains NaN"),
    # tilting
    ("delta negative", lambda: kl_constrained(LAW, -0.1), "delta must be >= 0"),
    ("delta nan", lambda: kl_constrained(LAW, NAN), "delta is NaN"),
    ("delta text", lambda: kl_constrained(LAW, "big"), "delta must be a real"),
    ("kl_constrained law", lambda: kl_constrained([0.5, 0.5], 0.1), "law must be a RewardLaw"),
    ("solve_lambda law", lambda: tilting.solve_lambda(None, 0.1), "law must be a RewardLaw"),
    ("tilt_kl nan", lambda: tilting.tilt_kl(LAW, NAN), "lam is NaN"),
    ("tilt_kl law", lambda: tilting.tilt_kl("law", 1.0), "law must be a RewardLaw"),
    ("kl_regularized beta", lambda: tilting.kl_regularized(LAW, -1.0), "beta must be >= 0"),
    ("kl_regularized nan", lambda: tilting.kl_regularized(LAW, NAN), "beta is NaN"),
    # best-of-n
    ("bon neither", lambda: best_of_n(LAW), "exactly one of n and log_n"),
    ("bon both", lambda: best_of_n(LAW, n=2, log_n=1.0), "exactly one of n and log_n"),
    ("bon n zero", lambda: best_of_n(LAW, n=0), "n must be >= 1"),
    ("bon n negative", lambda: best_of_n(LAW, n=-3), "n must be >= 1"),
    ("bon n fraction", lambda: best_of_n(LAW, n=2.5), "n must be an integer"),
    ("bon n bool", lambda: best_of_n(LAW, n=True), "n must be an integer"),
    ("bon log_n negative", lambda: best_of_n(LAW, log_n=-0.5), "log_n must be >= 0"),
    ("bon log_n nan", lambda: best_of_n(LAW, log_n=NAN), "log_n is NaN"),
    ("bon log_n inf", lambda: best_of_n(LAW, log_n=INF), "log_n must be finite"),
    ("bon law", lambda: best_of_n([0.5, 0.5], n=2), "law must be a RewardLaw"),
    ("bound neither", lambda: bon_kl_bound(), "exactly one"),
    ("bound n", lambda: bon_kl_bound(n=0), "n must be >= 1"),
    ("resolve both", lambda: resolve_log_n(n=3, log_n=1.0), "exactly one"),
    # divergences
    ("kl lengths", lambda: dv.kl([0.5, 0.5], [1.0]), "different lengths"),
    ("kl sum", lambda: dv.kl([0.5, 0.6], [0.5, 0.5]), "p must sum to 1"),
    ("kl negative", lambda: dv.kl([0.5, 0.5], [1.5, -0.5]), "q contains a negative"),
    ("kl nan", lambda: dv.kl([0.5, NAN], [0.5, 0.5]), "p contains NaN"),
    ("kl empty", lambda: dv.kl([], []), "p is empty"),
    ("kl mixed", lambda: dv.kl(LAW, [0.5, 0.3, 0.2]), "must both be RewardLaws or both probability vectors"),
    ("renyi alpha zero", lambda: dv.renyi_divergence([0.5, 0.5], [0.5, 0.5], 0.0), "alpha must be > 0"),
    ("renyi alpha nan", lambda: dv.renyi_divergence([0.5, 0.5], [0.5, 0.5], NAN), "alpha must be > 0"),
    ("renyi alpha text", lambda: dv.renyi_divergence([0.5, 0.5], [0.5, 0.5], "two"), "alpha must be a real"),
    ("renyi lengths", lambda: dv.renyi_divergence([0.5, 0.5], [1.0], 2.0), "different lengths"),
    ("cross alpha", lambda: dv.renyi_cross_entropy([0.5, 0.5], [0.5, 0.5], -1.0), "alpha must be > 0"),
    ("cross lengths", lambda: dv.renyi_cross_entropy([0.5, 0.5], [1.0], 2.0), "q and s have different"),
    ("cross sum", lambda: dv.renyi_cross_entropy([0.5, 0.5], [0.5, 0.1], 2.0), "s must sum to 1"),
    ("entropy sum", lambda: dv.entropy([0.5, 0.4]), "p must sum to 1"),
    ("collision negative", lambda: dv.collision_entropy([1.5, -0.5]), "p contains a negative"),
    ("binary above", lambda: dv.binary_entropy(1.5), r"x must lie in \[0, 1\]"),
    ("binary nan", lambda: dv.binary_entropy([0.2, NAN]), r"x must lie in \[0, 1\]"),
    ("binary text", lambda: dv.binary_entropy("a"), "x must be an array of real"),
    # ldp
    ("theta outside", lambda: ldp.theta_of_mean(LAW, 3.5), "x=3.5 must lie inside"),
    ("theta one level", lambda: ldp.theta_of_mean(RewardLaw([1.0], [1.0]), 1.0), "at least two levels"),
    ("theta nan", lambda: ldp.theta_of_mean(LAW, NAN), "x is NaN"),
    ("theta law", lambda: ldp.theta_of_mean([0.5, 0.5], 0.5), "law must be a RewardLaw"),
    ("rate form", lambda: ldp.aligned_rate(LAW, 0.1, 0.5, form="dual"), "form must be"),
    ("rate lam inf", lambda: ldp.aligned_rate(LAW, INF, 0.5), "lam must be finite"),
    ("rate lam nan", lambda: ldp.aligned_rate(LAW, NAN, 0.5), "lam is NaN"),
    ("rate x nan", lambda: ldp.aligned_rate(LAW, 0.1, [0.5, NAN]), "x contains NaN"),
    ("cramer law", lambda: ldp.cramer_rate(None, 0.5), "law must be a RewardLaw"),
    ("scaled lam", lambda: ldp.scaled_cgf(LAW, NAN, 0.5), "lam is NaN"),
    ("scaled t", lambda: ldp.scaled_cgf(LAW, 0.2, NAN), "t contains NaN"),
    ("cumulant k zero", lambda: ldp.cgf_derivative(LAW, 0.0, 0), "k must be >= 1"),
    ("cumulant k fraction", lambda: ldp.cgf_derivative(LAW, 0.0, 1.5), "k must be an integer"),
    ("cumulant lam", lambda: ldp.cgf_derivative(LAW, INF, 2), "lam must be finite"),
    # transforms
    ("win policy", lambda: transforms.win_rate([0.5, 0.5], LAW), "policy must be a RewardLaw"),
    ("win reference", lambda: transforms.win_rate(LAW, None), "reference must be a RewardLaw"),
    ("calibrated law", lambda: transforms.calibrated_reward([0.5, 0.5]), "law must be a RewardLaw"),
    ("transform beta zero", lambda: transforms.transform_policy(LAW, np.sqrt, 0.0), "beta must be finite"),
    ("transform beta inf", lambda: transforms.transform_policy(LAW, np.sqrt, INF), "beta must be finite"),
    ("transform beta nan", lambda: transforms.transform_policy(LAW, np.sqrt, NAN), "beta is NaN"),
    ("transform shape", lambda: transforms.transform_policy(LAW, lambda v: v[:1], 1.0), "transform must map"),
    ("transform nan", lambda: transforms.transform_policy(LAW, lambda v: v * NAN, 1.0), "transform must map"),
    ("transform +inf", lambda: transforms.transform_policy(LAW, lambda v: v + INF, 1.0), "transform must map"),
    ("soft n", lambda: transforms.soft_best_of_n(LAW, 0, 1.0), "n must be >= 1"),
    ("soft beta", lambda: transforms.soft_best_of_n(LAW, 4, -1.0), "beta must be >= 0"),
    ("soft beta zero", lambda: transforms.soft_best_of_n(LAW, 4, 0.0), "beta must be finite and > 0"),
    ("soft law", lambda: transforms.soft_best_of_n([0.5, 0.5], 4, 1.0), "law must be a RewardLaw"),
    # symbolic
    ("cgf empty", lambda: symbolic.symbolic_cgf([], [], l), "probs is empty"),
    ("cgf lengths", lambda: symbolic.symbolic_cgf([1], [0, 1], l), "different lengths"),
    ("cgf var", lambda: symbolic.symbolic_cgf([1], [0], "l"), "var must be a sympy Symbol"),
    ("kl expr var", lambda: symbolic.tilt_kl_expr(sp.log(1 + l), 2), "var must be a sympy Symbol"),
    ("cumulant order", lambda: symbolic.cumulant_series(sp.log(1 + l), l, 0), "order must be an integer"),
    ("legendre none", lambda: symbolic.legendre_transform(l, l, sp.Symbol("x")), "no closed-form"),
]


@pytest.mark.parametrize(("call", "msg"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_named_value_error(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_inputs_at_the_edge_are_accepted():
    """What is allowed, next to what is rejected: sums within 1e-9, zero mass, log_n = 0, n = 1."""
    law = RewardLaw([0, 1], [0.5, 0.5 + 5e-10])
    assert len(law) == 2
    assert len(RewardLaw([0, 1, 2], [0.5, 0.0, 0.5])) == 2
    assert best_of_n(LAW, log_n=0.0) is LAW and best_of_n(LAW, n=1) is LAW
    assert best_of_n(LAW, n=np.int64(3)).kl(LAW) == best_of_n(LAW, n=3).kl(LAW)
    assert kl_constrained(LAW, INF).lam == math.inf
    assert ldp.theta_of_mean(LAW, 0.0) == -math.inf


# -- odd dtypes: refused before any conversion could drop a mask, an imaginary part or a type --------------------
MASKED_999 = np.ma.array([1.0, 2.0, 999.0], mask=[0, 0, 1])
SOURCE = markov.MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])

DTYPE_CASES = [
    ("complex values", lambda: RewardLaw(np.array([1 + 5j, 2]), [0.5, 0.5]), "values .*complex array"),
    (
        "complex values, no imaginary part",
        lambda: RewardLaw(np.array([1, 2], dtype=complex), [0.5, 0.5]),
        "values .*complex",
    ),
    ("complex probs", lambda: RewardLaw([1, 2], np.array([0.5 + 0.1j, 0.5 - 0.1j])), "probs .*complex array"),
    (
        "complex logprobs",
        lambda: RewardLaw.from_logprobs([1, 2], np.log([0.5, 0.5]).astype(complex)),
        "logprobs .*complex",
    ),
    ("complex lam", lambda: LAW.tilt(np.complex128(1 + 1j)), "lam must be a real number, got a complex"),
    ("complex t", lambda: LAW.cgf(np.array([0.5j])), "t must be an array of real numbers, got a complex"),
    ("complex delta", lambda: kl_constrained(LAW, np.complex128(0.1)), "delta .*complex"),
    ("complex n", lambda: best_of_n(LAW, n=np.complex128(3)), "n must be an integer >= 1, got a complex"),
    ("complex token probs", lambda: RewardLaw.from_tokens(np.array([0.5, 0.5], complex), [0, 1], 3), "p .*complex"),
    ("complex kl", lambda: dv.kl(np.array([0.5, 0.5j]), [0.5, 0.5]), "p .*complex"),
    ("complex transition", lambda: markov.MarkovSource([1.0], np.ones((1, 1), complex), [0.0]), "transition .*complex"),
    ("complex symbolic", lambda: symbolic.symbolic_cgf(np.array([0.5, 0.5j]), [0, 1], l), "probs .*complex"),
    ("complex alpha", lambda: dv.renyi_divergence([0.5, 0.5], [0.5, 0.5], np.complex128(2 + 1j)), "alpha .*complex"),
    ("complex mp", lambda: reference.mp_cgf([0.5, 0.5], [0, 1], np.complex128(1j)), "t .*complex"),
    ("complex transform", lambda: transforms.transform_policy(LAW, lambda v: v + 1j, 1.0), "transform must map"),
    ("masked samples", lambda: RewardLaw.from_samples(MASKED_999), "rewards .*masked array"),
    ("masked values", lambda: RewardLaw(MASKED_999, [0.2, 0.3, 0.5]), "values .*masked"),
    ("masked, nothing masked", lambda: RewardLaw(np.ma.array([1.0, 2.0]), [0.5, 0.5]), "values .*masked"),
    ("masked scalar", lambda: LAW.tilt(np.ma.masked_array(0.5, mask=True)), "lam .*masked"),
    ("masked lengths", lambda: markov.markov_laws(SOURCE, np.ma.array([2, 999], mask=[0, 1])), "lengths .*masked"),
    ("masked binary", lambda: dv.binary_entropy(np.ma.array([0.5, 7.0], mask=[0, 1])), "x .*masked"),
    ("bool values", lambda: RewardLaw(np.array([True, False]), [0.5, 0.5]), "values .*boolean"),
    ("bool probs", lambda: dv.entropy(np.array([True, False])), "p .*boolean"),
    ("bool lam", lambda: LAW.tilt(True), "lam .*boolean"),
    ("object values", lambda: RewardLaw(np.array([1.0, 2.0], dtype=object), [0.5, 0.5]), "values .*object array"),
    ("None in values", lambda: RewardLaw([1.0, None], [0.5, 0.5]), "values .*NoneType"),
    (
        "datetime values",
        lambda: RewardLaw(np.array(["2024-01-01", "2024-01-02"], "datetime64[D]"), [0.5, 0.5]),
        "values .*datetime64",
    ),
    ("timedelta lam", lambda: LAW.tilt(np.timedelta64(1, "s")), "lam .*timedelta64"),
    ("string values", lambda: RewardLaw(np.array(["1", "2"]), [0.5, 0.5]), "values .*string"),
    ("string lam", lambda: LAW.tilt("1.5"), "lam .*string"),
    ("bytes probs", lambda: dv.entropy(np.array([b"1"])), "p .*bytes"),
    ("huge int lam", lambda: LAW.tilt(10**400), "lam .*too large"),
    ("huge int value", lambda: RewardLaw([10**400, 0], [0.5, 0.5]), "values .*too large"),
    ("timedelta n", lambda: best_of_n(LAW, n=np.timedelta64(3, "s")), "n must be an integer >= 1, got a timedelta64"),
    ("string lam in a limit", lambda: markov.asymptotic_partition(SOURCE, np.str_("0.5")), "lam .*string"),
    ("0-d object lengths", lambda: markov.markov_laws(SOURCE, np.array(3, dtype=object)), "lengths .*object"),
    ("0-d symbolic probs", lambda: symbolic.symbolic_cgf(np.array(0.5), [1], l), "probs must be a one-dimensional"),
    ("bad seed", lambda: SOURCE.sample(3, 2, "seed"), "rng must be a numpy Generator or a seed"),
    ("negative seed", lambda: SOURCE.sample(3, 2, -1), "rng must be"),
    ("bad model seed", lambda: models.random_law(3, 1.5), "rng must be"),
]


@pytest.mark.parametrize(("call", "msg"), [c[1:] for c in DTYPE_CASES], ids=[c[0] for c in DTYPE_CASES])
def test_odd_dtype_is_refused_naming_the_argument(call, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the refusal
        with pytest.raises(ValueError, match=msg):
            call()


def test_real_inputs_in_other_forms_give_the_float64_answer():
    """pandas Series (index not from 0), 0-d arrays, float16/float32 (upcast exactly), Python ints, Fraction and
    sympy rationals: the same law or number as plain float64 input."""
    from fractions import Fraction

    values, probs = [0.0, 1.0, 3.0], [0.5, 0.25, 0.25]  # exact in float16
    base = RewardLaw(values, probs)
    for v, p in (
        (pd.Series(values, index=[7, 8, 9]), pd.Series(probs, index=[3, 2, 1])),
        (np.array(values, np.float16), np.array(probs, np.float32)),
        ([0, 1, 3], [Fraction(1, 2), 0.25, 0.25]),
        (values, [sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(1, 4)]),
    ):
        law = RewardLaw(v, p)
        assert np.array_equal(law.values, base.values) and np.array_equal(law.logprobs, base.logprobs)
    assert LAW.tilt(np.array(0.5)).kl(LAW) == LAW.tilt(0.5).kl(LAW)
    assert LAW.tilt(np.float16(0.5)).kl(LAW) == LAW.tilt(0.5).kl(LAW)
    assert LAW.tilt(1).kl(LAW) == LAW.tilt(1.0).kl(LAW)
    assert np.array_equal(LAW.cgf(pd.Series([0.5, 1.0], index=[4, 5])), LAW.cgf(np.array([0.5, 1.0])))
    kl3 = best_of_n(LAW, n=3).kl(LAW)
    assert best_of_n(LAW, n=np.array(3)).kl(LAW) == best_of_n(LAW, n=np.float32(3)).kl(LAW) == kl3
    assert np.array_equal(RewardLaw.from_samples(MASKED_999.compressed()).values, [1.0, 2.0])
    laws = markov.markov_laws(SOURCE, np.array(3))  # a 0-d array of lengths is one length
    assert list(laws) == [3] and np.array_equal(laws[3].logprobs, markov.markov_law(SOURCE, 3).logprobs)


@pytest.mark.parametrize(
    "seed",
    [None, 42, np.random.SeedSequence(7), np.random.default_rng(3), [1, 2]],
    ids=["None", "int", "SeedSequence", "Generator", "list"],
)
def test_markov_sample_takes_what_default_rng_takes(seed):
    """``sample(length, size, seed)``: paths of the right shape and states, and the draw numpy's
    ``default_rng(seed)`` makes (a Generator's stream continues; a seed gives the same paths twice)."""
    fresh = copy.deepcopy(seed)
    paths = SOURCE.sample(5, 3, seed)
    assert paths.shape == (3, 5) and paths.dtype.kind == "i" and set(np.unique(paths)) <= {0, 1}
    if seed is not None:
        assert np.array_equal(paths, SOURCE.sample(5, 3, np.random.default_rng(fresh)))
        chain = markov.doob_chain(SOURCE, 0.5, 4)
        assert np.array_equal(chain.sample(6, copy.deepcopy(fresh)), chain.sample(6, np.random.default_rng(fresh)))


def test_markov_sample_continues_a_generator():
    """Two draws from one Generator are the two successive draws of its stream, not a restart."""
    rng = np.random.default_rng(11)
    first, second = SOURCE.sample(6, 4, rng), SOURCE.sample(6, 4, rng)
    ref = np.random.default_rng(11)
    assert np.array_equal(first, SOURCE.sample(6, 4, ref)) and np.array_equal(second, SOURCE.sample(6, 4, ref))
    assert not np.array_equal(first, second)
