"""Exact best-of-N on the reward line, ties broken uniformly at random.

Selecting the best of ``N`` i.i.d. draws from ``p`` puts mass ``F(v)^N - F_-(v)^N`` on level ``v``, with ``F``
the CDF at ``v`` and ``F_-`` the CDF strictly below (random tie-breaking spreads it over the tied responses in
proportion to ``p``, so on the reward line this is the whole law). Everything is computed in log space from
``A(v) = -N log F(v)``, formed as ``exp(log N + log(-log F))`` with ``-log F = -log(1 - S)`` taken from the
upper tail ``S`` in log space, so nothing is lost where ``F`` is within 1e-300 of 1 or ``N = e^10000``.
"""

from __future__ import annotations

import math

import numpy as np

from lmalign import _validate
from lmalign._logspace import log_log1p_exp, log_neg_expm1, log_neg_log1m_exp
from lmalign.law import RewardLaw


def resolve_log_n(n: int | None = None, log_n: float | None = None) -> float:
    """``log N`` from exactly one of ``n`` (integer >= 1) or ``log_n`` (finite, >= 0)."""
    if (n is None) == (log_n is None):
        raise ValueError("give exactly one of n and log_n")
    if n is not None:
        return math.log(_validate.positive_int(n, "n"))
    val = _validate.nonneg_real(log_n, "log_n")
    if math.isinf(val):
        raise ValueError("log_n must be finite")
    return val


def bon_kl_bound(n: int | None = None, log_n: float | None = None) -> float:
    """``log N - (N-1)/N``, the best-of-N KL formula (an upper bound on ``D(BoN||p)``)."""
    ln = resolve_log_n(n, log_n)
    return ln + math.expm1(-ln)


def log_minus_log_cdf(law: RewardLaw) -> np.ndarray:
    """``log(-log F(v))`` at every level (``-inf`` at the top, where ``F = 1``)."""
    log_cdf = law.log_cdf()
    log_sf = law.log_sf()
    out = np.full(len(law), -np.inf)
    upper_small = log_sf[:-1] < math.log(0.5)
    body = np.where(upper_small, log_neg_log1m_exp(np.where(upper_small, log_sf[:-1], -1.0)),
                    np.log(-np.minimum(log_cdf[:-1], -1e-300)))
    out[:-1] = body
    return out


class BestOfNKernel:
    """The parts of the best-of-N law that do not depend on ``N``, for evaluating many ``N`` on one law:
    ``log(-log F(v))`` and ``log log(1 + p(v)/F_-(v))`` at every level."""

    def __init__(self, law: RewardLaw):
        if not isinstance(law, RewardLaw):
            raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")
        self.law = law
        self.log_minus_log_cdf = log_minus_log_cdf(law)
        self.log_step = np.full(len(law), np.inf)  # log(A_- - A) - log N; +inf at the lowest level (F_- = 0)
        self.log_step[1:] = log_log1p_exp(law.logprobs[1:] - law.log_cdf()[:-1])

    def log_masses(self, log_n: float) -> np.ndarray:
        """``log P_BoN(v) = -A(v) + log(1 - e^{-(A_-(v) - A(v))})``, ``A = N (-log F)``, at every level
        (``-inf`` where the mass is below ``exp(-1.8e308)``)."""
        with np.errstate(over="ignore"):
            a = np.exp(log_n + self.log_minus_log_cdf)  # A(v) = -N log F(v), may be inf for tiny F
            log_gap = log_n + self.log_step
            gap = np.exp(log_gap)
        logmass = -a + log_neg_expm1(gap)
        tiny = log_gap < -30
        if tiny.any():  # 1 - e^{-g} ~ g for tiny g: keep its log exactly
            logmass[tiny] = -a[tiny] + log_gap[tiny] - np.exp(log_gap[tiny]) / 2
        return logmass


def best_of_n(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> RewardLaw:
    """Law of the best of ``N`` i.i.d. draws from ``law`` (ties at random); give ``n`` or ``log_n = log N``.

    ``P(level v) = F(v)^N - F_-(v)^N = e^{-A(v)} (1 - e^{-(A_-(v) - A(v))})`` with ``A = -N log F`` and
    ``A_- - A = N log(1 + p(v)/F_-(v))``, both formed in log space. Levels whose mass is below
    ``exp(-1.8e308)`` (not representable even as a log) are dropped.
    """
    if not isinstance(law, RewardLaw):
        raise ValueError(f"law must be a RewardLaw, got {type(law).__name__}")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0 or len(law) == 1:
        return law
    logmass = BestOfNKernel(law).log_masses(ln)
    keep = logmass > -np.inf
    return RewardLaw._trusted(law.values[keep], logmass[keep])


def lattice_gumbel(lam: float, sigma: float, step: float, n: int, x_star: float, v0: float,
                   log_shift: float = 0.0) -> tuple[float, float]:
    """Mean ``u_bar`` and entropy ``H`` of the discretised Gumbel law that best-of-``e^{n delta}`` follows around
    ``n x*`` on the lattice ``n v0 + step Z`` (second-order expansion of chapter 6):
    ``G(u) = exp(-e^{-lam (u + step) - a}) - exp(-e^{-lam u - a})`` for the lattice points ``u = s - n x*``, with
    ``a = log(sigma sqrt(2 pi n) (1 - e^{-lam step}) / step) - log_shift``. ``log_shift`` is
    ``log E e^{lam R} - n kappa(lam)``, zero for a memoryless source, a bounded boundary term for a source with
    memory. ``log G`` is formed in log space; the window covers ``G`` to 1e-12."""
    lam = _validate.real_scalar(lam, "lam")
    sigma = _validate.real_scalar(sigma, "sigma")
    step = _validate.real_scalar(step, "step")
    if not (lam > 0 and sigma > 0 and step > 0):
        raise ValueError(f"lam, sigma and step must be positive, got {lam!r}, {sigma!r}, {step!r}")
    n = _validate.positive_int(n, "n")
    a_n = math.log(sigma * math.sqrt(2 * math.pi * n) * -math.expm1(-lam * step) / step) - log_shift
    j0 = math.ceil((n * x_star - a_n / lam - n * v0) / step)
    width = math.ceil(60 / (lam * step)) + 5
    u = n * v0 + step * np.arange(j0 - width, j0 + width + 1) - n * x_star
    upper = np.exp(-lam * (u + step) - a_n)   # N T(s + step)
    lower = np.exp(-lam * u - a_n)            # N T(s)
    log_g = -upper + np.log(-np.expm1(-(lower - upper)))
    g = np.exp(log_g)
    if abs(g.sum() - 1.0) > 1e-12:
        raise ArithmeticError("the lattice window misses part of the Gumbel law")
    return float(np.dot(g, u)), float(-np.dot(g, log_g))
