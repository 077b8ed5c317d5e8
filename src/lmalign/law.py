r"""``RewardLaw``: the finite law of a real reward, the object every computation in the book works on.

Every policy in the book reweights the reference by a function of the reward value, so KL divergences and
expectations reduce to computations on this law (see ``DIGEST.md``, "Reduction to the reward line").
Probabilities are stored as log-probabilities. Input probabilities that sum to 1 within
``_validate.PROB_SUM_TOL`` (1e-9) are renormalised exactly in log space; beyond it they are rejected.

Every moment, generating function and tilt is computed on the *scaled, centred* values
:math:`y = (v - \mathrm{mean}) / 2^E` (:math:`|y| \le 1`, the power of two making the scaling exact) with the scaled
multiplier :math:`\tau = \lambda 2^E`, so rewards near :math:`\pm 1.8\times 10^{308}` or in the subnormal range
neither overflow nor underflow in intermediate steps.
Those coordinates are also the interface :mod:`lmalign.tilting` works through (:attr:`RewardLaw.frame`,
:meth:`RewardLaw.scaled_multiplier` and its inverse, :meth:`RewardLaw.log_tilted`, :meth:`RewardLaw.reweighted`,
:meth:`RewardLaw.scaled_tilt_kl`, :meth:`RewardLaw.scaled_cumulants`): documented methods that take already
validated arguments, so a public function validates once and the calls beneath it do not again.

``law`` is the bottom of the library: every other module builds on it. The one deliberate exception is two
conveniences of the public API, :meth:`RewardLaw.from_tokens` (implemented in ``memoryless``) and
:meth:`RewardLaw.rate` (in ``ldp``), which import their implementation when called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, Self

import numpy as np

from lmalign import _validate
from lmalign._logspace import kl_logs, log_sum_exp, xexp_minus_expm1
from lmalign._summation import compensated_sum


def merge_sorted_log(values: np.ndarray, logprobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Sort by value, merge equal values (log-sum-exp of their log-probabilities), drop zero-mass levels.

    A merged level gets :math:`\log\sum_i e^{\ell_i}` of its entries' log-probabilities :math:`\ell_i`. A merged
    log-probability above 0 can only come from rounding (inputs are normalised); it is set to 0.

    Parameters
    ----------
    values : numpy.ndarray
        Reward values, any order, repeats allowed.
    logprobs : numpy.ndarray
        Their natural-log probabilities (``-inf`` for zero mass).

    Returns
    -------
    tuple of numpy.ndarray
        ``(values, logprobs)``: distinct values, increasing, and their merged log-probabilities.

    Examples
    --------
    >>> v, lp = merge_sorted_log(np.array([1.0, 0.0, 1.0]), np.log([0.25, 0.5, 0.25]))
    >>> v.tolist(), np.exp(lp).round(12).tolist()
    ([0.0, 1.0], [0.5, 0.5])
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    lp = logprobs[order]
    keep = lp > -np.inf
    v, lp = v[keep], lp[keep]
    new_level = v[1:] != v[:-1]  # not np.diff: v[i+1] - v[i] overflows for values of opposite sign near 1e308
    if not new_level.all():
        starts = np.flatnonzero(np.r_[True, new_level])
        bounds = np.r_[starts, v.size]
        merged = np.empty(starts.size)
        for i in range(starts.size):
            a, b = bounds[i], bounds[i + 1]
            merged[i] = lp[a] if b - a == 1 else log_sum_exp(lp[a:b])
        v, lp = v[starts], merged
    return v, np.minimum(lp, 0.0)


def align(a: RewardLaw, b: RewardLaw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of both supports, with each log-probability vector on it (``-inf`` off support; read-only arrays).

    Equal supports (a law and its tilt or best-of-N, which keep every level) are taken as they are, and a support
    inside the other is placed by one binary search, without sorting the union.

    Parameters
    ----------
    a, b : RewardLaw
        The two laws.

    Returns
    -------
    tuple of numpy.ndarray
        ``(values, logprobs_a, logprobs_b)`` on the union of the supports.

    Examples
    --------
    >>> v, la, lb = align(RewardLaw([0.0, 1.0], [0.5, 0.5]), RewardLaw([1.0, 2.0], [0.5, 0.5]))
    >>> v.tolist(), np.exp(la).tolist(), np.exp(lb).tolist()
    ([0.0, 1.0, 2.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5])
    """
    va, vb = a.values, b.values
    if va is vb or (va.size == vb.size and np.array_equal(va, vb)):
        return va, a.logprobs, b.logprobs
    for small, big, swap in ((a, b, False), (b, a, True)):
        if small.values.size <= big.values.size:
            first = int(np.searchsorted(big.values, small.values[0]))
            if np.array_equal(big.values[first : first + small.values.size], small.values):  # a run of levels
                ls = np.full(big.values.size, -np.inf)
                ls[first : first + small.values.size] = small.logprobs
                ls.setflags(write=False)
                return (big.values, big.logprobs, ls) if swap else (big.values, ls, big.logprobs)
            idx = np.searchsorted(big.values, small.values)
            if idx[-1] < big.values.size and np.array_equal(big.values[idx], small.values):
                ls = np.full(big.values.size, -np.inf)
                ls[idx] = small.logprobs
                ls.setflags(write=False)
                return (big.values, big.logprobs, ls) if swap else (big.values, ls, big.logprobs)
    vals = np.union1d(va, vb)
    la = np.full(vals.size, -np.inf)
    lb = np.full(vals.size, -np.inf)
    la[np.searchsorted(vals, a.values)] = a.logprobs
    lb[np.searchsorted(vals, b.values)] = b.logprobs
    return vals, la, lb


