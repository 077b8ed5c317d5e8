r"""The optimal KL-constrained policy (R1): an exponential tilt of the reference on the reward line.

:math:`\phi_\Delta = p_{\lambda^*}` with :math:`\lambda^* > 0` the unique root of
:math:`D(p_\lambda\Vert p) = \lambda\kappa'(\lambda) - \kappa(\lambda) = \Delta` for
:math:`0 < \Delta < D_{\max} = -\log p(\mathrm{top})`; :math:`\lambda^* = \infty` (:math:`p` conditioned on its top
level) for :math:`\Delta \ge D_{\max}`.

Everything is solved on the scaled centred rewards :math:`y = (v - \mathrm{mean}) / 2^E` (:math:`|y| \le 1`) with
the scaled multiplier :math:`\tau = \lambda 2^E`, so rewards near :math:`\pm 1.8\times 10^{308}` or in the
subnormal range are handled exactly; :math:`\lambda = \tau 2^{-E}` is returned when it is a float, and a
``ValueError`` is raised when it is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from lmalign import _validate
from lmalign.law import RewardLaw, require_law

SERIES_TAU = 1e-2  # below this |tau| the tilt KL is summed from its cumulant series
SERIES_ORDER = 12  # terms kept: the first one dropped is below 1e-20 of the sum at |tau| = 1e-2
_LOG_TAU_MAX = 709.0  # tau = e^709: the tilt is the conditioned law to rounding; a root beyond is inf


@dataclass(frozen=True)
class KLConstrainedSolution:
    r"""Solution of :math:`\max_\phi E_\phi r` subject to :math:`D(\phi\Vert p) \le \delta`.

    ``kl`` is the divergence achieved by the returned ``lam`` (recomputed from ``lam`` by :func:`tilt_kl`, not
    copied from the solver).

    Attributes
    ----------
    delta : float
        The KL budget :math:`\delta`.
    lam : float
        The multiplier :math:`\lambda^* \ge 0` (``inf`` when :math:`\delta \ge -\log p(\mathrm{top})`).
    law : RewardLaw
        The optimal policy's law of the reward, :math:`p_{\lambda^*}`.
    kl : float
        :math:`D(p_{\lambda^*}\Vert p)`, computed afresh from ``lam``.
    mean : float
        The expected reward :math:`E_{p_{\lambda^*}} r` of the optimal policy.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> sol = kl_constrained(RewardLaw([0.0, 1.0], [0.5, 0.5]), 0.1)
    >>> round(sol.kl, 12), round(sol.mean, 6)
    (0.1, 0.719795)
    """

    delta: float
    lam: float
    law: RewardLaw
    kl: float
    mean: float


def tilt_kl(law: RewardLaw, lam: float) -> float:
    r"""The KL divergence of the tilt :math:`p_\lambda` from :math:`p`, computed without cancellation.

    .. math::

        D(p_\lambda\Vert p) = \lambda\kappa'(\lambda) - \kappa(\lambda).

    With :math:`\tau = \lambda 2^E` on the scaled centred values :math:`y`: for :math:`|\tau| \le 10^{-2}` the
    cumulant series :math:`\sum_{k\ge 2} (k-1)\kappa_k(y)\tau^k / k!` (12 terms); otherwise
    :math:`\sum_v p(v) g(d_v)`, :math:`d_v = \log p_\lambda(v)/p(v)`, :math:`g(d) = d e^d - e^d + 1 \ge 0`, a sum
    of non-negative terms. Accuracy: within :math:`2\times 10^{-14}` relative for every ``lam`` of either sign
    (tested against mpmath from :math:`|\lambda| = 10^{-300}` up to tilts concentrated on one level, rewards up to
    :math:`\pm 1.7\times 10^{308}`), when the result is a normal float (:math:`\ge 2.2\times 10^{-308}`; below it
    rounds towards 0). ``lam = inf`` gives :math:`-\log p(\mathrm{top})`, ``lam = -inf`` gives
    :math:`-\log p(\mathrm{bottom})`.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p` of the reward.
    lam : float
        The tilt :math:`\lambda`, any real or :math:`\pm\infty`.

    Returns
    -------
    float
        :math:`D(p_\lambda\Vert p) \ge 0`.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or ``lam`` is NaN or not a real number.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> round(tilt_kl(law, 1.0), 12)
    0.110944071672
    >>> e = np.e  # the closed form e/(1+e) - log((1+e)/2)
    >>> round(float(e / (1 + e) - np.log((1 + e) / 2)), 12)
    0.110944071672
    >>> round(tilt_kl(law, float("inf")), 12)  # -log p(top)
    0.69314718056
    """
    require_law(law)
    lam = _validate.real_scalar(lam, "lam", allow_inf=True)
    return _tilt_kl(law, lam)


def _tilt_kl(law: RewardLaw, lam: float, logs: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """:func:`tilt_kl` on validated arguments; ``logs = law.log_tilted(tau, lam)`` if already computed."""
    if math.isinf(lam):
        return float(-law.logprobs[-1 if lam > 0 else 0])
    if lam == 0.0 or len(law) == 1:
        return 0.0
    tau = law.scaled_multiplier(lam)
    if abs(tau) <= SERIES_TAU:
        return _series_kl(law, tau)
    return law.scaled_tilt_kl(tau, lam, logs)


def _tilt_with_kl(law: RewardLaw, lam: float) -> tuple[RewardLaw, float]:
    """``(law.tilt(lam), tilt_kl(law, lam))`` for a validated ``lam >= 0``, the tilted logs computed once."""
    if lam == 0.0 or math.isinf(lam) or len(law) == 1:
        return law.tilt(lam), _tilt_kl(law, lam)
    logs = law.log_tilted(law.scaled_multiplier(lam), lam)
    return law.reweighted(logs[0]), _tilt_kl(law, lam, logs)


def _series_kl(law: RewardLaw, tau: float) -> float:
    r""":math:`\sum_{k=2}^{K} (k-1)\kappa_k \tau^k / k!` with :math:`\tau^2` factored out (no premature underflow)."""
    kappa = law.scaled_cumulants(SERIES_ORDER)
    inner = 0.0
    for k in range(SERIES_ORDER, 1, -1):  # Horner in tau
        inner = inner * tau + (k - 1) * kappa[k] / math.factorial(k)
    return max(tau * (tau * inner), 0.0)


def solve_lambda(law: RewardLaw, delta: float) -> float:
    r"""The multiplier :math:`\lambda \ge 0` with :math:`D(p_\lambda\Vert p) = \delta`.

    ``inf`` when :math:`\delta \ge D_{\max} = -\log p(\mathrm{top})`. Solved for :math:`\tau = \lambda 2^E` on the
    scaled law: bracket around the small-budget guess :math:`\tau_0 = \sqrt{2\delta / \mathrm{Var}\, y}` (from
    :math:`D \approx \tau^2\mathrm{Var}/2`) by doubling steps in :math:`\log\tau` (bounded), Brent's method in
    :math:`\log\tau`, then bisection down to adjacent floats of :math:`\tau`. The KL is the non-negative sum
    :math:`\sum p\, g(d)` (:func:`tilt_kl` without its series), so the root keeps its relative precision for
    ``delta`` from 1e-300 to within rounding of :math:`D_{\max}`. A ``delta`` so close to :math:`D_{\max}` that
    :math:`\tau` would exceed :math:`e^{709}` returns ``inf``. A law with a single level (flat reward) returns 0.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p` of the reward.
    delta : float
        The KL budget :math:`\delta \ge 0`.

    Returns
    -------
    float
        :math:`\lambda \ge 0`, or ``inf``.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, ``delta`` is negative or NaN, or the root ``lam`` is
        not a float (rewards spread so little, or so much, that :math:`\tau 2^{-E}` overflows or underflows; the
        message names ``delta``).

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> lam = solve_lambda(law, 0.1)
    >>> round(lam, 9), round(tilt_kl(law, lam), 12)
    (0.943443118, 0.1)
    >>> solve_lambda(law, 1.0)  # above -log p(top) = log 2
    inf
    """
    require_law(law)
    return _solve_lambda(law, _validate.nonneg_real(delta, "delta"))


def _solve_lambda(law: RewardLaw, delta: float) -> float:
    """:func:`solve_lambda` on validated arguments."""
    if len(law) == 1 or delta == 0.0:
        return 0.0
    if delta >= law.max_kl:
        return math.inf
    tau = _solve_tau(law, delta)
    if math.isinf(tau):
        return math.inf
    big_e = law.frame.big_e
    lam = law.unscaled_multiplier(tau)
    if math.isinf(lam) or lam == 0.0:
        raise ValueError(
            f"delta={delta!r}: the multiplier lam = {float(tau)!r} * 2**{-big_e} is outside the float64 "
            f"range (the rewards spread over about 2**{big_e})"
        )
    return lam


def _solve_tau(law: RewardLaw, delta: float) -> float:
    r"""Root :math:`\tau > 0` of :math:`D(p_\tau\Vert p) = \delta` on the scaled law, or ``inf``."""

    def excess(u: float) -> float:
        return law.scaled_tilt_kl(math.exp(u), math.inf) - delta

    var_y = law.frame.var_y
    guess = 0.5 * math.log(2.0 * delta / var_y) if var_y > 0 else 0.0
    lo = hi = min(max(guess, -745.0), _LOG_TAU_MAX)
    step = 0.25
    for _ in range(64):  # e^u reaches 0 below u = -745: D = 0 < delta ends the search
        if excess(lo) <= 0:
            break
        hi, lo, step = lo, lo - step, 2 * step
    for _ in range(64):
        if excess(hi) >= 0:
            break
        if hi >= _LOG_TAU_MAX:
            return math.inf  # delta within rounding of D_max: the tilt is numerically the conditioned law
        lo, hi, step = hi, min(hi + step, _LOG_TAU_MAX), 2 * step
    if lo == hi:
        return math.exp(lo)
    u = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    return _polish(law, delta, math.exp(u))


def _polish(law: RewardLaw, delta: float, tau: float) -> float:
    """Refine ``tau`` down to adjacent floats by bisection, and return the float whose ``D(p_tau || p)`` is
    closest to ``delta`` (the root in ``log tau`` is only as fine as the ulp of the log)."""

    def excess(x: float) -> float:
        return law.scaled_tilt_kl(x, math.inf) - delta

    width: float = 64 * np.finfo(float).eps * tau
    lo, hi = tau - width, tau + width
    for _ in range(8):  # widen until the bracket holds the sign change
        if excess(lo) <= 0 <= excess(hi):
            break
        lo, hi = max(lo - width, 0.0), hi + width
        width *= 4
    else:
        return tau
    f_lo, f_hi = excess(lo), excess(hi)
    for _ in range(200):  # halving a float interval reaches adjacent floats within ~60 steps
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        f_mid = excess(mid)
        if f_mid <= 0:
            lo, f_lo = mid, f_mid
        else:
            hi, f_hi = mid, f_mid
    return lo if abs(f_lo) <= abs(f_hi) else hi


def kl_constrained(law: RewardLaw, delta: float) -> KLConstrainedSolution:
    r"""Optimal policy of :math:`\max_\phi E_\phi r` s.t. :math:`D(\phi\Vert p) \le \delta` on the reward line (R1).

    The optimum is the tilt :math:`p_{\lambda^*}`, :math:`D(p_{\lambda^*}\Vert p) = \delta`. ``delta = 0`` gives
    ``lam = 0`` and :math:`p`; :math:`\delta \ge -\log p(\mathrm{top})` gives ``lam = inf`` and :math:`p`
    conditioned on the top level; a flat reward (one level) gives ``lam = 0``. For the law of a sum of :math:`n`
    i.i.d. tokens (``RewardLaw.from_tokens``) :math:`D(p_\lambda^n\Vert p^n) = n D(p_\lambda\Vert p)`, so
    :math:`\lambda` is solved on the token law for :math:`\delta / n`, and the sum's law is tilted once. ``kl`` is
    ``tilt_kl(law, lam)``, the KL the returned (rounded) ``lam`` achieves, computed afresh (by the cumulant series
    for small budgets, a different formula from the solver's): it equals ``delta`` within :math:`2\times 10^{-14}`
    relative unless ``lam`` is inf.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p` of the reward.
    delta : float
        The KL budget :math:`\delta \ge 0`.

    Returns
    -------
    KLConstrainedSolution
        ``delta``, ``lam``, the tilted ``law``, the achieved ``kl`` and the ``mean`` reward.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, ``delta`` is negative or NaN, or the multiplier is not
        a float (see :func:`solve_lambda`).

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> sol = kl_constrained(RewardLaw([0.0, 1.0], [0.5, 0.5]), 0.1)
    >>> round(sol.lam, 9), round(sol.mean, 9)
    (0.943443118, 0.719794626)
    """
    require_law(law)
    delta = _validate.nonneg_real(delta, "delta")
    token, length = getattr(law, "token_law", None), getattr(law, "length", None)
    if token is not None and length:  # a sum of i.i.d. tokens: the sum tilted by lam is the tokens tilted by lam
        lam = _solve_lambda(token, delta / length)
    else:
        lam = _solve_lambda(law, delta)
    tilted, kl = _tilt_with_kl(law, lam)
    return KLConstrainedSolution(delta=delta, lam=lam, law=tilted, kl=kl, mean=tilted.mean())


def kl_regularized(law: RewardLaw, beta: float) -> RewardLaw:
    r"""Solution :math:`p_{1/\beta}` of :math:`\max_\phi E_\phi r - \beta D(\phi\Vert p)`.

    ``beta = 0`` conditions on the top, ``beta = inf`` returns :math:`p`. A ``beta`` so small that
    :math:`1/\beta` overflows is applied through the scaled multiplier :math:`\tau = 2^E / \beta`, so subnormal
    reward spreads keep their finite tilt.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p` of the reward.
    beta : float
        The KL penalty :math:`\beta \ge 0`.

    Returns
    -------
    RewardLaw
        The tilt :math:`p_{1/\beta}(v) \propto p(v) e^{v/\beta}`.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, or ``beta`` is negative or NaN.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> tilted = kl_regularized(RewardLaw([0.0, 1.0], [0.5, 0.5]), 1.0)
    >>> tilted.probs.round(9).tolist()  # 1/(1+e), e/(1+e)
    [0.268941421, 0.731058579]
    """
    require_law(law)
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0.0:
        return law.tilt(math.inf)
    if math.isinf(beta):
        return law
    with np.errstate(over="ignore"):
        lam = 1.0 / np.float64(beta)
    if math.isfinite(lam):
        return law.tilt(float(lam))
    with np.errstate(over="ignore"):
        tau = float(law.scaled_multiplier(1.0) / np.float64(beta))
    return law.reweighted(law.log_tilted(tau, math.inf)[0]) if math.isfinite(tau) else law.tilt(math.inf)
