"""``RewardLaw``: the finite law of a real reward, the object every computation in the book works on.

Every policy in the book reweights the reference by a function of the reward value, so KL divergences and
expectations reduce to computations on this law (see ``DIGEST.md``, "Reduction to the reward line").
Probabilities are stored as log-probabilities; nothing is clipped or renormalised silently.

``law`` is the bottom of the library: every other module builds on it. The one deliberate exception is two
conveniences of the public API, :meth:`RewardLaw.from_tokens` (implemented in ``memoryless``) and
:meth:`RewardLaw.rate` (in ``ldp``), which import their implementation when called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lmalign import _validate
from lmalign._logspace import kl_logs, log_sum_exp


def merge_sorted_log(values: np.ndarray, logprobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by value, merge equal values (log-sum-exp of their log-probabilities), drop zero-mass levels.

    A merged log-probability above 0 can only come from rounding (inputs sum to 1 within 1e-9); it is set to 0.
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    lp = logprobs[order]
    keep = lp > -np.inf
    v, lp = v[keep], lp[keep]
    if v.size > 1 and (np.diff(v) == 0).any():
        starts = np.flatnonzero(np.r_[True, np.diff(v) != 0])
        bounds = np.r_[starts, v.size]
        merged = np.empty(starts.size)
        for i in range(starts.size):
            a, b = bounds[i], bounds[i + 1]
            merged[i] = lp[a] if b - a == 1 else log_sum_exp(lp[a:b])
        v, lp = v[starts], merged
    return v, np.minimum(lp, 0.0)


def align(a: RewardLaw, b: RewardLaw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of both supports, with each log-probability vector on it (``-inf`` off support)."""
    vals = np.union1d(a.values, b.values)
    la = np.full(vals.size, -np.inf)
    lb = np.full(vals.size, -np.inf)
    la[np.searchsorted(vals, a.values)] = a.logprobs
    lb[np.searchsorted(vals, b.values)] = b.logprobs
    return vals, la, lb


