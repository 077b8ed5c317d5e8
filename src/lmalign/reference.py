"""High-precision references for the checks: probability vectors and laws in mpmath arithmetic.

A check compares the library's float result with an independent computation at ``mpmath.mp.dps`` digits (set by
the caller, e.g. ``mpmath.mp.dps = 40``), so the reference error is far below the float result's.
"""

from __future__ import annotations

import mpmath
import numpy as np

from lmalign import _validate


def _finite_reals(x, name: str) -> list[float]:
    """``x`` as a non-empty list of finite floats (one-dimensional), or a ``ValueError`` naming ``name``."""
    arr = _validate.real_array(x, name, allow_nan=True)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty one-dimensional sequence, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or an infinity")
    return arr.tolist()


def mp_probs(probs) -> list:
    r"""``probs`` as mpmath numbers at the current precision, normalised exactly: :math:`p_i / \sum_j p_j`.

    Float inputs sum to 1 only to rounding, and the normalisation removes that before any identity is checked.

    Parameters
    ----------
    probs : array_like
        Non-negative finite numbers with a positive sum.

    Returns
    -------
    list of mpmath.mpf

    Raises
    ------
    ValueError
        If ``probs`` is empty, not one-dimensional, holds NaN, an infinity or a negative entry, or sums to 0.

    Examples
    --------
    >>> import mpmath
    >>> with mpmath.workdps(30):
    ...     print([mpmath.nstr(x, 25) for x in mp_probs([1.0, 2.0, 1.0])])
    ['0.25', '0.5', '0.25']
    """
    p = _finite_reals(probs, "probs")
    if min(p) < 0:
        raise ValueError(f"probs contains a negative entry ({min(p)!r})")
    vals = [mpmath.mpf(x) for x in p]
    total = mpmath.fsum(vals)
    if not total > 0:
        raise ValueError("probs must have a positive sum")
    return [v / total for v in vals]


def mp_cgf(probs, values, t) -> mpmath.mpf:
    r"""The CGF :math:`\kappa(t) = \log\sum_i p_i e^{t v_i}` at the current mpmath precision.

    ``probs`` are normalised first (:func:`mp_probs`); ``t`` is a real number or a decimal string, read exactly
    (complex, boolean and masked inputs are refused).

    Parameters
    ----------
    probs : array_like
        The probabilities :math:`p_i`.
    values : array_like
        The values :math:`v_i` (finite), of the same length.
    t : float or str
        The argument :math:`t`, finite.

    Returns
    -------
    mpmath.mpf

    Raises
    ------
    ValueError
        If ``probs`` is refused (see :func:`mp_probs`), ``values`` holds NaN or an infinity, the lengths differ,
        or ``t`` is not a finite real number or decimal string.

    Examples
    --------
    >>> import mpmath
    >>> with mpmath.workdps(30):
    ...     print(mpmath.nstr(mp_cgf([0.5, 0.5], [0.0, 1.0], "1") - mpmath.log((1 + mpmath.e) / 2), 5))
    0.0
    """
    p = mp_probs(probs)
    values = _finite_reals(values, "values")
    if len(values) != len(p):
        raise ValueError(f"probs and values have different lengths ({len(p)} and {len(values)})")
    odd = None if isinstance(t, str) else _validate.odd_input(t)  # a decimal string is exact for mpmath
    if odd is not None:
        raise ValueError(f"t must be a real number, got {odd}")
    if isinstance(t, np.generic) or (isinstance(t, np.ndarray) and t.ndim == 0):
        t = t.item()  # a numpy scalar (float16 or float32 included) as the Python number it equals exactly
    try:
        t = mpmath.mpf(t)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a real number, got {t!r}") from None
    if not mpmath.isfinite(t):
        raise ValueError(f"t must be finite, got {t!r}")
    return mpmath.log(mpmath.fsum(pi * mpmath.exp(t * mpmath.mpf(float(v))) for pi, v in zip(p, values, strict=True)))
