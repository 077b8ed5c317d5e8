"""Log-space primitives shared by the library: log-sum-exp, stable KL terms, log-of-log1p forms and shifted tilt
exponents."""

from __future__ import annotations

import math

import numpy as np


def log_sum_exp(a, axis: int | None = None):
    """``log sum exp(a)`` along ``axis`` (all entries if ``None``), shifted by the maximum; ``-inf`` where every
    entry is ``-inf``. Plain numpy, for the small arrays where ``scipy.special.logsumexp``'s overhead dominates."""
    a = np.asarray(a)
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    if axis is None:
        return out.reshape(()).item() if out.dtype == np.float64 else out.reshape(())[()]
    return np.squeeze(out, axis=axis)


_LOG_ZERO = -745.2  # exp(x) rounds to 0 below this (the smallest subnormal is e^-744.44)
_G_SERIES = 0.5  # |d| below this: g(d) from its series (18 terms, truncation below 1e-22 relative)
_G_COEFFS = [(k - 1) / math.factorial(k) for k in range(2, 21)]
_G_REVERSED = _G_COEFFS[::-1]
_G_SCALAR = 16  # up to this many series terms are evaluated in Python floats (identical IEEE operations)


def xexp_minus_expm1(d: np.ndarray) -> np.ndarray:
    """``g(d) = d e^d - (e^d - 1) = sum_{k>=2} (k-1) d^k / k! >= 0``, within ``1e-15`` relative everywhere
    (series for ``|d| <= 0.5``, where the closed form cancels; ``g(-inf) = 1``)."""
    d = np.asarray(d, dtype=float)
    out = np.empty_like(d)
    small = np.abs(d) <= _G_SERIES
    ds = d[small]
    if ds.size <= _G_SCALAR:  # the same Horner steps in Python floats: cheaper than 38 numpy calls on a few terms
        vals = []
        for x in ds.tolist():
            acc = 0.0
            for c in _G_REVERSED:
                acc = acc * x + c
            vals.append(x * x * acc)
        out[small] = vals
    else:
        acc = np.zeros_like(ds)
        for c in _G_REVERSED:
            acc = acc * ds + c
        out[small] = ds * ds * acc
    dl = d[~small]
    with np.errstate(over="ignore", invalid="ignore"):
        out[~small] = np.where(dl == -np.inf, 1.0, np.exp(dl) * (dl - 1.0) + 1.0)
    return out


def kl_logs(lp: np.ndarray, lq: np.ndarray) -> float:
    """``D(p||q) = sum p log(p/q)`` from aligned log-probability vectors (``-inf`` for zero mass).

    Written as ``sum_q q g(log p/q) + q(supp q minus supp p)`` with ``g >= 0`` (see :func:`xexp_minus_expm1`),
    a sum of non-negative terms, so small divergences keep their relative precision. ``inf`` if ``p`` is not
    absolutely continuous with respect to ``q``.
    """
    p_pos = lp > -np.inf
    q_pos = lq > -np.inf
    if (p_pos & ~q_pos).any():
        return math.inf
    live = (lp > _LOG_ZERO) | (lq > _LOG_ZERO)  # elsewhere every term below is exactly 0 in floats
    if not live.all():
        lp, lq, p_pos, q_pos = lp[live], lq[live], p_pos[live], q_pos[live]
    both = p_pos & q_pos
    d = lp[both] - lq[both]
    lqb = lq[both]
    big = d > 700  # q g(d) would overflow: use p d - p + q
    terms = np.empty_like(d)
    terms[~big] = np.exp(lqb[~big]) * xexp_minus_expm1(d[~big])
    if big.any():
        pb = np.exp(lp[both][big])
        terms[big] = pb * d[big] - pb + np.exp(lqb[big])
    only_q = np.exp(lq[q_pos & ~p_pos])
    # every term is non-negative: numpy's pairwise sum is within log2(size) roundings of the exact sum
    return float(np.sum(terms) + np.sum(only_q))


def log_neg_expm1(x: np.ndarray) -> np.ndarray:
    """``log(1 - e^{-x})`` for ``x >= 0`` (``-inf`` at 0), accurate for tiny and huge ``x``: ``log1p(-e^{-x})``
    above ``log 2``, ``log(-expm1(-x))`` below; ``-0.0`` where ``e^{-x}`` is 0 in floats. Each form is
    evaluated only where it is used."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, -0.0)
    upper = (x > 0.6931) & (x < -_LOG_ZERO)
    lower = ~(x > 0.6931)  # NaN goes here, and stays NaN
    with np.errstate(divide="ignore"):
        out[upper] = np.log1p(-np.exp(-x[upper]))
        out[lower] = np.log(-np.expm1(-x[lower]))
    return out


def log_log1p_exp(a: np.ndarray) -> np.ndarray:
    """``log(log(1 + e^a))``, accurate when ``e^a`` is far below the smallest float."""
    a = np.asarray(a, dtype=float)
    out = a.copy()  # below LOG_ZERO e^a is 0 in floats, and the small form below gives a itself
    small = (a < -30) & (a > _LOG_ZERO)
    large = a > 30  # log(1 + e^a) = a + log1p(e^-a), without overflowing e^a
    mid = ~(a < -30) & ~large
    ea = np.exp(a[small])
    out[small] = a[small] + np.log1p(-ea / 2 + ea * ea / 3)
    out[mid] = np.log(np.log1p(np.exp(a[mid])))
    out[large] = np.log(a[large] + np.log1p(np.exp(-a[large])))
    return out


def log_neg_log1m_exp(a: np.ndarray) -> np.ndarray:
    """``log(-log(1 - e^a))`` for ``a < 0``: the log of ``-log(1 - s)`` with ``s = e^a`` possibly tiny."""
    a = np.asarray(a, dtype=float)
    out = a.copy()  # below LOG_ZERO e^a is 0 in floats, and the small form below gives a itself
    small = (a < -30) & (a > _LOG_ZERO)
    ea = np.exp(a[small])
    out[small] = a[small] + np.log1p(ea / 2 + ea * ea / 3)
    near_one = a > -0.6931
    mid = ~(a < -30) & ~near_one
    out[mid] = np.log(-np.log1p(-np.exp(a[mid])))
    with np.errstate(divide="ignore"):
        out[near_one] = np.log(-np.log(-np.expm1(a[near_one])))
    return out


def shifted_tilt(r: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """``(c, lam (r - c))`` with ``c`` the reward that maximises ``lam r`` (the top for ``lam >= 0``, else the
    bottom), so every entry is ``<= 0``; the difference is taken in halves (``2 (lam (r/2 - c/2))``, exact in
    binary) so that neither a reward range near 3.6e308 nor a huge ``lam`` overflows to ``+-inf`` spuriously
    (an entry below -1.8e308 is ``-inf``: its weight ``e^{lam (r - c)}`` is 0 in any float)."""
    c = float(r.max() if lam >= 0 else r.min())
    with np.errstate(over="ignore"):
        return c, 2.0 * (lam * (r / 2 - c / 2))
