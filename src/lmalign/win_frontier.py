r"""The quantile-tilt frontier of win rate against relative entropy (Gui et al., BoNBoN, arXiv:2406.00832).

In the continuous case, with :math:`u` the reward quantile, the tilt :math:`\propto e^{c u}` traces

.. math::

    \mathrm{win}(c) = \frac{e^c}{e^c - 1} - \frac{1}{c}, \qquad
    \mathrm{KL}(c) = \log\frac{c}{e^c - 1} + \frac{c e^c}{e^c - 1} - 1;

near :math:`c = 0` both are evaluated by their Bernoulli-number series. Best-of-N sits at
:math:`(\log N - (N-1)/N,\ N/(N+1))`.
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
    r""":math:`\sum_k \mathrm{coef}_k\, x^{p + 2k}`, :math:`p` = ``first_power``, by Horner in :math:`x^2`."""
    x2 = x * x
    acc = np.zeros_like(x)
    for c_k in coef[::-1]:
        acc = acc * x2 + c_k
    return acc * x**first_power


def quantile_tilt_win(c):
    r"""Win rate :math:`\mathrm{win}(c) = e^c/(e^c - 1) - 1/c` of the quantile tilt.

    The tilt has density :math:`c e^{cu}/(e^c - 1)` on :math:`(0, 1)`; :math:`1/2` at :math:`c = 0`, 1 and 0 at
    :math:`c = \pm\infty`; a power series for :math:`|c| < 1`, vectorised.

    Parameters
    ----------
    c : float or array_like
        The tilt :math:`c`, :math:`\pm\infty` allowed.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``c``.

    Raises
    ------
    ValueError
        If ``c`` holds NaN or a non-real entry.

    Examples
    --------
    >>> quantile_tilt_win([0.0, float("inf")]).tolist()
    [0.5, 1.0]
    >>> round(quantile_tilt_win(1.0), 12), round(float(np.e / (np.e - 1) - 1), 12)
    (0.581976706869, 0.581976706869)
    """
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
    r"""Relative entropy of the quantile tilt to the uniform law.

    .. math::

        \mathrm{KL}(c) = \log\frac{c}{e^c - 1} + \frac{c e^c}{e^c - 1} - 1,

    0 at :math:`c = 0`, even in :math:`c`, :math:`\infty` at :math:`c = \pm\infty`; a power series for
    :math:`|c| < 1`, vectorised.

    Parameters
    ----------
    c : float or array_like
        The tilt :math:`c`, :math:`\pm\infty` allowed.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``c``.

    Raises
    ------
    ValueError
        If ``c`` holds NaN or a non-real entry.

    Examples
    --------
    >>> e = np.e
    >>> round(quantile_tilt_kl(1.0), 12), round(float(np.log(1 / (e - 1)) + e / (e - 1) - 1), 12)
    (0.040651852256, 0.040651852256)
    """
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
    r"""The :math:`c \ge 0` with :math:`\mathrm{KL}(c) =` ``kl``.

    :math:`\mathrm{KL}` increases from 0 to infinity on :math:`c \ge 0`; solved in :math:`s = \log c` between
    :math:`\log\sqrt{24\,\mathrm{kl}} - 1` (:math:`\mathrm{KL}(c) \le c^2/24`) and :math:`\mathrm{kl} + 2`
    (:math:`\mathrm{KL}(c) \ge \log c - 1`); ``inf`` when ``kl`` exceeds :math:`\mathrm{KL}` at the largest float
    (about 708.4) or is infinite.

    Parameters
    ----------
    kl : float
        The relative entropy, :math:`\ge 0`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``kl`` is negative or NaN.

    Examples
    --------
    >>> round(quantile_tilt_param(quantile_tilt_kl(2.0)), 12)
    2.0
    """
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
    r"""Largest win rate against the reference at relative entropy ``kl`` in the continuous case.

    It is :math:`\mathrm{win}(c)` with :math:`\mathrm{KL}(c) =` ``kl``.

    Parameters
    ----------
    kl : float
        The relative entropy, :math:`\ge 0`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``kl`` is negative or NaN.

    Examples
    --------
    >>> frontier_win(0.0), round(frontier_win(quantile_tilt_kl(1.0)), 12)
    (0.5, 0.581976706869)
    """
    return quantile_tilt_win(quantile_tilt_param(kl))


def bon_frontier_gap(n: int | None = None, log_n: float | None = None) -> float:
    r"""How far best-of-N lies below the frontier (continuous case): :math:`\mathrm{win}(c_N) - N/(N+1)`.

    :math:`c_N` solves :math:`\mathrm{KL}(c_N) = \log N - (N-1)/N`. Both sides are formed as :math:`1 - \dots` so
    large :math:`N` keeps its precision.

    Parameters
    ----------
    n : int, optional
        :math:`N`.
    log_n : float, optional
        :math:`\log N` (give exactly one of the two).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`lmalign.best_of_n.resolve_log_n`.

    Examples
    --------
    >>> bon_frontier_gap(n=1), round(bon_frontier_gap(n=2), 9)
    (0.0, 0.009240153)
    """
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    c = quantile_tilt_param(bon_kl_bound(log_n=ln))
    if math.isinf(c):  # N > e^709: c = N e^{1/N} (1 + O(e^-N)), both losses are 1/N - 1/N^2 + O(1/N^3)
        return 0.0
    loss_frontier = (1.0 - quantile_tilt_win(c)) if c < 1.0 else 1.0 / c - math.exp(-c) / (-math.expm1(-c))
    loss_bon = math.exp(-ln) / (1.0 + math.exp(-ln))  # 1/(N+1), no overflow of N
    return loss_bon - loss_frontier
