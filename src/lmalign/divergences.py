"""Divergences and information quantities on RewardLaws or plain probability vectors (nats, log space).

Two RewardLaws are aligned on the union of their supports; two vectors must have equal length.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, xlogy

from lmalign import _validate
from lmalign._logspace import kl_logs
from lmalign.law import RewardLaw, align


def _logs(p, name: str) -> np.ndarray:
    if isinstance(p, RewardLaw):
        return np.asarray(p.logprobs)
    arr = _validate.prob_vector(p, name)
    with np.errstate(divide="ignore"):
        return np.log(arr)


def _pair(p, q, name_p: str = "p", name_q: str = "q") -> tuple[np.ndarray, np.ndarray]:
    """Aligned log-probability vectors of ``p`` and ``q``."""
    if isinstance(p, RewardLaw) and isinstance(q, RewardLaw):
        _, lp, lq = align(p, q)
        return lp, lq
    if isinstance(p, RewardLaw) or isinstance(q, RewardLaw):
        raise ValueError(f"{name_p} and {name_q} must both be RewardLaws or both probability vectors")
    lp, lq = _logs(p, name_p), _logs(q, name_q)
    _validate.same_length(lp, lq, name_p, name_q)
    return lp, lq


def _is_nan(x) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _alpha(alpha) -> float:
    a = _validate.real_scalar(alpha, "alpha", allow_inf=True) if not _is_nan(alpha) else math.nan
    if math.isnan(a) or a <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    return a


def kl(p, q) -> float:
    """``D(p||q) = sum p log(p/q)``; ``inf`` unless ``p << q``."""
    return kl_logs(*_pair(p, q))


def renyi_divergence(p, q, alpha: float) -> float:
    """``D_a(p||q) = 1/(a-1) log sum p^a q^(1-a)`` for ``a > 0``; ``a = 1`` is KL, ``a = inf`` is
    ``log max p/q``."""
    a = _alpha(alpha)
    lp, lq = _pair(p, q)
    if a == 1.0:
        return kl_logs(lp, lq)
    pos = lp > -np.inf
    if a > 1 and (lq[pos] == -np.inf).any():
        return math.inf
    if math.isinf(a):
        return float(np.max(lp[pos] - lq[pos]))
    both = pos & (lq > -np.inf)
    if not both.any():
        return math.inf
    e = (1 - a) * (lq[both] - lp[both])  # log of (q/p)^(1-a)
    if np.abs(e).max() <= 1.0:  # near a = 1: log sum p (q/p)^(1-a) = log1p(sum p expm1(e) - p(off supp q))
        off = math.fsum(np.exp(lp[pos & ~both]).tolist())
        return float(math.log1p(math.fsum((np.exp(lp[both]) * np.expm1(e)).tolist()) - off) / (a - 1))
    return float(logsumexp(lp[both] + e) / (a - 1))


def renyi_cross_entropy(q, s, alpha: float) -> float:
    """``H_a(q; s) = 1/(1-a) log sum q s^(a-1)``; ``a = 1`` gives the cross entropy ``-sum q log s``."""
    a = _alpha(alpha)
    lq, ls = _pair(q, s, "q", "s")
    pos = lq > -np.inf
    if (ls[pos] == -np.inf).any() and a <= 1:
        return math.inf
    if a == 1.0:
        return float(-math.fsum((np.exp(lq[pos]) * ls[pos]).tolist()))
    keep = pos & (ls > -np.inf)
    e = (a - 1) * ls[keep]
    if np.abs(e).max() <= 1.0:  # near a = 1: log sum q s^(a-1) = log1p(sum q expm1(e) - q(off supp s))
        off = math.fsum(np.exp(lq[pos & ~keep]).tolist())
        return float(math.log1p(math.fsum((np.exp(lq[keep]) * np.expm1(e)).tolist()) - off) / (1 - a))
    return float(logsumexp(lq[keep] + e) / (1 - a))


def entropy(p) -> float:
    """Shannon entropy ``-sum p log p``."""
    lp = _logs(p, "p")
    pos = lp > -np.inf
    return float(-math.fsum((np.exp(lp[pos]) * lp[pos]).tolist()))


def collision_entropy(p) -> float:
    """Collision (Renyi order 2) entropy ``H_2 = -log sum p^2``."""
    return float(-logsumexp(2 * _logs(p, "p")))


def binary_entropy(x):
    """``h(x) = -x log x - (1-x) log(1-x)`` in nats, vectorised; ``x`` in ``[0, 1]``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"x must be real numbers in [0, 1], got {x!r}") from None
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("x must lie in [0, 1] (no NaN)")
    # -(1-x) log(1-x) written with log1p(-x) near 0, and symmetrically near 1, so neither end loses digits
    y = 1.0 - arr
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = -xlogy(arr, arr) - np.where(arr < 1, y * np.log1p(-arr), 0.0)
        hi = -xlogy(y, y) - np.where(arr > 0, arr * np.log1p(-y), 0.0)
    out = np.where(arr <= 0.5, lo, hi)
    return float(out) if out.ndim == 0 else out
