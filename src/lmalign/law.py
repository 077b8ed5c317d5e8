"""``RewardLaw``: the finite law of a real reward, the object every computation in the book works on.

Every policy in the book reweights the reference by a function of the reward value, so KL divergences and
expectations reduce to computations on this law (see ``DIGEST.md``, "Reduction to the reward line").
Probabilities are stored as log-probabilities. Input probabilities that sum to 1 within
``_validate.PROB_SUM_TOL`` (1e-9) are renormalised exactly in log space; beyond it they are rejected.

Every moment, generating function and tilt is computed on the *scaled, centred* values ``y = (v - mean) / 2**E``
(``|y| <= 1``, the power of two making the scaling exact) with the scaled multiplier ``tau = lam * 2**E``, so
rewards near ``+-1.8e308`` or in the subnormal range neither overflow nor underflow in intermediate steps.
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
    """Sort by value, merge equal values (log-sum-exp of their log-probabilities), drop zero-mass levels.

    A merged log-probability above 0 can only come from rounding (inputs are normalised); it is set to 0.
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
    inside the other is placed by one binary search, without sorting the union."""
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
    """Raise a ``ValueError`` naming ``name`` unless ``law`` is a :class:`RewardLaw`."""
    if not isinstance(law, RewardLaw):
        raise ValueError(f"{name} must be a RewardLaw, got {type(law).__name__}")


class ScaledFrame(NamedTuple):
    """The law in scaled, centred coordinates: ``values = mean + y * 2**big_e`` and ``values = u * 2**e``
    (:attr:`RewardLaw.frame`)."""

    p: np.ndarray  # exp(logprobs)
    e: int  # values = u * 2**e exactly, max|u| in [0.5, 1)
    mean_u: float  # the mean in units of 2**e
    y: np.ndarray  # centred values in units of 2**big_e, max|y| in [0.5, 1) (all 0 for one level)
    big_e: int
    resid_y: float  # sum p y: the rounding left in the centre (about eps * E|y|)
    var_y: float  # sum p y^2 - resid_y^2


def _exponent(x: float) -> int:
    """The ``e`` with ``2**(e-1) <= |x| < 2**e`` (0 for ``x = 0``)."""
    return math.frexp(x)[1] if x != 0 else 0


def _ldexp(x, e: int):
    """``x * 2**e`` without warnings: exact unless the result overflows (``+-inf``) or is subnormal (then
    correctly rounded). A product by the double ``2.0**e`` where that is a normal number (the same result,
    several times faster than ``numpy.ldexp``)."""
    with np.errstate(over="ignore", under="ignore"):
        return x * 2.0**e if -1022 <= e <= 1023 else np.ldexp(x, e)


_LOG_ZERO = -745.2  # exp(x) rounds to 0 below this (the smallest subnormal is e^-744.44)


def _live_levels(*logs: np.ndarray) -> np.ndarray | None:
    """Indices of the levels where any of ``logs`` has ``exp`` above 0 (``> _LOG_ZERO``), or ``None`` if that is
    every level: sums of terms carrying a factor ``e^log`` need only these (the others are exactly 0). Laws of
    at most 64 levels always get ``None`` (selecting costs more than it saves there)."""
    if logs[0].size <= 64:
        return None
    live = logs[0] > _LOG_ZERO
    for lg in logs[1:]:
        live |= lg > _LOG_ZERO
    return None if live.all() else np.flatnonzero(live)


def _frame_of(values: np.ndarray, logprobs: np.ndarray) -> ScaledFrame:
    """:class:`ScaledFrame` of a law. The mean takes two passes, the second a compensated sum of the
    residuals: with ``m0`` the first pass, ``mean_u = m0 + c``, ``c = compensated_sum(p (u - m0))``, the
    error is at most ``2 u E|u - m0|`` (the rounded differences and products) ``+ 1e-27 E|u - m0|`` (the sum,
    ``lmalign._summation.compensated_sum``) ``+ u |mean|``, within ``5 u E|u| < 6e-16 E|u|`` when
    ``|m0| <= 1.01 E|u|``. ``resid_y`` and ``sum p y^2`` are numpy pairwise sums
    (``lmalign._summation.pairwise_roundings``): ``resid_y`` within ``gamma_{k+1} E|y|`` (it enters
    ``var_y`` only squared, and is itself of that size), and ``var_y`` within ``gamma_{k+2}`` relative (terms of
    one sign), ``5.6e-15`` at ``2e7`` levels."""
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
    """Finite law of a real reward.

    ``RewardLaw(values, probs)``: equal values are merged, values sorted increasingly, zero-probability
    levels dropped. ``probs`` must be finite, non-negative and sum to 1 within ``PROB_SUM_TOL = 1e-9``; they
    are then renormalised exactly (in log space: ``log p - log sum p``). Values may be any finite floats,
    subnormals and ``+-1.7e308`` included.
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
        """Law from log-probabilities (``-inf`` for zero mass): their exponentials must sum to 1 within
        ``PROB_SUM_TOL = 1e-9`` (like the probability form), and are renormalised exactly in log space."""
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
        """Exact law of ``sum_{i<=length} r(y_i)`` with ``y_i`` i.i.d. from the token law ``p``."""
        from lmalign.memoryless import law_of_sum

        return law_of_sum(p, r, length)

    @classmethod
    def from_samples(cls, rewards) -> RewardLaw:
        """Empirical law of observed rewards: each distinct value with its relative frequency
        (``log count - log n``, within an ulp of the exact log-frequency)."""
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
        """``D_max = -log p(top)``: the KL of ``p`` conditioned on its top level (largest tilt KL)."""
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
        """``tau = lam * 2**big_e``: the multiplier acting on the scaled centred values ``y`` (may be inf)."""
        return float(_ldexp(lam, self.frame.big_e))

    def unscaled_multiplier(self, tau: float) -> float:
        """``lam = tau * 2**-big_e``, the inverse of :meth:`scaled_multiplier` (``inf`` or 0 where ``lam`` is not a
        float)."""
        return float(_ldexp(tau, -self.frame.big_e))

    # -- moments and generating functions ----------------------------------------------------------------
    def mean(self) -> float:
        """``E R``, computed on values scaled by a power of two (no overflow at ``+-1.8e308``), two-pass and
        compensated. Accuracy: within ``1e-15 * E|R|`` of the mean of the stored law (``exp(logprobs)``)."""
        frame = self.frame
        return float(_ldexp(frame.mean_u, frame.e))

    def var(self) -> float:
        """``Var R = sum p (v - m)^2 - (sum p (v - m))^2`` on the scaled centred values, within ``1e-14``
        relative. A variance beyond the float64 range raises ``ValueError``; one below it rounds to 0."""
        frame = self.frame
        out = float(_ldexp(frame.var_y, 2 * frame.big_e))
        if math.isinf(out):
            raise ValueError(
                f"values: the variance ({frame.var_y:.6g} * 2**{2 * frame.big_e}) exceeds the float64 range"
            )
        return out

    def cgf(self, t):
        """``kappa(t) = log E exp(t R)``, vectorised over ``t``.

        With ``tau = t * 2**E`` acting on the scaled centred values ``y``: ``kappa(t) = t m + log1p(sum p
        expm1(tau y))`` for ``|tau| <= 1`` (no cancellation for small ``t``), else ``t v_edge + log sum p
        exp(t (v - v_edge))`` with ``v_edge`` the top (``t > 0``) or bottom level. Accuracy: absolute error
        within ``1e-14 * (|t m| + |kappa(t) - t m|)``. A finite ``t`` whose ``kappa(t)`` exceeds the float64
        range raises ``ValueError``. At ``t = +inf`` (``-inf``) it takes its limit: ``+inf``, ``log p(top)``
        or ``-inf`` as the top (bottom) value is positive, zero or negative (for ``-inf``: negative, zero or
        positive)."""
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
        """``lam (v - v_end)`` for every level, without forming ``v - v_end`` where it overflows or is
        subnormal (then from the scaled centred values ``y``). Where ``v - v_end`` is a normal float and
        ``lam = tau 2**-big_e`` too, it is ``lam (v - v_end)`` rounded twice: the centred ``y`` lose a gap
        of 1 beside 1e308."""
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
        """``log P(R <= v_k)`` for every level (exact in log space; last entry 0)."""
        out = np.logaddexp.accumulate(self._logprobs)
        out[-1] = 0.0
        return np.minimum(out, 0.0)

    def log_sf(self) -> np.ndarray:
        """``log P(R > v_k)`` for every level (``-inf`` at the top); no cancellation near 1."""
        tail = np.logaddexp.accumulate(self._logprobs[::-1])[::-1]
        out = np.empty_like(tail)
        out[:-1] = np.minimum(tail[1:], 0.0)
        out[-1] = -np.inf
        return out

    # -- divergences and reweighting ------------------------------------------------------------------
    def kl(self, other: RewardLaw) -> float:
        """``D(self || other) = sum p log(p/q)`` in nats; ``inf`` if ``self`` is not ``<< other``.

        Computed as a sum of non-negative terms (see ``lmalign._logspace.kl_logs``), so small divergences
        keep their relative precision *given the stored log-probabilities*: for a tilt by a tiny ``lam`` use
        :func:`lmalign.tilting.tilt_kl`, which does not go through the rounded ``logprobs`` of the tilt.
        """
        if not isinstance(other, RewardLaw):
            raise ValueError(f"other must be a RewardLaw, got {type(other).__name__}")
        _, lp, lq = align(self, other)
        return kl_logs(lp, lq)

    def log_tilt_ratio(self, lam: float) -> np.ndarray:
        """``d(v) = log(p_lam(v)/p(v)) = lam v - kappa(lam)`` for finite ``lam``, accurate for tiny and huge
        ``lam`` and for values up to ``+-1.8e308``.

        With ``tau = lam 2**E`` and the scaled centred values ``y``: ``d = tau y - log(1 + sum p expm1(tau
        y))`` when ``|tau| <= 1`` (no cancellation), otherwise log-sum-exp on ``lam (v - v_edge)``, shifted
        to the top (``lam > 0``) or bottom (``lam < 0``) level. Accuracy: each entry within
        ``1e-14 (|tau y| + |d|)`` (plus rounding in the subnormal range). Levels whose exponent
        ``lam (v - v_edge)`` overflows get ``-inf``.
        """
        lam = _validate.real_scalar(lam, "lam")
        return self._log_ratio(self.scaled_multiplier(lam), lam)

    def _log_ratio(self, tau: float, lam: float) -> np.ndarray:
        """``log(p_lam / p)`` from the scaled multiplier ``tau`` (``lam`` is used only if ``tau`` is inf)."""
        return self.log_tilted(tau, lam)[1]

    def log_tilted(self, tau: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """``(log p_lam, d = log p_lam - log p)`` from the scaled multiplier ``tau`` (:meth:`scaled_multiplier`;
        ``lam`` is used only where ``tau`` is inf). For ``|tau| <= 1``, ``d = tau y - log1p(sum p expm1(tau y))``;
        for ``|tau| > 1`` the level ``k`` with the largest ``a_k = log p_k + lam (v_k - v_edge)`` gets ``log
        p_lam(k) = -log1p(sum_{j != k} e^{a_j - a_k})`` directly, so a tilt concentrated on one level keeps the
        relative precision of the mass it leaves elsewhere. Both sums are compensated
        (``lmalign._summation.compensated_sum``: the error of ``math.fsum`` on the same terms plus at most
        ``1e-27`` of their absolute sum)."""
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
        """Exponential tilt ``p_lam(v) = p(v) exp(lam v - kappa(lam))``; ``lam = +inf`` (``-inf``) conditions
        on the top (bottom) level; ``lam = 0`` returns the law itself. Levels whose tilted mass is 0 in
        floating point (exponent below ``-1.8e308``) are dropped. Accuracy: each log-probability as in
        :meth:`log_tilt_ratio`; the level carrying most of the tilted mass gets ``-log1p(rest)`` directly."""
        lam = _validate.real_scalar(lam, "lam", allow_inf=True)
        if lam == 0.0:
            return self
        if math.isinf(lam):
            return self._edge_law(lam)
        return self.reweighted(self.log_tilted(self.scaled_multiplier(lam), lam)[0])

    def _edge_law(self, sign: float) -> RewardLaw:
        return RewardLaw._trusted(self._values[-1:] if sign > 0 else self._values[:1], np.zeros(1))

    def reweighted(self, lq: np.ndarray) -> RewardLaw:
        """The law on the same values with log-probabilities ``lq`` (normalised, as from :meth:`log_tilted`;
        not checked), levels of mass 0 (``-inf``) dropped."""
        keep = lq > -np.inf
        if keep.all():
            return RewardLaw._trusted(self._values, np.minimum(lq, 0.0))
        return RewardLaw._trusted(self._values[keep], np.minimum(lq[keep], 0.0))

    def scaled_tilt_kl(self, tau: float, lam: float, logs: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """``D(p_lam || p) = sum_v p(v) g(d_v)``, ``g(d) = d e^d - e^d + 1 >= 0``, ``d = log p_lam/p``: a sum
        of non-negative terms (``g(-inf) = 1``; for ``d > 1``, ``p_lam (d - 1) + p``), from the scaled multiplier
        ``tau`` or from ``logs = log_tilted(tau, lam)`` when already at hand. numpy's pairwise sum of these
        terms of one sign is within ``gamma_k`` relative, ``k = 26 + ceil(log2 n)``
        (``lmalign._summation.pairwise_roundings``: ``5.6e-15`` at ``2e7`` levels), beside the ``1e-15``
        relative of each term."""
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
        """Cumulants ``kappa_1..kappa_order`` of the scaled centred values ``y`` (index 0 unused), from the
        raw moments about the centre (compensated sums) by ``kappa_n = mu_n - sum_{i<n} C(n-1, i-1) kappa_i
        mu_{n-i}``."""
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
        """Cramer rate function ``I(x) = sup_t [t x - kappa(t)]``: see ``lmalign.ldp.cramer_rate``."""
        from lmalign.ldp import cramer_rate

        return cramer_rate(self, x)
