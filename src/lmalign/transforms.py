"""Policies that reweight the reference by a function of the reward, and win rates between reward laws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.integrate import IntegrationWarning, quad
from scipy.special import logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, align, require_law


def win_rate(policy: RewardLaw, reference: RewardLaw) -> float:
    r"""Win rate :math:`P(X > Y) + P(X = Y)/2` for independent :math:`X \sim` ``policy``, :math:`Y \sim` ``reference``.

    Ties count one half. A compensated sum of non-negative terms: relative accuracy about :math:`10^{-15}` (masses
    below the smallest float count as 0). The masses :math:`\exp(\log p)` of a law sum to 1 only within a few ulp,
    so the sum can land an ulp outside :math:`[0, 1]`, where the exact value cannot be: it is clipped to that
    interval, which only brings it closer.

    Parameters
    ----------
    policy : RewardLaw
        The law of :math:`X`.
    reference : RewardLaw
        The law of :math:`Y`.

    Returns
    -------
    float
        The win rate, in :math:`[0, 1]`.

    Raises
    ------
    ValueError
        If either is not a :class:`~lmalign.law.RewardLaw`.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> p = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> win_rate(p, p), win_rate(RewardLaw([0.0, 1.0], [0.25, 0.75]), p)  # 3/8 + (1/8 + 3/8) / 2
    (0.5, 0.625)
    """
    require_law(policy, "policy")
    require_law(reference, "reference")
    _, lx, ly = align(policy, reference)
    px, py = np.exp(lx), np.exp(ly)
    below = np.concatenate(([0.0], np.cumsum(py)[:-1]))
    return min(1.0, max(0.0, float(math.fsum((px * (below + py / 2)).tolist()))))


def calibrated_reward(law: RewardLaw) -> np.ndarray:
    r"""Mid-rank calibrated reward :math:`u(v) = P(R < v) + P(R = v)/2` at each level.

    The win rate of :math:`v` against a fresh draw (with ties one half); uniform on :math:`(0, 1)` in the
    continuous limit. Cumulative sums of non-negative masses: relative accuracy about
    :math:`10^{-16}\cdot\mathrm{levels}`.

    Parameters
    ----------
    law : RewardLaw
        The law of the reward :math:`R`.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> calibrated_reward(RewardLaw([0.0, 1.0, 2.0], [0.25, 0.5, 0.25])).tolist()
    [0.125, 0.5, 0.875]
    """
    require_law(law)
    p = law.probs
    return np.concatenate(([0.0], np.cumsum(p)[:-1])) + p / 2


def _scaled_gaps(values: np.ndarray, ref: float, beta: float) -> np.ndarray:
    r""":math:`(v - \mathrm{ref}) / \beta` without spurious overflow: the difference of two values near
    :math:`\pm 1.8\times 10^{308}` is taken in halves (``2 * ((v/2 - ref/2) / beta)``); a genuinely huge quotient is
    :math:`\pm\infty` (a weight ratio beyond :math:`\exp(1.8\times 10^{308})`, zero or infinite to every
    representable precision)."""
    with np.errstate(over="ignore", invalid="ignore"):
        gap = values - ref
        halves = 2.0 * ((values / 2 - ref / 2) / beta)
        return np.where(np.isfinite(gap), gap / beta, halves)


def _describe(obj) -> str:
    """A short description of a returned object for an error message."""
    text = repr(obj)
    return f"{type(obj).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def transform_policy(law: RewardLaw, transform: Callable[[np.ndarray], np.ndarray], beta: float) -> RewardLaw:
    r"""The KL-regularized optimum for a transformed reward: :math:`\pi(v) \propto p(v)\, e^{t(v) / \beta}`.

    :math:`t` is ``transform``. Formed as :math:`\log p + (t - \max t) / \beta` (the difference taken in halves
    near :math:`\pm 1.8\times 10^{308}`), normalised by log-sum-exp: relative accuracy of every mass about
    :math:`10^{-15} (1 + |t - \max t| / \beta)`; levels whose weight ratio is below
    :math:`\exp(-1.8\times 10^{308})` (or with :math:`t = -\infty`) are dropped.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p` of the reward.
    transform : callable
        Maps the array of values to an array of real numbers of the same shape (``-inf`` allowed, no NaN or
        ``+inf``).
    beta : float
        The KL penalty :math:`\beta`, finite and :math:`> 0`.

    Returns
    -------
    RewardLaw

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, ``beta`` is not finite and positive, ``transform``
        returns something else than real numbers of the values' shape (or NaN or ``+inf``), or is ``-inf``
        everywhere.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> pi = transform_policy(RewardLaw([0.0, 1.0], [0.5, 0.5]), lambda v: v, 1.0)  # the tilt by 1
    >>> pi.probs.round(12).tolist()  # 1/(1+e), e/(1+e)
    [0.26894142137, 0.73105857863]
    """
    require_law(law)
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    with np.errstate(all="ignore"):  # its inf and nan are refused below with a message, not warned about
        out = transform(law.values.copy())  # a copy: the law's values are read-only
    try:  # complex, masked, boolean or text output is refused, not converted
        t = _validate.real_array(out, "transform", allow_nan=True)
    except ValueError:
        t = None
    if t is None or t.shape != law.values.shape or np.isnan(t).any() or (t == np.inf).any():
        raise ValueError(
            f"transform must map the values (shape {law.values.shape}) to an array of real numbers "
            f"of the same shape, without NaN or +inf; it returned {_describe(out)}"
        )
    live = t > -np.inf
    if not live.any():
        raise ValueError("transform is -inf at every level: no policy")
    lw = np.full(t.shape, -np.inf)
    lw[live] = law.logprobs[live] + _scaled_gaps(t[live], float(t[live].max()), beta)
    lw = lw - logsumexp(lw)
    keep = lw > -np.inf
    return RewardLaw._trusted(law.values[keep], lw[keep])


_PROBE_OFFSETS = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0])


def _thin(points: np.ndarray, gap: float) -> np.ndarray:
    """Sorted ``points`` thinned greedily so consecutive kept points are at least ``gap`` apart (both ends
    kept)."""
    kept = [points[0]]
    for pt in points[1:-1]:
        if pt - kept[-1] >= gap:
            kept.append(pt)
    if points.size > 1:
        if points[-1] - kept[-1] < gap and len(kept) > 1:
            kept.pop()
        kept.append(points[-1])
    return np.array(kept)


MAX_SOFT_LEVELS = 100  # soft_best_of_n: one quadrature per level, each O(levels); 100 levels take ~30 s
MAX_SOFT_N = 10**300  # soft_best_of_n: n - 1 must be a float
_RESOLVED = 2.0**40  # log weight ratios beyond this have features that float s = log sigma cannot resolve


def _log_m(s: float, log_ratio: np.ndarray, lp: np.ndarray, p: np.ndarray) -> float:
    r""":math:`\log M_v(e^s) = \log\sum_u p(u) \exp(-e^s w(u)/w(v))`, with ``log1p`` near :math:`M = 1`."""
    with np.errstate(over="ignore"):
        e = -np.exp(s + log_ratio)
    drop = math.fsum((p * np.expm1(e)).tolist())  # M - 1, exact near M = 1
    return math.log1p(drop) if drop > -0.5 else float(logsumexp(lp + e))


def _log_integrand(s: float, log_ratio: np.ndarray, lp: np.ndarray, p: np.ndarray, n1: float) -> float:
    r""":math:`\log(\sigma e^{-\sigma} M_v(\sigma)^{n-1})` at :math:`\sigma = e^s`."""
    return s - math.exp(s) + n1 * _log_m(s, log_ratio, lp, p)


def _relative_integrand(s0: float, log_ratio: np.ndarray, lp: np.ndarray, p: np.ndarray, n1: float):
    r""":math:`(f(s_0),\ s \mapsto f(s) - f(s_0))` for :math:`f` = ``_log_integrand``, the difference formed without
    subtracting two large numbers:
    :math:`M(s)/M(s_0) = 1 + \sum_u w_u \operatorname{expm1}(-c_u \operatorname{expm1}(s - s_0))` with
    :math:`w_u = p(u) e^{-c_u} / M(s_0)`, :math:`c_u = e^{s_0} w(u)/w(v)`, every term of one sign. So
    :math:`(n-1)\log M` of size :math:`10^{300}` still gives the integrand's shape to full precision."""
    log_m0 = _log_m(s0, log_ratio, lp, p)
    with np.errstate(over="ignore"):
        c0 = np.exp(s0 + log_ratio)
    lw = lp - c0 - log_m0
    mask = lw > -np.inf
    c0, lw, w = c0[mask], lw[mask], np.exp(lw[mask])
    base = s0 - math.exp(s0) + n1 * log_m0

    def rel(s: float) -> float:
        near = s - s0 <= 1.0
        gap = math.exp(s0) * math.expm1(s - s0) if near else math.exp(s) - math.exp(s0)
        with np.errstate(over="ignore", invalid="ignore"):
            t = -c0 * math.expm1(s - s0) if near else -(np.exp(s + log_ratio[mask]) - c0)
            drop = math.fsum((w * np.expm1(t)).tolist())
        if -0.5 < drop < 1.0:
            r = math.log1p(drop)
        else:  # far from s0: |log M(s) / M(s0)| > 0.4, no cancellation to fear
            r = _log_m(s, log_ratio, lp, p) - log_m0
        return (s - s0) - gap + n1 * r

    return base, rel


def soft_best_of_n(law: RewardLaw, n: int, beta: float) -> RewardLaw:
    r"""Soft best-of-N: draw :math:`n` from :math:`p` and keep draw :math:`i` with probability
    :math:`\propto e^{r_i / \beta}`.

    With :math:`w(v) = e^{v / \beta}`, :math:`\pi(v) = n\, p(v)\, w(v)\, E\left[1 / (w(v) + \sum_{j<n}
    w(R_j))\right]`; writing :math:`1/x = \int_0^\infty e^{-tx}\, dt` and :math:`t = \sigma / w(v)`,

    .. math::

        \pi(v) = n\, p(v) \int_0^\infty e^{-\sigma} M_v(\sigma)^{n-1}\, d\sigma, \qquad
        M_v(\sigma) = \sum_u p(u)\, e^{-\sigma w(u)/w(v)}.

    The integral is taken in :math:`s = \log\sigma` by adaptive quadrature, with break points at every scale
    :math:`w(v)/w(u)` and :math:`(n-1) w(u)/w(v)`, from 40 below the smallest of them (the part below is under
    :math:`e^{-38}` of the whole, since :math:`M^{n-1} \ge e^{-1}` there) to :math:`\log 60`; the integrand is kept
    in log space relative to its peak (``_relative_integrand``), so masses far below the smallest float keep their
    logarithms, even with :math:`n = 10^{300}`. Weight ratios :math:`w(u)/w(v)` beyond
    :math:`\exp(\pm 1.8\times 10^{308})` (values near :math:`\pm 10^{308}`, tiny :math:`\beta`) count as infinite
    or zero, and so do ratios beyond :math:`\exp(2^{40})` when that provably changes no mass by more than
    :math:`e^{-40}` relative. Relative accuracy about :math:`10^{-11}` (:math:`10^{-9}` on the sum of the masses,
    checked); :math:`\beta \to 0` gives best-of-N, :math:`n \to \infty` at fixed :math:`\beta` the tilt
    :math:`p_{1/\beta}`.

    Parameters
    ----------
    law : RewardLaw
        The reference law :math:`p`, at most ``MAX_SOFT_LEVELS`` levels (one quadrature per level).
    n : int
        The number of draws, :math:`1 \le n \le 10^{300}`.
    beta : float
        The temperature :math:`\beta`, finite and :math:`> 0`.

    Returns
    -------
    RewardLaw

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or has more than ``MAX_SOFT_LEVELS`` levels, ``n`` is
        not an integer in :math:`[1, 10^{300}]`, ``beta`` is not finite and positive, or a weight ratio beyond
        :math:`\exp(2^{40})` would change a mass by more than :math:`e^{-40}` relative.
    ArithmeticError
        If the quadrature's masses do not sum to 1 within :math:`10^{-9}`.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> pi = soft_best_of_n(RewardLaw([0.0, 1.0], [0.5, 0.5]), 2, 1.0)
    >>> round(float(pi.probs[1]), 10), round(float(0.25 + 0.5 * np.e / (1 + np.e)), 10)  # 1/4 + 1/2 e/(1+e)
    (0.6155292893, 0.6155292893)
    """
    require_law(law)
    n = _validate.positive_int(n, "n")
    if n > MAX_SOFT_N:
        raise ValueError(f"n must be at most 1e300 (n - 1 is a float in the quadrature), got {float(n):.3g}")
    beta = _validate.nonneg_real(beta, "beta")
    if beta == 0 or math.isinf(beta):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    if n == 1 or len(law) == 1:
        return law
    if len(law) > MAX_SOFT_LEVELS:
        raise ValueError(
            f"law has {len(law)} levels; soft_best_of_n takes at most {MAX_SOFT_LEVELS} "
            "(one quadrature per level, each over all levels)"
        )
    lp = law.logprobs
    p = law.probs
    s_hi = math.log(60.0)
    n1 = float(n - 1)
    log_n1 = math.log(n - 1)

    def log_mass(i: int) -> float:
        log_ratio = _scaled_gaps(law.values, float(law.values[i]), beta)  # log w(u)/w(v), maybe +-inf
        huge = log_ratio[log_ratio > _RESOLVED]
        log_ratio = np.where(np.abs(log_ratio) > _RESOLVED, np.copysign(np.inf, log_ratio), log_ratio)
        # The integrand has features of width O(1) in s around s = -log(rho_u), -log((n-1) rho_u) and
        # -log((n-1) rho_u p(u)); probe around each, keep the stretch where it is within e^-60 of its peak.
        # An infinite ratio has no feature at finite s (its term of M is 1 or 0 for every sigma > 0).
        scales = np.concatenate((-log_ratio, -log_ratio - log_n1, -log_ratio - log_n1 - lp))
        scales = scales[np.isfinite(scales)]
        s_lo = min(float(scales.min()), 0.0) - 40.0
        probes = np.unique(np.clip(np.add.outer(scales, _PROBE_OFFSETS).ravel(), s_lo, s_hi))
        first = np.array([_log_integrand(s, log_ratio, lp, p, n1) for s in probes])
        if first.max() == -math.inf:  # every other draw outweighs v infinitely
            return -math.inf
        s0 = float(probes[np.argmax(first)])
        base, rel = _relative_integrand(s0, log_ratio, lp, p, n1)
        vals = np.array([rel(float(g)) for g in probes])
        s0 = float(probes[np.argmax(vals)])  # the peak, found without the cancellation of huge log values
        base, rel = _relative_integrand(s0, log_ratio, lp, p, n1)
        vals = np.array([rel(float(g)) for g in probes])
        live = np.flatnonzero(vals > -60.0)
        a, b = max(live[0] - 1, 0), min(live[-1] + 1, probes.size - 1)
        pts = _thin(probes[a : b + 1], 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IntegrationWarning)
            val, _ = quad(
                lambda s: math.exp(rel(s)),
                pts[0],
                pts[-1],
                points=pts[1:-1] if pts.size > 2 else None,
                epsabs=0,
                epsrel=1e-11,
                limit=4000,
            )
        out = math.log(n) + lp[i] + base + math.log(val) if val > 0 else -math.inf
        # treating a ratio e^L > e^(2^40) as infinite drops at most n p(v) e^-L: check that it is negligible
        if huge.size and math.isfinite(float(huge.min())) and out < math.log(n) + lp[i] - float(huge.min()) + 40:
            raise ValueError(
                f"beta={beta!r}: the mass of level {law.values[i]!r} is below the resolution of the "
                f"weight ratios exp(|u - v| / beta) >= exp({float(huge.min()):.3g}) in double precision"
            )
        return out

    logmass = np.array([log_mass(i) for i in range(len(law))])
    log_total = float(logsumexp(logmass))
    if abs(math.expm1(log_total)) > 1e-9:
        raise ArithmeticError(f"soft best-of-n quadrature lost accuracy (masses sum to {math.exp(log_total)!r})")
    keep = logmass > -np.inf
    return RewardLaw._trusted(law.values[keep], logmass[keep] - log_total)


_ODD = np.arange(3, 40, 2, dtype=float)  # sinh(y) - y = sum y^k / k! over odd k >= 3, for |y| <= 1
_LOG_ODD_FACT = np.array([math.lgamma(k + 1) for k in _ODD])
_RATIO_K = np.arange(1, 60, dtype=float)  # -log1p(-r)/r - 1 = sum r^k / (k + 1), for r <= 1/2


def _log_mean_exp_cell(x: np.ndarray) -> np.ndarray:
    r""":math:`\phi(x) = \log((1 - e^{-x}) / x)` for :math:`x \ge 0`:
    :math:`-x/2 + \operatorname{log1p}((\sinh y - y)/y)`, :math:`y = x/2`, with :math:`\sinh y - y` a series of
    positive terms for :math:`y \le 1`; the definition for :math:`x > 20`."""
    out = np.zeros_like(x)
    y = x / 2
    mid = (x > 0) & (x <= 20)
    ym = y[mid][:, None]
    with np.errstate(divide="ignore", under="ignore"):
        series = np.sum(np.exp(_ODD * np.log(ym) - _LOG_ODD_FACT), axis=1)
    shy = np.where(y[mid] <= 1, series, np.sinh(y[mid]) - y[mid])
    out[mid] = -y[mid] + np.log1p(shy / y[mid])
    big = x > 20
    with np.errstate(divide="ignore"):
        out[big] = np.log(-np.expm1(-x[big])) - np.log(x[big])
    return out


def _log_cell_ratio(r: np.ndarray) -> np.ndarray:
    r""":math:`\psi(r) = \log(-\operatorname{log1p}(-r) / r)` for :math:`0 \le r < 1`:
    :math:`\operatorname{log1p}(\sum_k r^k / (k + 1))` (positive terms) for :math:`r \le 1/2`, the definition
    above."""
    out = np.zeros_like(r)
    small = (r > 0) & (r <= 0.5)
    rs = r[small][:, None]
    with np.errstate(divide="ignore", under="ignore"):
        out[small] = np.log1p(np.sum(np.exp(_RATIO_K * np.log(rs) - np.log(_RATIO_K + 1)), axis=1))
    big = r > 0.5
    out[big] = np.log(-np.log1p(-r[big])) - np.log(r[big])
    return out


def log_power_mean_calibration(law: RewardLaw, n: int) -> np.ndarray:
    r""":math:`\log u_N(v)`, the power-mean calibration of the quantile over the cell of :math:`v`.

    .. math::

        u_N(v) = \left(\text{mean of } u^{N-1} \text{ over } (F_-(v), F(v)]\right)^{1/(N-1)}.

    Computed from the integral definition alone, :math:`u_N^{N-1} = (F^N - F_-^N) / (N (F - F_-))`, with :math:`F`
    and :math:`F_-` the law's own cumulative sums (:math:`F - F_- = p(v)`). With :math:`r = p/F` and
    :math:`x = -N\operatorname{log1p}(-r)`, :math:`\log u_N = \log F + (\phi(x) + \psi(r)) / (N - 1)`,
    :math:`\phi(x) = \log((1 - e^{-x})/x)`, :math:`\psi(r) = \log(-\operatorname{log1p}(-r)/r)`, each by a series
    of one-signed terms where it is small, and :math:`\log F = \operatorname{log1p}(-P(R > v))` near the top: so
    :math:`\log u_N` keeps its relative precision (about :math:`10^{-13}`, checked against mpmath) even when it is
    :math:`-5\times 10^{-305}` (a top cell of mass :math:`e^{-700}`) or :math:`N = 10^{300}`. At the lowest level
    (:math:`F_- = 0`) :math:`\log u_N = \log F - \log N / (N - 1)`. It does not call :func:`lmalign.best_of_n`,
    which makes :math:`p(v) \exp((N-1)\log u_N(v) + \log N) = \text{best-of-N}` a check rather than a definition.
    In the continuous limit :math:`u_N` is the quantile :math:`u` itself.

    Parameters
    ----------
    law : RewardLaw
        The law of the reward.
    n : int
        :math:`N`, with :math:`2 \le N \le 10^{300}`.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw` or ``n`` is not an integer in :math:`[2, 10^{300}]`.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])  # u_2 = (F^2 - F_-^2) / (2 p): 1/4 and 3/4
    >>> np.exp(log_power_mean_calibration(law, 2)).round(12).tolist()
    [0.25, 0.75]
    """
    require_law(law)
    n = _validate.positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be >= 2 (beta = 1/(n-1)), got {n}")
    if n > MAX_SOFT_N:
        raise ValueError(f"n must be at most 1e300 (N is a float here), got {float(n):.3g}")
    nf = float(n)
    log_sf = law.log_sf()
    log_f = np.where(log_sf < -0.7, np.log1p(-np.exp(np.minimum(log_sf, -0.7))), law.log_cdf())
    log_r = np.minimum(law.logprobs - log_f, 0.0)
    r = np.exp(log_r)
    out = np.empty(len(law))
    out[0] = log_f[0] - math.log(n) / (nf - 1)  # F_- = 0: the mean of u^(N-1) over (0, F] is F^(N-1) / N
    rr = r[1:]
    if rr.size:
        rr = np.minimum(rr, np.nextafter(1.0, 0.0))
        with np.errstate(over="ignore"):
            x = -nf * np.log1p(-rr)
        out[1:] = log_f[1:] + (_log_mean_exp_cell(x) + _log_cell_ratio(rr)) / (nf - 1)
    return out
