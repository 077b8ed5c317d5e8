"""The dtype dimension of the fuzz suite: every public function of ``tests/test_fuzz.py`` (the frontier aside) on
arguments of odd dtypes.

Each example draws the arguments of a case as ``test_fuzz`` does, picks one numeric argument (a number, a list
of numbers or a real array) and hands it over in another form:

- refused (``REFUSED``): complex, masked (with or without a masked entry), numpy object, boolean, datetime64,
  timedelta64, string and bytes, as arrays or numpy scalars. The call must raise a ``ValueError``; when the
  original arguments were accepted, its message must say what was wrong (``complex``, ``masked``, ...) and name
  the argument (where the signature tells its name).
- accepted (``KEPT``): ``float16`` and ``float32`` (upcast exactly), pandas ``Series`` with an index that does
  not start at 0, and 0-d arrays. The call must give exactly what it gives on the same values as plain
  ``float64`` numbers (or refuse both).

All calls go through ``fuzzutil.call``: a ``TypeError`` or a ``ComplexWarning`` from inside numpy fails the test.
This is the slow tier: every test takes the ``deep_fuzz`` fixture (examples per case).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from fuzzutil import REJECTED, call, check_result, describe, last_rejection, reset_time_limit
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import CASES, FUZZ

from lmalign import RewardLaw

EXAMPLES = 40
SCALE = float(os.environ.get("LMALIGN_FUZZ_SCALE", "1"))
# The frontier's own arguments are validated by the frontier modules (frontier.py, reward_files.py).
NOT_HERE = {"frontier", "default_ns", "example_rewards"}
# Cases whose work grows with an integer argument (a length or a size): examples with one above BIG_COUNT are
# left to test_fuzz, which times them once; here each example calls twice, and the forms do not depend on size.
# Arguments documented to take a decimal string (exact in mpmath): (case, position) -> the string form is kept.
TEXT_OK = {("mp_cgf", ("arg", 2))}
SIZED = {"RewardLaw.from_tokens", "law_of_sum", "markov_law", "markov_laws", "doob_chain", "MarkovSource.sample"}
BIG_COUNT = 1000

REFUSED = {  # form -> the word the refusal must contain
    "complex": "complex",
    "complex (real values)": "complex",
    "masked": "masked",
    "masked (none masked)": "masked",
    "object": "object",
    "boolean": "boolean",
    "datetime64": "datetime64",
    "timedelta64": "timedelta64",
    "string": "string",
    "bytes": "bytes",
}
KEPT = ("float16", "float32", "pandas", "0-d array")


@pytest.fixture(scope="session")
def deep_fuzz() -> int:
    """Examples per case of the dtype fuzz: ``EXAMPLES`` times ``LMALIGN_FUZZ_SCALE`` (at least 1)."""
    return max(1, round(EXAMPLES * SCALE))


@pytest.fixture(autouse=True)
def _full_time_limit():
    reset_time_limit()


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def numeric(v) -> bool:
    """A number, or a list, tuple or array (1-d or 2-d) of plain int and float entries."""
    if _is_number(v):
        return True
    if isinstance(v, np.ndarray):
        return type(v) is np.ndarray and v.dtype.kind in "iuf" and v.ndim in (1, 2)
    if isinstance(v, (list, tuple)):
        try:
            arr = np.asarray(v)
        except ValueError:
            return False
        return arr.dtype.kind in "iuf" and arr.ndim in (1, 2)
    return False


def _scalar(kind: str, v):
    """A number ``v`` in the odd form ``kind``."""
    x = float(v)
    with np.errstate(over="ignore"):
        return _scalar_forms(x, v)[kind]


def _scalar_forms(x: float, v) -> dict:
    return {
        "complex": np.complex128(complex(x, 1.0)),
        "complex (real values)": np.complex128(x),
        "masked": np.ma.masked_array(x, mask=True),
        "masked (none masked)": np.ma.masked_array(x, mask=False),
        "object": np.array(v, dtype=object),
        "boolean": np.bool_(x != 0),
        "datetime64": np.datetime64(0, "s"),
        "timedelta64": np.timedelta64(1, "s"),
        "string": np.str_(repr(v)),
        "bytes": np.bytes_(repr(v).encode()),
        "float16": np.float16(x),
        "float32": np.float32(x),
        "pandas": np.array(v),
        "0-d array": np.array(v),
    }


def _array(kind: str, v, draw):
    """A list or array ``v`` in the odd form ``kind``."""
    arr = np.asarray(v)
    if kind == "complex":
        return arr + 1j
    if kind == "complex (real values)":
        return arr.astype(complex)
    if kind.startswith("masked"):
        mask = np.zeros(arr.shape, dtype=bool)
        if kind == "masked" and arr.size:
            mask.reshape(-1)[draw(st.integers(0, arr.size - 1))] = True
        return np.ma.array(np.where(mask, 999.0, arr), mask=mask)  # the masked entry holds 999
    if kind == "object":
        return arr.astype(object)
    if kind == "boolean":
        return arr != 0
    if kind in ("datetime64", "timedelta64"):
        return np.zeros(arr.shape, dtype=f"{kind}[s]")
    if kind == "string":
        return arr.astype(str)
    if kind == "bytes":
        return arr.astype(bytes)
    if kind in ("float16", "float32"):
        with np.errstate(over="ignore"):
            return arr.astype(kind)
    if kind == "pandas":
        if arr.ndim == 1:
            return pd.Series(arr, index=range(7, 7 + arr.size))
        return pd.DataFrame(arr, index=range(7, 7 + arr.shape[0]))
    return arr  # "0-d array": an array stays an array


def odd_form(kind: str, v, draw):
    return _scalar(kind, v) if _is_number(v) else _array(kind, v, draw)


def plain_form(odd, original):
    """The values the odd form stands for, as ordinary numbers: the baseline of a ``KEPT`` form."""
    if isinstance(odd, (np.float16, np.float32)):
        return float(odd)
    if isinstance(odd, np.ndarray) and odd.dtype in (np.float16, np.float32):
        return odd.astype(float)
    if isinstance(odd, (pd.Series, pd.DataFrame)):
        return odd.to_numpy()  # its values as a plain array (a list of ints and floats becomes all floats)
    return original


def _target(fn):
    return inspect.unwrap(fn)


def argument_name(fn, args: tuple, kwargs: dict, slot) -> str | None:
    """The parameter of ``fn`` that ``slot`` (``("arg", i)`` or ``("kw", key)``) fills, when the signature
    tells (a lambda's own parameter names do not count)."""
    if slot[0] == "kw":
        return slot[1]
    target = _target(fn)
    if getattr(target, "__name__", "") == "<lambda>":
        return None
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    if isinstance(target, type):  # a class: its __init__ without self
        params = params[1:] if params and params[0].name == "self" else params
    i = slot[1]
    if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD):
        return params[i].name
    return None


