"""Input validation shared by every public function: clear ``ValueError`` naming the argument.

Every real input goes through :func:`real_array` (or :func:`real_scalar`, :func:`positive_int`), which look at
the type and dtype *before* converting: ``np.asarray(x, dtype=float)`` alone would drop the mask of a masked
array, keep only the real part of a complex array (with a warning), and turn booleans into 0 and 1. Refused,
with a ``ValueError`` naming the argument: complex, masked, boolean, object (numpy object arrays), datetime64 /
timedelta64, bytes and string arrays and scalars. Accepted and converted to ``float64``: Python and numpy
integers and floats of any width (``float16`` and ``float32`` are upcast exactly), 0-d arrays, lists and tuples
of real numbers (also ``fractions.Fraction``, ``decimal.Decimal``, sympy and mpmath reals) and pandas ``Series``
of real numbers.

Booleans are refused because a boolean array where rewards, probabilities or parameters are expected is almost
always a mask passed by mistake; ``x.astype(float)`` states the intent when 0 and 1 are meant.
"""

from __future__ import annotations

import decimal
import math
import numbers

import numpy as np

PROB_SUM_TOL = 1e-9

# dtype kinds that are not real numbers, and how a message names them
_ODD_KINDS = {
    "b": "boolean",
    "c": "complex",
    "M": "datetime64",
    "m": "timedelta64",
    "S": "bytes",
    "U": "string",
    "V": "structured",
    "O": "object",
}
_BOOL_HINT = " (use x.astype(float) if 0 and 1 are meant)"


def odd_input(x) -> str | None:
    """What makes ``x`` other than plain real numbers (``"a complex array"``, ``"a masked array ..."``), judged
    from its type and dtype without converting it; ``None`` for an int, float, real numpy scalar or real array.
    Lists and other sequences are not judged here (see :func:`real_array`)."""
    if isinstance(x, np.ma.MaskedArray):
        return "a masked array (its mask would be ignored: pass x.compressed() or x.filled(value))"
    if isinstance(x, (bool, np.bool_)):
        return "a boolean (pass float(x) if 0 or 1 is meant)"
    if isinstance(x, (complex, np.complexfloating)):
        return f"a complex number ({x!r})"
    if isinstance(x, (bytes, np.bytes_)):
        return f"a bytes string ({x!r:.40})"
    if isinstance(x, (str, np.str_)):
        return f"a string ({x!r:.40})"
    if isinstance(x, (np.datetime64, np.timedelta64)):
        return f"a {type(x).__name__} ({x!r:.40})"
    if isinstance(x, np.ndarray) and x.dtype.kind in _ODD_KINDS:
        what = f"a{'n' if x.dtype.kind == 'O' else ''} {_ODD_KINDS[x.dtype.kind]} array (dtype {x.dtype})"
        return what + (_BOOL_HINT if x.dtype.kind == "b" else "")
    return None


def _is_real_object(e) -> bool:
    return not isinstance(e, (bool, np.bool_)) and isinstance(e, (numbers.Real, decimal.Decimal))