def require_law(law, name: str = "law") -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``law`` is a :class:`RewardLaw`.

    Parameters
    ----------
    law : object
        The argument to check.
    name : str
        The argument's name in the message.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`RewardLaw`.

    Examples
    --------
    >>> require_law([0.5, 0.5], "ref")
    Traceback (most recent call last):
    ...
    ValueError: ref must be a RewardLaw, got list
    """
    if not isinstance(law, RewardLaw):
        raise ValueError(f"{name} must be a RewardLaw, got {type(law).__name__}")


class ScaledFrame(NamedTuple):
    r"""The law in scaled, centred coordinates (:attr:`RewardLaw.frame`).

    .. math::

        v = \mathrm{mean} + y\, 2^{E}, \qquad v = u\, 2^{e},

    with :math:`E` = ``big_e`` and :math:`e` = ``e``, both exact (powers of two).

    Attributes
    ----------
    p : numpy.ndarray
        The probabilities, ``exp(logprobs)``.
    e : int
        The exponent with ``values = u * 2**e`` exactly, :math:`\max|u| \in [0.5, 1)`.
    mean_u : float
        The mean in units of :math:`2^e`.
    y : numpy.ndarray
        The centred values in units of :math:`2^E`, :math:`\max|y| \in [0.5, 1)` (all 0 for one level).
    big_e : int
        The exponent :math:`E` of the centred scale.
    resid_y : float
        :math:`\sum p y`: the rounding left in the centre (about :math:`\epsilon E|y|`).
    var_y : float
        :math:`\sum p y^2 - (\sum p y)^2`.

    Examples
    --------
    >>> f = RewardLaw([0.0, 4.0], [0.5, 0.5]).frame
    >>> f.big_e, f.y.tolist(), f.var_y
    (2, [-0.5, 0.5], 0.25)
    """

    p: np.ndarray  # exp(logprobs)
    e: int  # values = u * 2**e exactly, max|u| in [0.5, 1)
    mean_u: float  # the mean in units of 2**e
    y: np.ndarray  # centred values in units of 2**big_e, max|y| in [0.5, 1) (all 0 for one level)
    big_e: int
    resid_y: float  # sum p y: the rounding left in the centre (about eps * E|y|)
    var_y: float  # sum p y^2 - resid_y^2


def _exponent(x: float) -> int:
    r"""The :math:`e` with :math:`2^{e-1} \le |x| < 2^e` (0 for :math:`x = 0`)."""
    return math.frexp(x)[1] if x != 0 else 0


def _ldexp(x, e: int):
    r""":math:`x\, 2^e` without warnings: exact unless the result overflows (``+-inf``) or is subnormal (then
    correctly rounded). A product by the double ``2.0**e`` where that is a normal number (the same result,
    several times faster than ``numpy.ldexp``)."""
    with np.errstate(over="ignore", under="ignore"):
        return x * 2.0**e if -1022 <= e <= 1023 else np.ldexp(x, e)


_LOG_ZERO = -745.2  # exp(x) rounds to 0 below this (the smallest subnormal is e^-744.44)


def _live_levels(*logs: np.ndarray) -> np.ndarray | None:
    r"""Indices of the levels where any of ``logs`` has ``exp`` above 0 (``> _LOG_ZERO``), or ``None`` if that is
    every level: sums of terms carrying a factor :math:`e^{\log p}` need only these (the others are exactly 0).
    Laws of at most 64 levels always get ``None`` (selecting costs more than it saves there)."""
    if logs[0].size <= 64:
        return None
    live = logs[0] > _LOG_ZERO
    for lg in logs[1:]:
        live |= lg > _LOG_ZERO
    return None if live.all() else np.flatnonzero(live)


def _frame_of(values: np.ndarray, logprobs: np.ndarray) -> ScaledFrame:
    r""":class:`ScaledFrame` of a law. The mean takes two passes, the second a compensated sum of the
    residuals: with :math:`m_0` the first pass, :math:`\mathrm{mean}_u = m_0 + c`,
    ``c = compensated_sum(p * (u - m0))``, the error is at most :math:`2u\, E|u - m_0|` (the rounded differences
    and products) :math:`+\, 10^{-27} E|u - m_0|` (the sum, ``lmalign._summation.compensated_sum``)
    :math:`+\, u\,|\mathrm{mean}|`, within :math:`5u\, E|u| < 6\times 10^{-16} E|u|` when
    :math:`|m_0| \le 1.01\, E|u|`. ``resid_y`` and :math:`\sum p y^2` are numpy pairwise sums
    (``lmalign._summation.pairwise_roundings``): ``resid_y`` within :math:`\gamma_{k+1} E|y|` (it enters ``var_y``
    only squared, and is itself of that size), and ``var_y`` within :math:`\gamma_{k+2}` relative (terms of one
    sign), :math:`5.6\times 10^{-15}` at :math:`2\times 10^7` levels."""
    e = _exponent(max(abs(float(values[0])), abs(float(values[-1]))))  # values are sorted
    u = _ldexp(values, -e)
    live = _live_levels(logprobs)  # the sums need only the levels of positive mass in floats
    if live is None:
        p = np.exp(logprobs)
        p_l, u_l = p, u
    else:
        p = np.zeros(values.size)
        p_l, u_l = np.exp(logprobs[live]), u[live]
        p[live] = p_l
    m0 = float(np.sum(p_l * u_l))  # not np.dot: a threaded BLAS call costs more than it saves here
    mean_u = m0 + compensated_sum(p_l * (u_l - m0))  # the rounding of the first pass
    mean_u = min(max(mean_u, float(u[0])), float(u[-1]))
    c = np.subtract(u, mean_u, out=u)  # u is not needed any more: one array of the law's size fewer
    f = _exponent(max(abs(float(c[0])), abs(float(c[-1]))))
    y = _ldexp(c, -f)
    py = p_l * (y if live is None else y[live])
    resid = float(np.sum(py))
    var_y = max(float(np.sum(py * (y if live is None else y[live]))) - resid * resid, 0.0)
    return ScaledFrame(p, e, mean_u, y, e + f, resid, var_y)


_TINY = float(np.finfo(float).tiny)  # smallest normal float


class RewardLaw:
    r"""Finite law of a real reward.

    ``RewardLaw(values, probs)``: equal values are merged, values sorted increasingly, zero-probability
    levels dropped. ``probs`` must be finite, non-negative and sum to 1 within ``PROB_SUM_TOL = 1e-9``; they
    are then renormalised exactly (in log space: :math:`\log p - \log\sum p`). Values may be any finite floats,
    subnormals and :math:`\pm 1.7\times 10^{308}` included.

    Parameters
    ----------
    values : sequence of float or numpy.ndarray
        The reward values, any order, repeats allowed.
    probs : sequence of float or numpy.ndarray
        Their probabilities, of the same length.

    Raises
    ------
    ValueError
        If ``values`` is empty, not one-dimensional, or holds NaN or an infinity; if ``probs`` holds a negative
        entry or does not sum to 1 within ``1e-9``; if the lengths differ.

    Examples
    --------
    >>> law = RewardLaw([1.0, 0.0, 1.0], [0.25, 0.5, 0.25])
    >>> law
    RewardLaw(2 levels in [0, 1], mean=0.5)
    >>> law.values.tolist(), law.probs.tolist()
    ([0.0, 1.0], [0.5, 0.5])
    """

    __slots__ = ("_values", "_logprobs", "_frame_cache")

    def __init__(self, values: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray):
        v = _validate.real_vector(values, "values")
        lp = _validate.normalised_logprobs(probs, "probs")
        _validate.same_length(v, lp, "values", "probs")
        self._values, self._logprobs = merge_sorted_log(v, lp)
        self._values.setflags(write=False)
        self._logprobs.setflags(write=False)

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_logprobs(cls, values, logprobs) -> RewardLaw:
        """Law from log-probabilities (``-inf`` for zero mass).

        Their exponentials must sum to 1 within ``PROB_SUM_TOL = 1e-9`` (like the probability form), and are
        renormalised exactly in log space.

        Parameters
        ----------
        values : sequence of float or numpy.ndarray
            The reward values.
        logprobs : sequence of float or numpy.ndarray
            Their natural-log probabilities.

        Returns
        -------
        RewardLaw

        Raises
        ------
        ValueError
            As the constructor, and if a log-probability is NaN, ``+inf`` or above 0.

        Examples
        --------
        >>> RewardLaw.from_logprobs([0.0, 1.0, 2.0], [np.log(0.5), np.log(0.5), -np.inf]).values.tolist()
        [0.0, 1.0]
        """
        v = _validate.real_vector(values, "values")
        lp = _validate.normalised_log_prob_vector(logprobs, "logprobs")
        _validate.same_length(v, lp, "values", "logprobs")
        return cls._trusted(*merge_sorted_log(v, lp))

    @classmethod
    def _trusted(cls, values: np.ndarray, logprobs: np.ndarray) -> Self:
        """Internal: wrap arrays already sorted, merged, with positive mass and normalised. No checks."""
        obj = cls.__new__(cls)
        obj._values = np.ascontiguousarray(values, dtype=float)
        obj._logprobs = np.ascontiguousarray(logprobs, dtype=float)
        obj._values.setflags(write=False)
        obj._logprobs.setflags(write=False)
        return obj

    @classmethod
    def from_tokens(cls, p, r, length: int) -> RewardLaw:
        r"""Exact law of :math:`\sum_{i \le n} r(y_i)` with :math:`y_i` i.i.d. from the token law :math:`p`.

        Parameters
        ----------
        p : array_like
            The token probabilities.
        r : array_like
            The reward of each token.
        length : int
            The number :math:`n \ge 1` of tokens.

        Returns
        -------
        RewardLaw
            The law of the sum (see :func:`lmalign.memoryless.law_of_sum`).

        Raises
        ------
        ValueError
            On bad token probabilities or rewards, or a ``length`` that is not an integer :math:`\ge 1`.

        Examples
        --------
        >>> law = RewardLaw.from_tokens([0.5, 0.5], [0.0, 1.0], 2)
        >>> law.values.tolist(), law.probs.round(12).tolist()
        ([0.0, 1.0, 2.0], [0.25, 0.5, 0.25])
        """
        from lmalign.memoryless import law_of_sum

        return law_of_sum(p, r, length)

    @classmethod
    def from_samples(cls, rewards) -> RewardLaw:
        r"""Empirical law of observed rewards: each distinct value with its relative frequency.

        The log-probability of a value seen :math:`c` times in :math:`n` is :math:`\log c - \log n`, within an ulp of
        the exact log-frequency.

        Parameters
        ----------
        rewards : array_like
            The observed rewards (finite reals).

        Returns
        -------
        RewardLaw

        Raises
        ------
        ValueError
            If ``rewards`` is empty, not one-dimensional, or holds NaN or an infinity.

        Examples
        --------
        >>> law = RewardLaw.from_samples([1.0, 0.0, 1.0, 1.0])
        >>> law.values.tolist(), law.probs.round(12).tolist()
        ([0.0, 1.0], [0.25, 0.75])
        """
        x = _validate.real_vector(rewards, "rewards")
        vals, counts = np.unique(x, return_counts=True)
        return cls._trusted(vals, np.log(counts) - math.log(x.size))

    # -- data ----------------------------------------------------------------------------------------
    @property
    def values(self) -> np.ndarray:
        """Distinct reward values, increasing."""
        return self._values

    @property
    def logprobs(self) -> np.ndarray:
        """Natural-log probabilities of ``values``."""
        return self._logprobs

    @property
    def probs(self) -> np.ndarray:
        """Probabilities of ``values`` (may underflow to 0 for extreme levels; use ``logprobs``)."""
        return np.exp(self._logprobs)

    def __len__(self) -> int:
        return self._values.size

    def __repr__(self) -> str:
        return (
            f"RewardLaw({len(self)} levels in [{self._values[0]:.6g}, {self._values[-1]:.6g}], mean={self.mean():.6g})"
        )

    @property
    def top(self) -> float:
        """Largest reward value."""
        return float(self._values[-1])

    @property
    def max_kl(self) -> float:
        r""":math:`D_{\max} = -\log p(\mathrm{top})`: the KL of :math:`p` conditioned on its top level (largest tilt
        KL)."""
        return float(-self._logprobs[-1])

    # -- scaled coordinates: the interface the tilting module works through (inputs are not validated) -------
    @property
    def frame(self) -> ScaledFrame:
        """Scaled, centred coordinates :class:`ScaledFrame` (computed once: a law is immutable)."""
        frame = getattr(self, "_frame_cache", None)
        if frame is None:
            frame = self._frame_cache = _frame_of(self._values, self._logprobs)
        return frame

    def scaled_multiplier(self, lam: float) -> float:
        r""":math:`\tau = \lambda 2^E`: the multiplier acting on the scaled centred values :math:`y` (may be inf).

        Parameters
        ----------
        lam : float
            The multiplier :math:`\lambda` on the rewards (not validated).

        Returns
        -------
        float

        Examples
        --------
        >>> RewardLaw([0.0, 4.0], [0.5, 0.5]).scaled_multiplier(0.5)  # y = -0.5, 0.5: 2**E = 4
        2.0
        """
        return float(_ldexp(lam, self.frame.big_e))

    def unscaled_multiplier(self, tau: float) -> float:
        r""":math:`\lambda = \tau 2^{-E}`, the inverse of :meth:`scaled_multiplier`.

        ``inf`` or 0 where ``lam`` is not a float.

        Parameters
        ----------
        tau : float
            The scaled multiplier :math:`\tau` (not validated).

        Returns
        -------
        float

        Examples
        --------
        >>> RewardLaw([0.0, 4.0], [0.5, 0.5]).unscaled_multiplier(4.0)
        1.0
        """
        return float(_ldexp(tau, -self.frame.big_e))

    # -- moments and generating functions ----------------------------------------------------------------
    def mean(self) -> float:
        r"""The mean :math:`E R = \sum_v p(v)\, v`.

        Computed on values scaled by a power of two (no overflow at :math:`\pm 1.8\times 10^{308}`), two-pass and
        compensated. Accuracy: within :math:`10^{-15} E|R|` of the mean of the stored law (``exp(logprobs)``).

        Returns
        -------
        float

        Examples
        --------
        >>> RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25]).mean()
        1.0
        >>> RewardLaw([-1.7e308, 1.7e308], [0.25, 0.75]).mean()  # no overflow
        8.5e+307
        """
        frame = self.frame
        return float(_ldexp(frame.mean_u, frame.e))

    def var(self) -> float:
        r"""The variance :math:`\mathrm{Var}\, R = \sum p (v - m)^2 - \left(\sum p (v - m)\right)^2`.

        Computed on the scaled centred values, within :math:`10^{-14}` relative. A variance below the float64
        range rounds to 0.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If the variance exceeds the float64 range.

        Examples
        --------
        >>> RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25]).var()
        0.5
        """
        frame = self.frame
        out = float(_ldexp(frame.var_y, 2 * frame.big_e))
        if math.isinf(out):
            raise ValueError(
                f"values: the variance ({frame.var_y:.6g} * 2**{2 * frame.big_e}) exceeds the float64 range"
            )
        return out

    def cgf(self, t):
        r"""The cumulant generating function :math:`\kappa(t) = \log E e^{tR}`, vectorised over ``t``.

        With :math:`\tau = t 2^E` acting on the scaled centred values :math:`y`:
        :math:`\kappa(t) = t m + \operatorname{log1p}\left(\sum p\, \operatorname{expm1}(\tau y)\right)` for
        :math:`|\tau| \le 1` (no cancellation for small :math:`t`), else
        :math:`t v_{\mathrm{edge}} + \log\sum p\, e^{t (v - v_{\mathrm{edge}})}` with :math:`v_{\mathrm{edge}}` the
        top (:math:`t > 0`) or bottom level. Accuracy: absolute error within
        :math:`10^{-14} (|t m| + |\kappa(t) - t m|)`. At :math:`t = +\infty` (:math:`-\infty`) it takes its limit:
        :math:`+\infty`, :math:`\log p(\mathrm{top})` or :math:`-\infty` as the top (bottom) value is positive, zero
        or negative (for :math:`-\infty`: negative, zero or positive).

        Parameters
        ----------
        t : float or array_like
            The argument(s) :math:`t`.

        Returns
        -------
        float or numpy.ndarray
            :math:`\kappa(t)`, a float for a scalar ``t``, else an array of the shape of ``t``.

        Raises
        ------
        ValueError
            If ``t`` holds NaN or a non-real entry, or a finite ``t`` has :math:`\kappa(t)` beyond the float64 range.

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
        >>> round(law.cgf(1.0), 12), round(float(np.log((1 + np.e) / 2)), 12)
        (0.620114506958, 0.620114506958)
        >>> law.cgf(float("inf")), round(law.cgf(float("-inf")), 12)  # top 1 > 0; bottom 0: log p(bottom)
        (inf, -0.69314718056)
        """
        t_arr = _validate.real_array(t, "t")
        flat = t_arr.reshape(-1)
        out = np.array([self._cgf_one(float(s)) for s in flat]) if flat.size else np.empty(0)
        return float(out[0]) if t_arr.ndim == 0 else out.reshape(t_arr.shape)

    def _cgf_one(self, t: float) -> float:
        if math.isinf(t):
            end = -1 if t > 0 else 0
            edge = self._values[end] * math.copysign(1.0, t)
            return math.inf if edge > 0 else (-math.inf if edge < 0 else float(self._logprobs[end]))
        if t == 0.0:
            return 0.0
        frame = self.frame
        tau = self.scaled_multiplier(t)
        with np.errstate(over="ignore"):
            if abs(tau) <= 1.0:
                x = tau * frame.y
                out = t * self.mean() + math.log1p(compensated_sum(frame.p * np.expm1(x)))
            else:
                end = -1 if t > 0 else 0
                x = self._edge_exponents(t, tau, end)
                out = float(t * self._values[end]) + log_sum_exp(self._logprobs + x)
        if math.isinf(out):
            raise ValueError(f"t={t!r}: kappa(t) = log E exp(t R) exceeds the float64 range")
        return out

    def _edge_exponents(self, lam: float, tau: float, end: int) -> np.ndarray:
        r""":math:`\lambda (v - v_{\mathrm{end}})` for every level, without forming :math:`v - v_{\mathrm{end}}` where
        it overflows or is subnormal (then from the scaled centred values :math:`y`). Where
        :math:`v - v_{\mathrm{end}}` is a normal float and :math:`\lambda = \tau 2^{-E}` too, it is
        :math:`\lambda (v - v_{\mathrm{end}})` rounded twice: the centred :math:`y` lose a gap of 1 beside
        :math:`10^{308}`."""
        frame = self.frame
        if self._values.size == 1:
            return np.zeros(1)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            if math.isfinite(tau):
                lam = float(_ldexp(tau, -frame.big_e))
            if math.isfinite(lam) and abs(lam) >= _TINY:
                direct = self._values - self._values[end]
                # values are sorted and distinct: |v - v_end| is largest at the far end, smallest beside v_end
                far, near = (0, -2) if end == -1 else (-1, 1)
                if math.isfinite(float(direct[far])) and abs(float(direct[near])) >= _TINY:
                    x = np.multiply(direct, lam, out=direct)
                    x[end] = 0.0
                    return x
            gap = frame.y - frame.y[end]
            x = tau * gap if math.isfinite(tau) else _ldexp(lam * gap, frame.big_e)
            if math.isfinite(lam) and abs(lam) >= _TINY:
                ok = np.isfinite(direct) & (np.abs(direct) >= _TINY)
                x[ok] = lam * direct[ok]
        x[self._values == self._values[end]] = 0.0
        return x

    def log_cdf(self) -> np.ndarray:
        r""":math:`\log P(R \le v_k)` for every level :math:`k` (exact in log space; last entry 0).

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> np.exp(RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25]).log_cdf()).round(12).tolist()
        [0.25, 0.75, 1.0]
        """
        out = np.logaddexp.accumulate(self._logprobs)
        out[-1] = 0.0
        return np.minimum(out, 0.0)

    def log_sf(self) -> np.ndarray:
        r""":math:`\log P(R > v_k)` for every level :math:`k` (``-inf`` at the top); no cancellation near 1.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> np.exp(RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25]).log_sf()).round(12).tolist()
        [0.75, 0.25, 0.0]
        """
        tail = np.logaddexp.accumulate(self._logprobs[::-1])[::-1]
        out = np.empty_like(tail)
        out[:-1] = np.minimum(tail[1:], 0.0)
        out[-1] = -np.inf
        return out

    # -- divergences and reweighting ------------------------------------------------------------------
    def kl(self, other: RewardLaw) -> float:
        r"""The KL divergence :math:`D(p\Vert q) = \sum_v p(v) \log\frac{p(v)}{q(v)}` in nats, :math:`p` = ``self``.

        ``inf`` if :math:`p` is not absolutely continuous with respect to :math:`q` (``other``). Computed as a sum
        of non-negative terms (see ``lmalign._logspace.kl_logs``), so small divergences keep their relative
        precision *given the stored log-probabilities*: for a tilt by a tiny ``lam`` use
        :func:`lmalign.tilting.tilt_kl`, which does not go through the rounded ``logprobs`` of the tilt.

        Parameters
        ----------
        other : RewardLaw
            The law :math:`q`.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If ``other`` is not a :class:`RewardLaw`.

        Examples
        --------
        >>> p, q = RewardLaw([0.0, 1.0], [0.5, 0.5]), RewardLaw([0.0, 1.0], [0.25, 0.75])
        >>> round(p.kl(q), 12), round(float(0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)), 12)
        (0.143841036226, 0.143841036226)
        >>> q.kl(RewardLaw([0.0], [1.0]))
        inf
        """
        if not isinstance(other, RewardLaw):
            raise ValueError(f"other must be a RewardLaw, got {type(other).__name__}")
        _, lp, lq = align(self, other)
        return kl_logs(lp, lq)

    def log_tilt_ratio(self, lam: float) -> np.ndarray:
        r"""The log-ratio :math:`d(v) = \log\frac{p_\lambda(v)}{p(v)} = \lambda v - \kappa(\lambda)` for finite
        :math:`\lambda`.

        Accurate for tiny and huge :math:`\lambda` and for values up to :math:`\pm 1.8\times 10^{308}`. With
        :math:`\tau = \lambda 2^E` and the scaled centred values :math:`y`:
        :math:`d = \tau y - \log\left(1 + \sum p\, \operatorname{expm1}(\tau y)\right)` when :math:`|\tau| \le 1` (no
        cancellation), otherwise log-sum-exp on :math:`\lambda (v - v_{\mathrm{edge}})`, shifted to the top
        (:math:`\lambda > 0`) or bottom (:math:`\lambda < 0`) level. Accuracy: each entry within
        :math:`10^{-14} (|\tau y| + |d|)` (plus rounding in the subnormal range). Levels whose exponent
        :math:`\lambda (v - v_{\mathrm{edge}})` overflows get ``-inf``.

        Parameters
        ----------
        lam : float
            The tilt :math:`\lambda` (finite).

        Returns
        -------
        numpy.ndarray
            :math:`d(v)` for every level.

        Raises
        ------
        ValueError
            If ``lam`` is NaN, infinite or not a real number.

        Examples
        --------
        >>> RewardLaw([0.0, 1.0], [0.5, 0.5]).log_tilt_ratio(1.0).round(12).tolist()  # v - log((1+e)/2)
        [-0.620114506958, 0.379885493042]
        """
        lam = _validate.real_scalar(lam, "lam")
        return self._log_ratio(self.scaled_multiplier(lam), lam)

    def _log_ratio(self, tau: float, lam: float) -> np.ndarray:
        r""":math:`\log(p_\lambda / p)` from the scaled multiplier ``tau`` (``lam`` is used only if ``tau`` is inf)."""
        return self.log_tilted(tau, lam)[1]

    def log_tilted(self, tau: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`(\log p_\lambda,\ d = \log p_\lambda - \log p)` from the scaled multiplier :math:`\tau`.

        :math:`\tau` as from :meth:`scaled_multiplier`; ``lam`` is used only where ``tau`` is inf.
        For :math:`|\tau| \le 1`,
        :math:`d = \tau y - \operatorname{log1p}\left(\sum p\, \operatorname{expm1}(\tau y)\right)`;
        for :math:`|\tau| > 1` the level :math:`k` with the largest
        :math:`a_k = \log p_k + \lambda (v_k - v_{\mathrm{edge}})` gets
        :math:`\log p_\lambda(k) = -\operatorname{log1p}\left(\sum_{j \ne k} e^{a_j - a_k}\right)` directly, so a
        tilt concentrated on one level keeps the relative precision of the mass it leaves elsewhere. Both sums are
        compensated (``lmalign._summation.compensated_sum``: the error of ``math.fsum`` on the same terms plus at
        most :math:`10^{-27}` of their absolute sum). Arguments are not validated.

        Parameters
        ----------
        tau : float
            The scaled multiplier :math:`\tau`.
        lam : float
            The multiplier :math:`\lambda`, used only where ``tau`` is inf.

        Returns
        -------
        tuple of numpy.ndarray
            ``(log p_lam, d)`` on the law's levels.

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
        >>> lq, d = law.log_tilted(law.scaled_multiplier(1.0), 1.0)
        >>> np.exp(lq).round(12).tolist()  # 1/(1+e), e/(1+e)
        [0.26894142137, 0.73105857863]
        """
        lp = self._logprobs
        if tau == 0.0 or len(self) == 1:
            return lp.copy(), np.zeros_like(self._values)
        frame = self.frame
        if abs(tau) <= 1.0:
            x = tau * frame.y
            d = x - math.log1p(compensated_sum(frame.p * np.expm1(x)))
            return lp + d, d
        a = self._edge_exponents(lam, tau, -1 if tau > 0 else 0)  # a fresh array: worked on in place
        a += lp
        k = int(np.argmax(a))
        shifted = np.subtract(a, a[k], out=a)
        live = _live_levels(shifted)  # the others' e^shifted are exactly 0
        with np.errstate(invalid="ignore"):
            rest = np.exp(shifted if live is None else shifted[live])
        rest[k if live is None else int(np.searchsorted(live, k))] = 0.0
        log_norm = math.log1p(compensated_sum(rest))
        lq = np.subtract(shifted, log_norm, out=shifted)
        lq[k] = -log_norm
        return lq, lq - lp

    def tilt(self, lam: float) -> RewardLaw:
        r"""The exponential tilt :math:`p_\lambda(v) = p(v)\, e^{\lambda v - \kappa(\lambda)}`.

        ``lam = +inf`` (``-inf``) conditions on the top (bottom) level; ``lam = 0`` returns the law itself. Levels
        whose tilted mass is 0 in floating point (exponent below :math:`-1.8\times 10^{308}`) are dropped.
        Accuracy: each log-probability as in :meth:`log_tilt_ratio`; the level carrying most of the tilted mass
        gets :math:`-\operatorname{log1p}(\mathrm{rest})` directly.

        Parameters
        ----------
        lam : float
            The tilt :math:`\lambda`, any real or :math:`\pm\infty`.

        Returns
        -------
        RewardLaw
            :math:`p_\lambda`.

        Raises
        ------
        ValueError
            If ``lam`` is NaN or not a real number.

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
        >>> law.tilt(1.0).probs.round(12).tolist()  # 1/(1+e), e/(1+e)
        [0.26894142137, 0.73105857863]
        >>> law.tilt(float("inf")).values.tolist()
        [1.0]
        """
        lam = _validate.real_scalar(lam, "lam", allow_inf=True)
        if lam == 0.0:
            return self
        if math.isinf(lam):
            return self._edge_law(lam)
        return self.reweighted(self.log_tilted(self.scaled_multiplier(lam), lam)[0])

    def _edge_law(self, sign: float) -> RewardLaw:
        return RewardLaw._trusted(self._values[-1:] if sign > 0 else self._values[:1], np.zeros(1))

    def reweighted(self, lq: np.ndarray) -> RewardLaw:
        """The law on the same values with log-probabilities ``lq``, levels of mass 0 (``-inf``) dropped.

        Parameters
        ----------
        lq : numpy.ndarray
            Normalised log-probabilities on the law's levels, as from :meth:`log_tilted` (not checked).

        Returns
        -------
        RewardLaw

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25])
        >>> law.reweighted(np.array([np.log(0.5), np.log(0.5), -np.inf])).values.tolist()
        [0.0, 1.0]
        """
        keep = lq > -np.inf
        if keep.all():
            return RewardLaw._trusted(self._values, np.minimum(lq, 0.0))
        return RewardLaw._trusted(self._values[keep], np.minimum(lq[keep], 0.0))

    def scaled_tilt_kl(self, tau: float, lam: float, logs: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        r"""The tilt KL as a sum of non-negative terms.

        .. math::

            D(p_\lambda\Vert p) = \sum_v p(v)\, g(d_v), \qquad g(d) = d e^d - e^d + 1 \ge 0, \qquad
            d_v = \log\frac{p_\lambda(v)}{p(v)},

        with :math:`g(-\infty) = 1` and, for :math:`d > 1`, the term written :math:`p_\lambda (d - 1) + p`; from the
        scaled multiplier ``tau`` or from ``logs = log_tilted(tau, lam)`` when already at hand. numpy's pairwise
        sum of these terms of one sign is within :math:`\gamma_k` relative, :math:`k = 26 + \lceil\log_2 n\rceil`
        (``lmalign._summation.pairwise_roundings``: :math:`5.6\times 10^{-15}` at :math:`2\times 10^7` levels),
        beside the :math:`10^{-15}` relative of each term. Arguments are not validated.

        Parameters
        ----------
        tau : float
            The scaled multiplier :math:`\tau`.
        lam : float
            The multiplier :math:`\lambda`, used only where ``tau`` is inf.
        logs : tuple of numpy.ndarray, optional
            ``log_tilted(tau, lam)`` if already computed.

        Returns
        -------
        float

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
        >>> round(law.scaled_tilt_kl(law.scaled_multiplier(1.0), 1.0), 12)  # e/(1+e) - log((1+e)/2)
        0.110944071672
        """
        lq_lam, d = self.log_tilted(tau, lam) if logs is None else logs
        lq = self._logprobs
        live = _live_levels(lq, lq_lam)  # a term is 0 where both masses are 0 in floats
        if live is not None:
            lq_lam, d, lq = lq_lam[live], d[live], lq[live]
        terms = np.empty_like(d)
        low = d == -np.inf
        big = d > 1.0
        mid = ~low & ~big
        terms[low] = np.exp(lq[low])
        terms[big] = np.exp(lq_lam[big]) * (d[big] - 1.0) + np.exp(lq[big])
        terms[mid] = np.exp(lq[mid]) * xexp_minus_expm1(d[mid])
        return float(np.sum(terms))

    def scaled_cumulants(self, order: int) -> list[float]:
        r"""Cumulants :math:`\kappa_1, \dots, \kappa_{\mathrm{order}}` of the scaled centred values :math:`y`.

        From the raw moments :math:`\mu_n` about the centre (compensated sums) by

        .. math::

            \kappa_n = \mu_n - \sum_{i<n} \binom{n-1}{i-1} \kappa_i\, \mu_{n-i}.

        Parameters
        ----------
        order : int
            The highest order.

        Returns
        -------
        list of float
            ``[unused, kappa_1, ..., kappa_order]`` (index 0 unused).

        Examples
        --------
        >>> [round(k, 12) for k in RewardLaw([0.0, 2.0], [0.5, 0.5]).scaled_cumulants(4)[1:]]  # y = -0.5, 0.5
        [0.0, 0.25, 0.0, -0.125]
        """
        frame = self.frame
        p, y = frame.p, frame.y
        mu = [1.0]
        power = np.ones_like(y)
        for _ in range(order):
            power = power * y
            mu.append(compensated_sum(p * power))
        kappa = [0.0] * (order + 1)
        for n in range(1, order + 1):
            kappa[n] = mu[n] - sum(math.comb(n - 1, i - 1) * kappa[i] * mu[n - i] for i in range(1, n))
        kappa[2] = frame.var_y
        return kappa

    def rate(self, x):
        r"""Cramér rate function :math:`I(x) = \sup_t\, [t x - \kappa(t)]`: see :func:`lmalign.ldp.cramer_rate`.

        Parameters
        ----------
        x : float or array_like
            The level(s) :math:`x`.

        Returns
        -------
        float or numpy.ndarray
            :math:`I(x)`, as :func:`lmalign.ldp.cramer_rate` returns it.

        Examples
        --------
        >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
        >>> round(float(law.rate(0.75)), 12), round(float(0.75 * np.log(1.5) + 0.25 * np.log(0.5)), 12)
        (0.130812035941, 0.130812035941)
        """
        from lmalign.ldp import cramer_rate

        return cramer_rate(self, x)
