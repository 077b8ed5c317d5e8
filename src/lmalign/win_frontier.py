"""The quantile-tilt frontier of win rate against relative entropy (Gui et al., BoNBoN, arXiv:2406.00832).

In the continuous case, with ``u`` the reward quantile, the tilt ``~ e^{c u}`` traces
``win(c) = e^c/(e^c - 1) - 1/c`` and ``KL(c) = log(c/(e^c - 1)) + c e^c/(e^c - 1) - 1``; near ``c = 0`` both are
evaluated by their Bernoulli-number series. Best-of-N sits at ``(log N - (N-1)/N, N/(N+1))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import bernoulli

from lmalign import _validate
from lmalign.best_of_n import bon_kl_bound, resolve_log_n

__all__ = ["quantile_tilt_win", "quantile_tilt_kl", "quantile_tilt_param", "frontier_win", "bon_frontier_gap"]

_SERIES_TERMS = 12
_B = bernoulli(2 * _SERIES_TERMS)  # B_0 .. B_24
_WIN_COEF = np.array([_B[2 * k] / math.factorial(2 * k) for k in range(1, _SERIES_TERMS + 1)])
_KL_COEF = np.array([(2 * k - 1) / (2 * k) * _B[2 * k] / math.factorial(2 * k) for k in range(1, _SERIES_TERMS + 1)])
_SERIES_CUT = 1.0
_LOG_MAX = math.log(np.finfo(float).max)  # log c of the largest float c


def _series(coef: np.ndarray, x: np.ndarray, first_power: int) -> np.ndarray:
    """``sum_k coef[k] x^(first_power + 2k)`` by Horner in ``x^2``."""
    x2 = x * x
    acc = np.zeros_like(x)
    for c_k in coef[::-1]:
        acc = acc * x2 + c_k
    return acc * x**first_power


def quantile_tilt_win(c):
    """Win rate ``e^c/(e^c - 1) - 1/c`` of the quantile tilt with density ``c e^{cu}/(e^c - 1)`` on ``(0, 1)``
    (``1/2`` at ``c = 0``, 1 and 0 at ``c = ±inf``); a power series for ``|c| < 1``, vectorised."""
    arr = _validate.real_array(c, "c")  # +-inf allowed: the limits
    a = np.abs(arr)
    out = np.empty_like(a)
    small = a < _SERIES_CUT
    out[small] = 0.5 + _series(_WIN_COEF, a[small], 1)
    big = a[~small]
    out[~small] = 1.0 / (-np.expm1(-big)) - 1.0 / big  # 1 at c = inf
    out = np.where(arr < 0, 1.0 - out, out)  # u -> 1 - u
    return float(out) if out.ndim == 0 else out


def quantile_tilt_kl(c):
    """``KL(c) = log(c/(e^c - 1)) + c e^c/(e^c - 1) - 1``, the relative entropy of the quantile tilt to the
    uniform law (``0`` at ``c = 0``, even in ``c``, ``inf`` at ``c = ±inf``); a power series for ``|c| < 1``,
    vectorised."""
    arr = _validate.real_array(c, "c")  # +-inf allowed: the limits
    a = np.abs(arr)
    out = np.empty_like(a)
    small = a < _SERIES_CUT
    out[small] = _series(_KL_COEF, a[small], 2)
    big = a[~small]
    one_m = -np.expm1(-big)  # 1 - e^-c
    with np.errstate(invalid="ignore"):  # c = inf: inf * 0 in the middle term, and KL = inf
        out[~small] = np.log(big) - np.log(one_m) + np.where(np.isinf(big), 0.0, big * np.exp(-big) / one_m) - 1.0
    return float(out) if out.ndim == 0 else out


def quantile_tilt_param(kl: float) -> float:
    """The ``c >= 0`` with ``KL(c) = kl`` (``KL`` increases from 0 to infinity on ``c >= 0``), solved in
    ``s = log c`` between ``log sqrt(24 kl) - 1`` (``KL(c) <= c^2/24``) and ``kl + 2`` (``KL(c) >= log c - 1``);
    ``inf`` when ``kl`` exceeds ``KL`` at the largest float (about 708.4) or is infinite."""
    kl = _validate.nonneg_real(kl, "kl")
    if kl == 0.0:
        return 0.0
    if kl > _KL_AT_MAX:
        return math.inf

    def excess(s: float) -> float:
        return quantile_tilt_kl(math.exp(s)) - kl

    lo, hi = math.log(math.sqrt(24.0 * kl)) - 1.0, min(kl + 2.0, _LOG_MAX)
    for _ in range(64):  # the bracket holds already; a few halvings of lo cover rounding
        if excess(lo) <= 0:
            break
        lo -= 2.0
    return math.exp(brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


_KL_AT_MAX = float(quantile_tilt_kl(np.finfo(float).max))


def frontier_win(kl: float) -> float:
    """Largest win rate against the reference at relative entropy ``kl`` in the continuous case:
    ``win(c)`` with ``KL(c) = kl``."""
    return quantile_tilt_win(quantile_tilt_param(kl))


def bon_frontier_gap(n: int | None = None, log_n: float | None = None) -> float:
    """``win(c_N) - N/(N+1)`` with ``KL(c_N) = log N - (N-1)/N``: how far best-of-N lies below the frontier
    (continuous case). Both sides are formed as ``1 - ...`` so large ``N`` keeps its precision."""
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    c = quantile_tilt_param(bon_kl_bound(log_n=ln))
    if math.isinf(c):  # N > e^709: c = N e^{1/N} (1 + O(e^-N)), both losses are 1/N - 1/N^2 + O(1/N^3)
        return 0.0
    loss_frontier = (1.0 - quantile_tilt_win(c)) if c < 1.0 else 1.0 / c - math.exp(-c) / (-math.expm1(-c))
    loss_bon = math.exp(-ln) / (1.0 + math.exp(-ln))  # 1/(N+1), no overflow of N
    return loss_bon - loss_frontier
