"""Policies that reweight the reference by a function of the reward, and win rates between reward laws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.integrate import IntegrationWarning, quad
from scipy.special import logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, align


def _check_law(law, name: str = "law") -> None:
    if not isinstance(law, RewardLaw):
        raise ValueError(f"{name} must be a RewardLaw, got {type(law).__name__}")


def win_rate(policy: RewardLaw, reference: RewardLaw) -> float:
    """``P(X > Y) + P(X = Y)/2`` for independent ``X ~ policy``, ``Y ~ reference`` (ties count one half)."""
    _check_law(policy, "policy")
    _check_law(reference, "reference")
    _, lx, ly = align(policy, reference)
    px, py = np.exp(lx), np.exp(ly)
    below = np.concatenate(([0.0], np.cumsum(py)[:-1]))
    return float(math.fsum((px * (below + py / 2)).tolist()))


def calibrated_reward(law: RewardLaw) -> np.ndarray:
    """Mid-rank calibrated reward ``u(v) = P(R < v) + P(R = v)/2`` at each level: the win rate of ``v``
    against a fresh draw (with ties one half); uniform on ``(0, 1)`` in the continuous limit."""
    _check_law(law)
    p = law.probs
    return np.concatenate(([0.0], np.cumsum(p)[:-1])) + p / 2


def transform_policy(law: RewardLaw, transform: Callable[[np.ndarray], np.ndarray], beta: float) -> RewardLaw:
    """``pi(v) ~ p(v) exp(transform(v) / beta)``: the KL-regularized optimum for the transformed reward."""
    _check_law(law)
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    t = np.asarray(transform(law.values), dtype=float)
    if t.shape != law.values.shape or np.isnan(t).any() or (t == np.inf).any():
        raise ValueError("transform must map the values to an array of the same shape, without NaN or +inf")
    lw = law.logprobs + t / beta
    return RewardLaw._trusted(law.values, lw - logsumexp(lw)) if (lw > -np.inf).all() else \
        RewardLaw.from_logprobs(law.values, lw - logsumexp(lw))


def soft_best_of_n(law: RewardLaw, n: int, beta: float) -> RewardLaw:
    """Soft best-of-N: draw ``n`` from ``p`` and keep draw ``i`` with probability ``~ exp(r_i / beta)``.

    With ``w(v) = exp((v - max) / beta)`` and ``M(t) = E exp(-t w(R))``, the law is
    ``pi(v) = n p(v) w(v) E[1 / (w(v) + sum_{j<n} w(R_j))] = n p(v) w(v) int_0^inf e^{-t w(v)} M(t)^{n-1} dt``
    (from ``1/a = int_0^inf e^{-ta} dt``); the integral is computed by adaptive quadrature to a relative
    accuracy of about 1e-11 and the result is checked to sum to 1 within 1e-9. ``beta -> 0`` gives best-of-N;
    ``n -> inf`` at fixed ``beta`` gives the tilt ``p_{1/beta}``.
    """
    _check_law(law)
    n = _validate.positive_int(n, "n")
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    if n == 1:
        return law
    x = (law.values - law.values[-1]) / beta  # log w(v)
    p = law.probs

    def integral(xv: float) -> float:
        ratio = np.exp(np.minimum(x - xv, 700.0))  # w(R)/w(v); capped where exp(-s ratio) is 0 anyway

        def f(s: float) -> float:  # t = s / w(v)
            return math.exp(-s) * float(np.dot(p, np.exp(-s * ratio))) ** (n - 1)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IntegrationWarning)
            val, _ = quad(f, 0, np.inf, epsabs=0, epsrel=1e-11, limit=400)
        return val

    mass = np.array([n * pv * integral(xv) for pv, xv in zip(p, x, strict=True)])
    total = math.fsum(mass.tolist())
    if abs(total - 1) > 1e-9:
        raise ArithmeticError(f"soft best-of-n quadrature lost accuracy (masses sum to {total!r})")
    with np.errstate(divide="ignore"):
        return RewardLaw.from_logprobs(law.values, np.log(mass) - math.log(total))