def same_result(a, b, depth: int = 0) -> bool:
    """``a`` and ``b`` equal exactly (NaN equal to NaN), walking laws, arrays, containers and dataclasses."""
    if depth > 6:
        return True
    if a is REJECTED or b is REJECTED:
        return a is b
    if isinstance(a, RewardLaw) or isinstance(b, RewardLaw):
        return (
            type(a) is type(b)
            and np.array_equal(a.values, b.values)
            and np.array_equal(a.logprobs, b.logprobs, equal_nan=True)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return np.array_equal(a, b, equal_nan=True)
        return all(same_result(x, y, depth + 1) for x, y in zip(a.reshape(-1), b.reshape(-1), strict=True))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_result(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            same_result(getattr(a, f.name), getattr(b, f.name), depth + 1) for f in dataclasses.fields(a)
        )
    if isinstance(a, sp.Basic) and isinstance(b, sp.Basic):
        return a == b or sp.simplify(a - b) == 0
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return repr(a) == repr(b)


def _swap(args: tuple, kwargs: dict, slot, value) -> tuple[tuple, dict]:
    if slot[0] == "arg":
        return args[: slot[1]] + (value,) + args[slot[1] + 1 :], kwargs
    return args, {**kwargs, slot[1]: value}


def _get(args: tuple, kwargs: dict, slot):
    return args[slot[1]] if slot[0] == "arg" else kwargs[slot[1]]


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_HERE))
def test_odd_dtypes(name, deep_fuzz):
    """Complex, masked, object, boolean, date and text arguments are refused, naming what and where; float16,
    float32, pandas and 0-d arguments give the float64 answer."""
    case = CASES[name]

    @settings(FUZZ, max_examples=deep_fuzz)
    @given(data=st.data())
    def fuzz(data):
        a, kw = data.draw(case.inputs, label="arguments")
        if name in SIZED and any(_is_number(v) and abs(v) > BIG_COUNT for v in (*a, *kw.values())):
            return
        slots = [("arg", i) for i, v in enumerate(a) if numeric(v)] + [("kw", k) for k, v in kw.items() if numeric(v)]
        if not slots:
            return
        slot = data.draw(st.sampled_from(slots), label="argument")
        form = data.draw(st.sampled_from(sorted(REFUSED) + list(KEPT)), label="form")
        if form == "string" and (name, slot) in TEXT_OK:
            return
        original = _get(a, kw, slot)
        odd_a, odd_kw = _swap(a, kw, slot, odd_form(form, original, data.draw))
        what = describe(case.fn, odd_a, odd_kw)
        if form in REFUSED:
            accepted = call(case.fn, *a, **kw) is not REJECTED
            result = call(case.fn, *odd_a, **odd_kw)
            assert result is REJECTED, f"{what}: a {form} argument was accepted"
            if accepted:  # the other arguments are valid: the refusal is about this one
                message = last_rejection()
                assert REFUSED[form] in message, f"{what}: the refusal does not say {REFUSED[form]!r}: {message}"
                arg = argument_name(case.fn, a, kw, slot)
                assert arg is None or arg in message, f"{what}: the refusal does not name {arg!r}: {message}"
        else:
            plain_a, plain_kw = _swap(a, kw, slot, plain_form(_get(odd_a, odd_kw, slot), original))
            expected = call(case.fn, *plain_a, **plain_kw)
            result = call(case.fn, *odd_a, **odd_kw)
            check_result(result, what, case.kind)
            assert same_result(result, expected), (
                f"{what} ({form}) differs from the same values as float64: "
                f"{'refused: ' + last_rejection() if result is REJECTED else repr(result)[:300]} "
                f"against {'refused' if expected is REJECTED else repr(expected)[:300]}"
            )

    fuzz()
