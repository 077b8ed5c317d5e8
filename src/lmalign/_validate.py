"""Input validation shared by every public function: clear ``ValueError`` naming the argument."""

from __future__ import annotations

import math

import numpy as np

PROB_SUM_TOL = 1e-9


def real_vector(x, name: str) -> np.ndarray:
    """1-d float array of finite reals; raises ``ValueError`` naming ``name`` otherwise."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
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
        raise ValueError(f"{name} must exponentiate to probabilities summing to 1 within {PROB_SUM_TOL:g}, "
                         f"sums to {math.exp(log_total)!r}")
    return arr


def _log_prob_array(logp, name: str) -> np.ndarray:
    try:
        arr = np.asarray(logp, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
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
    """An integer >= 1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        else:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def real_scalar(x, name: str, allow_inf: bool = False) -> float:
    """A real number, not NaN; infinite only if ``allow_inf``."""
    try:
        val = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {x!r}") from None
    if math.isnan(val):
        raise ValueError(f"{name} is NaN")
    if math.isinf(val) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {val!r}")
    return val


def real_array(x, name: str) -> np.ndarray:
    """A float array of any shape without NaN (infinite entries allowed; the caller decides)."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {x!r}") from None
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr
