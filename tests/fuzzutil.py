"""Helpers of the fuzz suite: a hard per-call time limit, a memory cap, and the checks every result must pass.

``call(fn, *args, **kwargs)`` runs ``fn`` under a SIGALRM time limit (``CALL_SECONDS``; ``SECONDS_AFTER_TIMEOUT``
once a test has timed out, so shrinking a hang takes seconds, not hours) and an address-space cap
(``MEMORY_HEADROOM`` above the current size, so a runaway allocation fails fast instead of swapping a shared
machine), returns its result, returns ``REJECTED`` when it raises a ``ValueError``, and fails the test, naming the
call, on any other exception (a ``TypeError`` raised inside numpy, scipy, sympy or math is named as such), on a
``ValueError`` that numpy, scipy or math raised themselves or that repeats the text of one of their
``TypeError``s (an unvalidated path: ``INTERNAL_VALUE_ERRORS``, ``INTERNAL_TYPE_ERRORS``), on a
``ComplexWarning`` (an imaginary part dropped silently) or on a timeout. ``check_result`` walks a result: no NaN
anywhere, every ``RewardLaw`` normalised to 1e-12 with finite values.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
import re
import resource
import signal
import warnings

import numpy as np
import pytest

from lmalign import RewardLaw

CALL_SECONDS = 10.0
REFIRE = 0.25
SECONDS_AFTER_TIMEOUT = 1.0  # once a test has timed out, shrinking its example uses this shorter limit
MEMORY_HEADROOM = 6 * 2**30  # bytes of address space a single call may add
LAW_SUM_TOL = 1e-12
REJECTED = object()  # the call raised a ValueError: bad input, clearly refused
# ValueErrors raised by numpy, scipy or math themselves: an unvalidated path, not a refusal naming the argument.
INTERNAL_VALUE_ERRORS = re.compile(
    r"operands could not be broadcast|math domain error|The function value at .* is NaN|f\(a\) and f\(b\) must "
    r"have different signs|array is too big|[Mm]aximum allowed (size|dimension)|setting an array element with a "
    r"sequence|could not convert string to float|inhomogeneous shape|zero-size array to reduction|cannot convert float "
    r"(NaN|infinity) to integer|negative dimensions are not allowed|a must be greater than 0|probabilities (do not sum "
    r"to 1|contain NaN|are not non-negative)"
)
# TypeErrors of numpy, scipy and Python's number conversions on strings, objects or complex numbers: a ValueError
# carrying one of these texts at its start re-raised an unvalidated failure instead of naming the argument.
INTERNAL_TYPE_ERRORS = re.compile(
    r"ufunc '?\w+'? (not supported|did not contain a loop)|unsupported operand type|'[<>]=?' not supported between|"
    r"float\(\) argument must be|can't convert complex|must be real number, not|Cannot cast|cannot convert .* to "
    r"float|bad operand type|only (integer|length-1|0-dimensional) (scalar )?arrays|The DType <class|"
    r"int\(\) argument must be|unhashable type|object of type .* has no len|'\w+' object is not (subscriptable|"
    r"iterable|callable)|the resolved dtypes are not compatible"
)
# Where an exception raised inside a dependency comes from (the file of the innermost frame of the traceback).
_DEPENDENCIES = re.compile(r"[/\\](numpy|scipy|sympy|mpmath|pandas)[/\\]")
_state = {"timed_out": False}
OUTCOMES: collections.Counter = collections.Counter()  # (case, "ok" or "rejected"): how the inputs fared


def last_rejection() -> str:
    """The message of the last ``ValueError`` that ``call`` turned into ``REJECTED``."""
    return _state.get("last_rejection", "")


def reset_time_limit() -> None:
    """Back to the full limit (call at the start of each test)."""
    _state["timed_out"] = False


class CallTimeout(pytest.fail.Exception):
    """A call ran past its time limit. A ``BaseException`` (as ``pytest.fail``): ``except Exception`` in the code
    under test cannot swallow it, and hypothesis still treats it as a failure and shrinks it."""


def _short(x, width: int = 400) -> str:
    with np.printoptions(threshold=8, edgeitems=3, precision=17):
        text = repr(x)
    return text if len(text) <= width else text[: width - 3] + "..."


def describe(fn, args: tuple = (), kwargs: dict | None = None) -> str:
    """``name(arg, ..., key=value)`` with long reprs cut, for failure messages."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Raise ``CallTimeout`` naming ``what`` if the block runs longer than ``seconds`` (main thread, POSIX).

    The alarm is checked between Python bytecodes, so a single long C call is caught when it returns. It fires
    again every ``REFIRE`` seconds until the block ends: an exception raised where Python ignores it (inside a
    garbage-collector callback or a ``__del__``) does not let the call run on unlimited."""

    def on_alarm(signum, frame):
        _state["timed_out"] = True
        raise CallTimeout(f"{what} did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, REFIRE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def memory_cap(headroom: int = MEMORY_HEADROOM):
    """Lower the soft ``RLIMIT_AS`` to the current size plus ``headroom`` for the block (restored after), so an
    oversized allocation raises ``MemoryError`` at once."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _address_space() + headroom
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError):  # no /proc or no rlimit: run uncapped
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def raised_inside(exc: BaseException) -> str | None:
    """The dependency (numpy, scipy, sympy, mpmath, pandas) that raised ``exc``: the file of the innermost frame
    of its traceback, or the module of its class (a C function such as a ufunc leaves no frame of its own);
    ``None`` when the library (or Python itself) raised it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    found = _DEPENDENCIES.search(tb.tb_frame.f_code.co_filename) if tb is not None else None
    if found:
        return found.group(1)
    module = type(exc).__module__.split(".")[0]
    return module if module in ("numpy", "scipy", "sympy", "mpmath", "pandas") else None


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` under the time limit and memory cap: its result, or ``REJECTED`` on ``ValueError``;
    any other exception (or a ``ComplexWarning``) fails the test with the call in the message."""
    what = describe(fn, args, kwargs)
    seconds = SECONDS_AFTER_TIMEOUT if _state["timed_out"] else CALL_SECONDS
    with memory_cap(), time_limit(seconds, what), warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            text = str(exc)
            if INTERNAL_VALUE_ERRORS.match(text) or INTERNAL_TYPE_ERRORS.match(text):  # at the start: a library
                pytest.fail(f"{what} raised an unvalidated {type(exc).__name__}: {_short(text, 300)}")  # may quote
            _state["last_rejection"] = f"{type(exc).__name__}: {exc}"
            return REJECTED
        except Exception as exc:  # noqa: BLE001 - the property under test
            inside = raised_inside(exc)
            where = f" inside {inside} (an unvalidated argument)" if inside else ""
            pytest.fail(f"{what} raised {type(exc).__name__}{where}: {_short(str(exc), 300)}")


