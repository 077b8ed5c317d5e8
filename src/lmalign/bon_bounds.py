"""Closed forms and bounds for best-of-N on a finite reward law (Beirami et al., arXiv:2401.01879).

Relative entropy: the binary uniform value ``log 2 - h(2^-N)``, the gap bound
``log N - (N-1)/N - D <= 2N(N-1) e^{-H_2}`` and the estimator ``D_hat(eps)``. Win rate against the reference
(ties count 1/2): its value, the bound ``N/(N+1)`` and the gap bound ``(N-1)/2 e^{-H_2}``.
"""

from __future__ import annotations

import math

from lmalign import _validate
from lmalign.best_of_n import best_of_n, bon_kl_bound, resolve_log_n
from lmalign.law import RewardLaw, require_law
from lmalign.transforms import win_rate

__all__ = [
    "binary_uniform_bon_kl",
    "bon_kl_gap_bound",
    "bon_kl_estimate",
    "bon_win_rate",
    "bon_win_rate_bound",
    "bon_win_gap_bound",
]


def _n_from_log(ln: float) -> float:
    """``N = e^{log N}`` as a float (``inf`` beyond the float range)."""
    return math.exp(ln) if ln < 709.0 else math.inf


def _log_n_minus_1(ln: float) -> float:
    """``log(N - 1) = log N + log(1 - 1/N)`` for ``log N > 0``, without forming ``N``."""
    return ln + math.log(-math.expm1(-ln))


def _exp_capped(x: float) -> float:
    """``e^x``, ``inf`` beyond the float range."""
    return math.exp(x) if x < 709.0 else math.inf


def binary_uniform_bon_kl(n: int | None = None, log_n: float | None = None) -> float:
    """``D(BoN||p) = log 2 - h(2^-N)`` for the uniform law on two reward levels (``h`` binary entropy, nats).

    Near ``N = 1`` it is ``D = sum_k u^{2k} / (2k (2k - 1))`` with ``u = 1 - 2^{-(N-1)}`` (the KL of
    ``Bernoulli((1 + u)/2)`` to the fair coin), which ``log 2 - h`` would lose to cancellation."""
    ln = resolve_log_n(n, log_n)
    n_minus_1 = math.expm1(ln) if ln < 709.0 else math.inf
    u = -math.expm1(-n_minus_1 * math.log(2.0)) if math.isfinite(n_minus_1) else 1.0
    if u < 0.3:
        u2 = u * u
        return math.fsum(u2**k / (2 * k * (2 * k - 1)) for k in range(1, 17))  # next term < u^34/1122 < 2e-21
    x = 0.5 * (1.0 - u)  # 2^-N, the bottom level's mass
    h = 0.0 if x == 0.0 else -x * math.log(x) - (1.0 - x) * math.log1p(-x)
    return math.log(2.0) - h


def bon_kl_gap_bound(h2: float, n: int | None = None, log_n: float | None = None) -> float:
    """``2 N (N - 1) e^{-H_2}``: bound on ``log N - (N-1)/N - D(BoN||p)``, with ``H_2 = -log sum_v p(v)^2``
    the collision entropy of the law of the reward (of the levels, not of the responses)."""
    h2 = _validate.nonneg_finite(h2, "h2")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    return _exp_capped(math.log(2.0) + ln + _log_n_minus_1(ln) - h2)  # in logs: no inf * 0 for huge N and H_2


def bon_win_rate(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> float:
    """Win rate of best-of-N against a fresh draw from ``law``, ``P(X > Y) + P(X = Y)/2`` (ties at random)."""
    require_law(law)
    return win_rate(best_of_n(law, n=n, log_n=log_n), law)


def bon_win_rate_bound(n: int | None = None, log_n: float | None = None) -> float:
    """``N/(N+1)``: the win rate of best-of-N in the continuous case, an upper bound for every finite law."""
    ln = resolve_log_n(n, log_n)
    return 1.0 / (1.0 + math.exp(-ln))


def bon_win_gap_bound(h2: float, n: int | None = None, log_n: float | None = None) -> float:
    """``(N - 1)/2 e^{-H_2}``: bound on ``N/(N+1)`` minus the win rate of best-of-N (``H_2`` of the levels)."""
    h2 = _validate.nonneg_finite(h2, "h2")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    return _exp_capped(_log_n_minus_1(ln) - math.log(2.0) - h2)


def bon_kl_estimate(eps: float, n: int | None = None, log_n: float | None = None) -> float:
    """Beirami et al.'s estimator ``D_hat(eps) = (1-eps)^N (log N + (N-1) log(1-eps) - (N-1)/N)
    + (1 - (1-eps)^N) log((1 - (1-eps)^N)/eps)``, ``eps`` in ``[0, 1]`` the reference probability of the top.

    It is the exact ``D(BoN||p)`` of a law that is continuous except for one top atom of mass ``eps``.
    ``eps = 0`` gives ``log N - (N-1)/N`` and ``eps = 1`` gives 0. Computed from ``log a = N log(1 - eps)``.
    """
    eps = _validate.nonneg_real(eps, "eps")
    if eps > 1.0:
        raise ValueError(f"eps must lie in [0, 1], got {eps!r}")
    ln = resolve_log_n(n, log_n)
    if eps == 0.0:
        return bon_kl_bound(log_n=ln)
    if eps == 1.0 or ln == 0.0:
        return 0.0
    if ln < 1.0:  # D_hat = O(log(N)^2) is the difference of terms of size 1: more digits
        return _estimate_mp(eps, ln)
    log1m = math.log1p(-eps)  # < 0
    log_log_a = ln + math.log(-log1m)
    log_a = -math.exp(log_log_a) if log_log_a < 709.0 else -math.inf  # N log(1 - eps)
    a = math.exp(log_a)
    one_minus_a = -math.expm1(log_a)
    frac = -math.expm1(-ln)  # (N-1)/N
    cont = 0.0 if a == 0.0 else a * (ln + log_a * frac - frac)  # (N-1) log(1-eps) = log_a (N-1)/N
    atom = one_minus_a * (math.log(one_minus_a) - math.log(eps))
    return cont + atom if cont + atom > 0 else 0.0  # >= 0 exactly; rounding of terms near 0 aside


def _estimate_mp(eps: float, ln: float) -> float:
    """:func:`bon_kl_estimate` for ``0 < log N < 1`` in mpmath with ``25 + 2 log10(1/log N)`` digits: terms of
    size 1 cancel to ``O(log(N)^2)``, so this leaves about 25 correct digits (700 digits at ``log N = 5e-324``)."""
    import mpmath

    with mpmath.workdps(25 + int(-2.0 * math.log10(ln))):
        e, x = mpmath.mpf(eps), mpmath.mpf(ln)
        log_a = mpmath.exp(x) * mpmath.log1p(-e)
        a = mpmath.exp(log_a)
        frac = -mpmath.expm1(-x)
        one_minus_a = -mpmath.expm1(log_a)
        d = a * (x + log_a * frac - frac) + one_minus_a * (mpmath.log(one_minus_a) - mpmath.log(e))
        return float(d) if d > 0 else 0.0