def require_law(law, name: str = "law") -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``law`` is a :class:`RewardLaw`."""
    if not isinstance(law, RewardLaw):
        raise ValueError(f"{name} must be a RewardLaw, got {type(law).__name__}")


class RewardLaw:
    """Finite law of a real reward.

    ``RewardLaw(values, probs)``: equal values are merged, values sorted increasingly, zero-probability
    levels dropped. ``probs`` must be finite, non-negative and sum to 1 within 1e-9.
    """

    __slots__ = ("_values", "_logprobs", "_mean")

    def __init__(self, values: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray):
        v = _validate.real_vector(values, "values")
        p = _validate.prob_vector(probs, "probs")
        _validate.same_length(v, p, "values", "probs")
        with np.errstate(divide="ignore"):
            lp = np.log(p)
        self._values, self._logprobs = merge_sorted_log(v, lp)
        self._values.setflags(write=False)
        self._logprobs.setflags(write=False)

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_logprobs(cls, values, logprobs) -> RewardLaw:
        """Law from log-probabilities (``-inf`` for zero mass); validated like the probability form."""
        v = _validate.real_vector(values, "values")
        lp = _validate.log_prob_vector(logprobs, "logprobs")
        _validate.same_length(v, lp, "values", "logprobs")
        return cls._trusted(*merge_sorted_log(v, lp))

    @classmethod
    def _trusted(cls, values: np.ndarray, logprobs: np.ndarray) -> RewardLaw:
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
        """Empirical law of observed rewards: each distinct value with its relative frequency."""
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
        return (f"RewardLaw({len(self)} levels in [{self._values[0]:.6g}, {self._values[-1]:.6g}], "
                f"mean={self.mean():.6g})")

    @property
    def top(self) -> float:
        """Largest reward value."""
        return float(self._values[-1])

    @property
    def max_kl(self) -> float:
        """``D_max = -log p(top)``: the KL of ``p`` conditioned on its top level (largest tilt KL)."""
        return float(-self._logprobs[-1])

    # -- moments and generating functions ----------------------------------------------------------------
    def mean(self) -> float:
        """``E R``, two-pass and compensated: ``m0 + fsum(p (v - m0))`` with ``m0 = p . v``, so long laws (many
        levels of large values) keep their mean to rounding of the spread, not of the values."""
        cached = getattr(self, "_mean", None)  # a law is immutable: its mean is computed once
        if cached is None:
            p = self.probs
            m0 = float(np.dot(p, self._values))
            cached = self._mean = m0 + math.fsum((p * (self._values - m0)).tolist())
        return cached

    def var(self) -> float:
        """``Var R`` (computed about the mean)."""
        c = self._values - self.mean()
        return float(np.dot(self.probs, c * c))

    def cgf(self, t):
        """``kappa(t) = log E exp(t R)``, vectorised over ``t``; computed by log-sum-exp.

        At ``t = +inf`` (``-inf``) it takes its limit: ``+inf``, ``log p(top)`` or ``-inf`` as the top (bottom)
        value is positive, zero or negative (for ``-inf``: negative, zero or positive)."""
        t_arr = _validate.real_array(t, "t")
        flat = t_arr.reshape(-1)
        fin = np.isfinite(flat)
        out = np.empty(flat.size)
        out[fin] = log_sum_exp(self._logprobs[None, :] + np.multiply.outer(flat[fin], self._values), axis=1)
        for i in np.flatnonzero(~fin):
            end = -1 if flat[i] > 0 else 0
            edge = self._values[end] * np.sign(flat[i])
            out[i] = math.inf if edge > 0 else (-math.inf if edge < 0 else self._logprobs[end])
        return float(out[0]) if t_arr.ndim == 0 else out.reshape(t_arr.shape)

    def log_cdf(self) -> np.ndarray:
        """``log P(R <= v_k)`` for every level ``v_k`` (exact in log space; last entry 0)."""
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
        keep their relative precision.
        """
        if not isinstance(other, RewardLaw):
            raise ValueError(f"other must be a RewardLaw, got {type(other).__name__}")
        _, lp, lq = align(self, other)
        return kl_logs(lp, lq)

    def log_tilt_ratio(self, lam: float) -> np.ndarray:
        """``log(p_lam(v)/p(v)) = lam v - kappa(lam)`` for finite ``lam``, accurate even for tiny ``lam``.

        Written as ``lam (v - m) - log(1 + sum_j p_j expm1(lam (v_j - m)))`` with ``m`` the mean when
        ``|lam| max|v - m| <= 1`` (no cancellation), and otherwise by log-sum-exp on values shifted to the
        top (``lam > 0``) or bottom (``lam < 0``) level, so large ``lam`` loses nothing to ``lam |v|``.
        """
        lam = _validate.real_scalar(lam, "lam")
        if lam == 0.0:
            return np.zeros_like(self._values)
        rough = float(np.dot(self.probs, self._values))  # picks the branch; the exact mean is used inside it
        if abs(lam) * float(np.abs(self._values - rough).max()) <= 1.0:
            x = lam * (self._values - self.mean())
            return x - math.log1p(math.fsum((self.probs * np.expm1(x)).tolist()))
        shifted = self._values - (self._values[-1] if lam > 0 else self._values[0])
        x = lam * shifted
        return x - log_sum_exp(self._logprobs + x)

    def tilt(self, lam: float) -> RewardLaw:
        """Exponential tilt ``p_lam(v) = p(v) exp(lam v - kappa(lam))``; ``lam = +inf`` (``-inf``) conditions
        on the top (bottom) level; ``lam = 0`` returns the law itself."""
        lam = _validate.real_scalar(lam, "lam", allow_inf=True)
        if lam == 0.0:
            return self
        if lam == math.inf:
            return RewardLaw._trusted(self._values[-1:], np.zeros(1))
        if lam == -math.inf:
            return RewardLaw._trusted(self._values[:1], np.zeros(1))
        return RewardLaw._trusted(self._values, self._logprobs + self.log_tilt_ratio(lam))

    def rate(self, x):
        """Cramer rate function ``I(x) = sup_t [t x - kappa(t)]``: see ``lmalign.ldp.cramer_rate``."""
        from lmalign.ldp import cramer_rate

        return cramer_rate(self, x)