def check_law(law: RewardLaw, what: str) -> None:
    """Finite values, sorted and distinct; log-probabilities <= 0, not NaN; probabilities summing to 1."""
    v, lp = np.asarray(law.values), np.asarray(law.logprobs)
    assert v.size >= 1 and v.shape == lp.shape, f"{what}: malformed law ({v.shape}, {lp.shape})"
    assert np.isfinite(v).all(), f"{what}: law has non-finite values {_short(v)}"
    assert (np.diff(v) > 0).all(), f"{what}: law values not strictly increasing {_short(v)}"
    assert not np.isnan(lp).any() and (lp <= 0).all(), f"{what}: bad log-probabilities {_short(lp)}"
    total = math.fsum(np.exp(lp).tolist())
    assert abs(total - 1.0) <= LAW_SUM_TOL, f"{what}: probabilities sum to {total!r}"


def check_no_nan(x, what: str, depth: int = 0) -> None:
    """No NaN in ``x`` or anything it holds (numbers, arrays, laws, tuples, lists, dicts, dataclasses)."""
    if depth > 6 or x is None or isinstance(x, (str, bytes, bool)):
        return
    if isinstance(x, RewardLaw):
        check_law(x, what)
    elif isinstance(x, (float, np.floating, complex, np.complexfloating)):
        assert not np.isnan(x), f"{what} returned NaN"
    elif isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":
            assert not np.isnan(x).any(), f"{what} returned an array with NaN: {_short(x)}"
        elif x.dtype == object:
            for item in x.reshape(-1)[:1000]:
                check_no_nan(item, what, depth + 1)
    elif isinstance(x, dict):
        for value in x.values():
            check_no_nan(value, what, depth + 1)
    elif isinstance(x, (list, tuple)):
        for item in x[:10_000]:
            check_no_nan(item, what, depth + 1)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            check_no_nan(getattr(x, f.name), f"{what}.{f.name}", depth + 1)
    elif hasattr(x, "has") and hasattr(x, "free_symbols"):  # a sympy expression
        import sympy as sp

        assert not x.has(sp.nan), f"{what} returned a sympy expression with nan: {_short(x)}"
    else:
        try:
            import mpmath

            if isinstance(x, (mpmath.mpf, mpmath.mpc)):
                assert not mpmath.isnan(x), f"{what} returned mpmath nan"
        except ImportError:  # pragma: no cover
            pass


def check_nonneg(x, what: str) -> None:
    """Every number in ``x`` (scalar or array) is >= 0 (``+inf`` allowed) and not NaN."""
    arr = np.asarray(x, dtype=float)
    assert not np.isnan(arr).any(), f"{what} returned NaN: {_short(x)}"
    assert (arr >= 0).all(), f"{what} returned a negative divergence/rate: {_short(x)}"


def check_unit(x, what: str) -> None:
    """Every number in ``x`` lies in ``[0, 1]`` (a probability or win rate)."""
    arr = np.asarray(x, dtype=float)
    assert not np.isnan(arr).any() and ((arr >= 0) & (arr <= 1)).all(), f"{what} outside [0, 1]: {_short(x)}"


def check_result(result, what: str, kind: str = "any") -> None:
    """``kind``: ``"any"`` (no NaN, laws normalised), ``"law"`` (a ``RewardLaw``), ``"nonneg"`` (a divergence,
    KL or rate: >= 0), ``"unit"`` (in ``[0, 1]``)."""
    if result is REJECTED:
        return
    check_no_nan(result, what)
    if kind == "law":
        assert isinstance(result, RewardLaw), f"{what} returned {type(result).__name__}, not a RewardLaw"
    elif kind == "nonneg":
        check_nonneg(result, what)
    elif kind == "unit":
        check_unit(result, what)
