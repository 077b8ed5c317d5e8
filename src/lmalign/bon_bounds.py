r"""Closed forms and bounds for best-of-N on a finite reward law (Beirami et al., arXiv:2401.01879).

Relative entropy: the binary uniform value :math:`\log 2 - h(2^{-N})`, the gap bound
:math:`\log N - (N-1)/N - D \le 2N(N-1) e^{-H_2}` and the estimator :math:`\hat D(\epsilon)`. Win rate against the
reference (ties count 1/2): its value, the bound :math:`N/(N+1)` and the gap bound :math:`\frac{N-1}{2} e^{-H_2}`.
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
    r""":math:`N = e^{\log N}` as a float (``inf`` beyond the float range)."""
    return math.exp(ln) if ln < 709.0 else math.inf


def _log_n_minus_1(ln: float) -> float:
    r""":math:`\log(N - 1) = \log N + \log(1 - 1/N)` for :math:`\log N > 0`, without forming :math:`N`."""
    return ln + math.log(-math.expm1(-ln))


def _exp_capped(x: float) -> float:
    """``e^x``, ``inf`` beyond the float range."""
    return math.exp(x) if x < 709.0 else math.inf


def binary_uniform_bon_kl(n: int | None = None, log_n: float | None = None) -> float:
    r""":math:`D(\mathrm{BoN}\Vert p) = \log 2 - h(2^{-N})` for the uniform law on two reward levels.

    :math:`h` is the binary entropy in nats. Near :math:`N = 1` it is
    :math:`D = \sum_k u^{2k} / (2k (2k - 1))` with :math:`u = 1 - 2^{-(N-1)}` (the KL of
    :math:`\mathrm{Bernoulli}((1 + u)/2)` to the fair coin), which :math:`\log 2 - h` would lose to cancellation.

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
    >>> round(binary_uniform_bon_kl(n=2), 12)  # log 2 - h(1/4)
    0.130812035941
    >>> round(math.log(2) + 0.25 * math.log(0.25) + 0.75 * math.log(0.75), 12)
    0.130812035941
    """
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
    r"""The bound :math:`2 N (N - 1) e^{-H_2}` on :math:`\log N - (N-1)/N - D(\mathrm{BoN}\Vert p)`.

    :math:`H_2 = -\log\sum_v p(v)^2` is the collision entropy of the law of the reward (of the levels, not of the
    responses).

    Parameters
    ----------
    h2 : float
        :math:`H_2 \ge 0`, finite.
    n : int, optional
        :math:`N`.
    log_n : float, optional
        :math:`\log N` (give exactly one of the two).

    Returns
    -------
    float
        The bound, ``inf`` beyond the float range.

    Raises
    ------
    ValueError
        If ``h2`` is negative, NaN or infinite, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> round(bon_kl_gap_bound(math.log(2), n=2), 12)  # 2 * 2 * 1 / 2
    2.0
    """
    h2 = _validate.nonneg_finite(h2, "h2")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    return _exp_capped(math.log(2.0) + ln + _log_n_minus_1(ln) - h2)  # in logs: no inf * 0 for huge N and H_2


def bon_win_rate(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> float:
    r"""Win rate of best-of-N against a fresh draw from ``law``: :math:`P(X > Y) + P(X = Y)/2` (ties at random).

    Parameters
    ----------
    law : RewardLaw
        The law :math:`p` of the reward.
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
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> round(bon_win_rate(RewardLaw([0.0, 1.0], [0.5, 0.5]), n=2), 12)  # 3/4 * 1/2 + (1/8 + 3/8) / 2
    0.625
    """
    require_law(law)
    return win_rate(best_of_n(law, n=n, log_n=log_n), law)


def bon_win_rate_bound(n: int | None = None, log_n: float | None = None) -> float:
    r""":math:`N/(N+1)`: the win rate of best-of-N in the continuous case, an upper bound for every finite law.

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
    >>> bon_win_rate_bound(n=3)
    0.75
    """
    ln = resolve_log_n(n, log_n)
    return 1.0 / (1.0 + math.exp(-ln))


def bon_win_gap_bound(h2: float, n: int | None = None, log_n: float | None = None) -> float:
    r"""The bound :math:`\frac{N - 1}{2} e^{-H_2}` on :math:`N/(N+1)` minus the win rate of best-of-N.

    :math:`H_2` is the collision entropy of the levels.

    Parameters
    ----------
    h2 : float
        :math:`H_2 \ge 0`, finite.
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
        If ``h2`` is negative, NaN or infinite, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> round(bon_win_gap_bound(math.log(2), n=3), 12)  # (3 - 1) / 2 * 1/2
    0.5
    """
    h2 = _validate.nonneg_finite(h2, "h2")
    ln = resolve_log_n(n, log_n)
    if ln == 0.0:
        return 0.0
    return _exp_capped(_log_n_minus_1(ln) - math.log(2.0) - h2)


def bon_kl_estimate(eps: float, n: int | None = None, log_n: float | None = None) -> float:
    r"""Beirami et al.'s estimator :math:`\hat D(\epsilon)`, :math:`\epsilon \in [0, 1]` the reference mass of the top.

    .. math::

        \hat D(\epsilon) = (1-\epsilon)^N \left(\log N + (N-1)\log(1-\epsilon) - \frac{N-1}{N}\right)
        + \left(1 - (1-\epsilon)^N\right) \log\frac{1 - (1-\epsilon)^N}{\epsilon}.

    It is the exact :math:`D(\mathrm{BoN}\Vert p)` of a law that is continuous except for one top atom of mass
    :math:`\epsilon`. ``eps = 0`` gives :math:`\log N - (N-1)/N` and ``eps = 1`` gives 0. Computed from
    :math:`\log a = N\log(1 - \epsilon)`.

    Parameters
    ----------
    eps : float
        :math:`\epsilon \in [0, 1]`.
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
        If ``eps`` is outside :math:`[0, 1]` or NaN, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> round(bon_kl_estimate(0.5, n=2), 12)  # 1/4 (log 2 + log(1/2) - 1/2) + 3/4 log(3/2)
    0.179098831081
    >>> round(0.25 * -0.5 + 0.75 * math.log(1.5), 12)
    0.179098831081
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
    r""":func:`bon_kl_estimate` for :math:`0 < \log N < 1` in mpmath with :math:`25 + 2\log_{10}(1/\log N)` digits:
    terms of size 1 cancel to :math:`O((\log N)^2)`, so this leaves about 25 correct digits (700 digits at
    :math:`\log N = 5\times 10^{-324}`)."""
    import mpmath

    with mpmath.workdps(25 + int(-2.0 * math.log10(ln))):
        e, x = mpmath.mpf(eps), mpmath.mpf(ln)
        log_a = mpmath.exp(x) * mpmath.log1p(-e)
        a = mpmath.exp(log_a)
        frac = -mpmath.expm1(-x)
        one_minus_a = -mpmath.expm1(log_a)
        d = a * (x + log_a * frac - frac) + one_minus_a * (mpmath.log(one_minus_a) - mpmath.log(e))
        return float(d) if d > 0 else 0.0