def real_array(x, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """``x`` as a ``float64`` array of any shape; a ``ValueError`` naming ``name`` for anything but real numbers
    (see the module docstring), and for NaN unless ``allow_nan`` (infinite entries pass: the caller decides)."""
    arr = _real(x, name, "an array of real numbers")
    if not allow_nan and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def _real(x, name: str, expected: str) -> np.ndarray:
    """The dtype gate: ``x`` as a ``float64`` array, or a ``ValueError`` "``name`` must be ``expected``, got ..."."""
    what = odd_input(x)
    if what is not None:
        raise ValueError(f"{name} must be {expected}, got {what}")
    try:
        raw = x if isinstance(x, np.ndarray) else np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise ValueError(f"{name} must be {expected} ({exc})") from None
    if raw.dtype.kind == "O":  # a sequence of Python objects: each must be a real number
        bad = next((e for e in raw.reshape(-1) if not _is_real_object(e)), raw)
        if bad is not raw:
            raise ValueError(f"{name} must be {expected}, got an entry of type {type(bad).__name__} ({bad!r:.40})")
    elif raw.dtype.kind in _ODD_KINDS:
        raise ValueError(f"{name} must be {expected}, got {odd_input(raw)}")
    try:
        return raw if raw.dtype == np.float64 else raw.astype(float)
    except OverflowError:
        raise ValueError(f"{name} holds an integer too large for a float") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be {expected} ({exc})") from None


def real_vector(x, name: str) -> np.ndarray:
    """1-d float array of finite reals; raises ``ValueError`` naming ``name`` otherwise."""
    arr = real_array(x, name, allow_nan=True)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains an infinite value")
    return arr


def prob_vector(p, name: str = "probs") -> np.ndarray:
    """1-d probability vector: finite, non-negative, summing to 1 within ``PROB_SUM_TOL``."""
    arr = real_vector(p, name)
    if (arr < 0).any():
        raise ValueError(f"{name} contains a negative probability ({arr.min():.3g})")
    total = math.fsum(arr.tolist())
    if abs(total - 1.0) > PROB_SUM_TOL:
        raise ValueError(f"{name} must sum to 1 within {PROB_SUM_TOL:g}, sums to {total!r}")
    return arr


def log_prob_vector(logp, name: str = "logprobs") -> np.ndarray:
    """1-d vector of log-probabilities (``-inf`` allowed) whose exponentials sum to 1 within ``PROB_SUM_TOL``
    (the same tolerance as :func:`prob_vector`; the sum is taken in log space, so no mass underflows)."""
    arr = _log_prob_array(logp, name)
    log_total = _log_total(arr)
    if abs(math.expm1(log_total)) > PROB_SUM_TOL:
        raise ValueError(
            f"{name} must exponentiate to probabilities summing to 1 within {PROB_SUM_TOL:g}, "
            f"sums to {math.exp(log_total)!r}"
        )
    return arr


def _log_prob_array(logp, name: str) -> np.ndarray:
    arr = real_array(logp, name, allow_nan=True).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if (arr == np.inf).any():
        raise ValueError(f"{name} contains +inf")
    if (arr > math.log1p(PROB_SUM_TOL)).any():
        raise ValueError(f"{name} contains a log-probability above 0 ({arr.max():.3g})")
    if arr.max() == -np.inf:
        raise ValueError(f"{name} puts no mass anywhere")
    return arr


def _log_total(arr: np.ndarray) -> float:
    """``log sum exp(arr) = a_k + log1p(sum_{j != k} e^{a_j - a_k})`` with ``a_k`` the maximum: the other terms
    are summed exactly (``fsum``) and kept by ``log1p`` even when far below the rounding of 1."""
    k = int(np.argmax(arr))
    rest = np.exp(arr - arr[k])
    rest[k] = 0.0
    return float(arr[k]) + math.log1p(math.fsum(rest.tolist()))


def normalised_log_prob_vector(logp, name: str = "logprobs") -> np.ndarray:
    """:func:`log_prob_vector`, then renormalised exactly in log space: ``logp - log sum exp(logp)``."""
    arr = log_prob_vector(logp, name)
    return arr - _log_total(arr)


def normalised_logprobs(p, name: str = "probs") -> np.ndarray:
    """Log-probabilities of a :func:`prob_vector` (sum within ``PROB_SUM_TOL`` of 1), renormalised exactly:
    ``log p - log sum p`` (``-inf`` for zero mass)."""
    arr = prob_vector(p, name)
    with np.errstate(divide="ignore"):
        return np.log(arr) - math.log(math.fsum(arr.tolist()))


def same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} have different lengths ({a.size} and {b.size})")


def nonneg_real(x, name: str) -> float:
    """A real >= 0 (``+inf`` is allowed only where the caller checks it separately)."""
    val = real_scalar(x, name, allow_inf=True)
    if val < 0:
        raise ValueError(f"{name} must be >= 0, got {val!r}")
    return val


def nonneg_finite(x, name: str) -> float:
    """A finite real >= 0."""
    val = nonneg_real(x, name)
    if math.isinf(val):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return val


def positive_int(n, name: str) -> int:
    """An integer >= 1 (a Python or numpy integer, an integral float of any width, or a 0-d array of one)."""
    what = odd_input(n)
    if what is not None:
        raise ValueError(f"{name} must be an integer >= 1, got {what}")
    if isinstance(n, np.ndarray) and n.ndim == 0:
        n = n[()]
    if not isinstance(n, (int, np.integer)):
        if isinstance(n, (float, np.floating)) and math.isfinite(n) and float(n).is_integer():
            n = int(n)
        else:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def real_scalar(x, name: str, allow_inf: bool = False) -> float:
    """A real number (a Python, numpy, 0-d array or other real scalar), not NaN; infinite only if ``allow_inf``."""
    if isinstance(x, (float, int)) and not isinstance(x, bool):
        try:
            val = float(x)  # the common case, without an array
        except OverflowError:
            raise ValueError(f"{name} is an integer too large for a float") from None
    else:
        arr = _real(x, name, "a real number")
        if arr.ndim != 0:
            raise ValueError(f"{name} must be a real number, got an array of shape {arr.shape}")
        val = float(arr)
    if math.isnan(val):
        raise ValueError(f"{name} is NaN")
    if math.isinf(val) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {val!r}")
    return val


def generator(seed, name: str = "rng") -> np.random.Generator:
    """``np.random.default_rng(seed)``: a ``Generator`` is used as it is (its stream continues), and ``None``,
    an integer, a sequence of integers, a ``SeedSequence`` or a ``BitGenerator`` seed a new one; anything else is
    a ``ValueError`` naming ``name``."""
    if isinstance(seed, np.random.Generator):
        return seed
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be a numpy Generator or a seed that numpy.random.default_rng accepts "
            f"(None, a non-negative integer, a SeedSequence), got {seed!r:.60} ({exc})"
        ) from None
