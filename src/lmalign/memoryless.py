"""Memoryless token models with a linear reward: the exact law of the total reward ``sum_i r(y_i)`` (R3).

Lattice rewards (every distinct token reward equals ``u0 + b k`` with integer ``k``, up to a relative 1e-12 of
the reward range) are handled by **tilted FFT windows**: for a tilt ``theta`` the ``n``-fold convolution power
of the tilted token law ``q_theta(k) ~ p(k) e^{theta k}`` is computed by one real FFT (circular, of length
about 32 standard deviations of the tilted sum: the mass folded in from outside is far below rounding), and is
accurate to about ``n * eps`` relative to its peak. Each window keeps only the levels where ``P_theta(K)`` is
within a factor ``e^-3`` of its peak (for ``n = 10^4``; wider for shorter lengths), and untilts them in log space,
``log P(K) = log P_theta(K) - theta (K - c) - n [theta m - kappa(theta)]`` (``m`` the tilted token mean,
``c = n m``), so every level, however far in the tails, gets a relative error of about ``20 n eps``
(1e-10 or better for ``n <= 10^4``). Windows are placed greedily from the lowest level to the highest, each
centred about 2.5 standard deviations past the last covered level.

Each level takes its value from the window whose estimated error ``n eps P_theta(peak) / P_theta(K)`` is
smallest, and must reach ``REL_TARGET``. A lattice law whose levels cannot all be resolved that way (a level
reached only through very rare tokens, far below its neighbours under every tilt) falls back to the direct
log-space convolution by repeated squaring (sums of positive terms only, exact to rounding; quadratic in the
support, so used up to ``DIRECT_FALLBACK_MAX_LEVELS`` levels) and gets an ``ArithmeticError`` above that.
Supports of at most ``DIRECT_MAX_LEVELS`` levels always use the direct convolution. Within
``EDGE_LEVELS`` of either end, a level that no window resolves is computed exactly by the same direct
convolution truncated to the edge (truncation is exact: the lowest totals only involve the lowest steps).

Non-lattice rewards are handled exactly by type classes: every count vector ``c`` over the distinct rewards,
with the multinomial log-probability; totals that agree to a relative 1e-12 of the range are merged.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.fft as sfft
from scipy.optimize import brentq
from scipy.special import gammaln, logsumexp

from lmalign import _validate
from lmalign.law import RewardLaw, merge_sorted_log

LATTICE_RTOL = 1e-12
MAX_DENOMINATOR = 1000
MAX_LATTICE_STEPS = 10**7  # a reward range of more lattice steps than this is treated as non-lattice
MAX_LEVELS = 20_000_000
MAX_TYPE_CLASSES = 2_000_000
REL_TARGET = 5e-11  # target relative error per level of the tilted windows
DIRECT_MAX_LEVELS = 4096  # supports up to this size use the exact direct log-space convolution
DIRECT_FALLBACK_MAX_LEVELS = 20_000  # larger supports that the windows cannot resolve fall back to it up to this


def _token_law(p, r) -> tuple[np.ndarray, np.ndarray]:
    """Validated token law merged on equal rewards: distinct rewards (sorted) and their log-probabilities."""
    pv = _validate.prob_vector(p, "p")
    rv = _validate.real_vector(r, "r")
    _validate.same_length(pv, rv, "p", "r")
    with np.errstate(divide="ignore"):
        return merge_sorted_log(rv, np.log(pv))


def token_tilt(p, r, lam: float) -> np.ndarray:
    """Per-token tilt ``p_lam(x) = p(x) e^{lam r(x)} / sum_y p(y) e^{lam r(y)}`` as a probability vector."""
    pv = _validate.prob_vector(p, "p")
    rv = _validate.real_vector(r, "r")
    _validate.same_length(pv, rv, "p", "r")
    lam = float(lam)
    if not math.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam!r}")
    with np.errstate(divide="ignore"):
        lw = np.log(pv) + lam * (rv - rv.max())
    return np.exp(lw - logsumexp(lw))


def lattice_steps(values: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """``(u0, b, k)`` with ``values = u0 + b k`` (``k`` non-negative integers, ``gcd(k) = 1``) if the values
    lie on a lattice whose step ratios have denominators at most ``MAX_DENOMINATOR``; else ``None``."""
    u0 = float(values[0])
    if values.size == 1:
        return u0, 1.0, np.zeros(1, dtype=np.int64)
    d = values - u0
    span = float(d[-1])
    ratios = [Fraction(float(x) / span).limit_denominator(MAX_DENOMINATOR) for x in d]
    lcm = 1
    for fr in ratios:
        lcm = lcm * fr.denominator // math.gcd(lcm, fr.denominator)
        if lcm > MAX_LATTICE_STEPS:  # steps too fine to be a useful lattice (and int64 would overflow)
            return None
    k = np.array([int(fr * lcm) for fr in ratios], dtype=np.int64)
    g = int(np.gcd.reduce(k))
    k //= g
    b = span / float(k[-1])
    if np.max(np.abs(u0 + b * k - values)) > LATTICE_RTOL * max(span, abs(u0)):
        return None
    return u0, b, k


def reachable_totals(support: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the totals ``0..n kmax`` that a sum of ``n`` steps from ``support`` (a 0/1 array over
    ``0..kmax``) can reach: exact sumset by doubling, each FFT product of 0/1 arrays thresholded at 1/2."""
    def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return sfft.irfft(sfft.rfft(a, a.size + b.size - 1) * sfft.rfft(b, a.size + b.size - 1),
                          a.size + b.size - 1) > 0.5

    result = np.ones(1, dtype=bool)
    power = support.astype(bool)
    m = n
    while m:
        if m & 1:
            result = combine(result.astype(float), power.astype(float))
        m >>= 1
        if m:
            power = combine(power.astype(float), power.astype(float))
    return result


def _log_convolve(a: np.ndarray, b: np.ndarray, block: int = 256) -> np.ndarray:
    """``log sum_i exp(a_i + b_{k-i})`` for every ``k``: exact log-space convolution of two log arrays
    (sums of positive terms only), in blocks of ``block`` rows to bound memory."""
    width = a.size + b.size - 1
    out = np.full(width, -np.inf)
    cols = np.arange(b.size)[None, :]
    for start in range(0, a.size, block):
        blk = a[start:start + block]
        rows = np.full((blk.size, blk.size + b.size - 1), -np.inf)
        rows[np.arange(blk.size)[:, None], np.arange(blk.size)[:, None] + cols] = blk[:, None] + b[None, :]
        top = rows.max(axis=0)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            part = safe + np.log(np.exp(rows - safe).sum(axis=0))
        part[~np.isfinite(top)] = -np.inf
        seg = slice(start, start + part.size)
        out[seg] = np.logaddexp(out[seg], part)
    return out


def _log_conv_power_direct(logq: np.ndarray, n: int, keep: int | None = None) -> np.ndarray:
    """``n``-fold convolution power of ``exp(logq)`` in log space by repeated squaring; with ``keep``, only
    its first ``keep`` entries (exact: truncation never drops a term of a lower total)."""
    result = np.zeros(1)
    power = logq[:keep] if keep else logq
    m = n
    while m:
        if m & 1:
            result = _log_convolve(result, power)[:keep]
        m >>= 1
        if m:
            power = _log_convolve(power, power)[:keep]
    return result


def _log_power_edge(logq: np.ndarray, n: int, depth: int) -> np.ndarray:
    """First ``depth <= n + 1`` log-coefficients of ``f(x)^n``, ``f(x) = sum_j e^{logq_j} x^j`` with
    ``logq_0 > -inf``, by J. C. P. Miller's power recurrence
    ``g_k = sum_{j=1}^{min(k, d)} ((n + 1) j - k) / k * (a_j / a_0) g_{k-j}``, ``g_0 = a_0^n``.

    For ``k <= n + 1`` every coefficient ``(n + 1) j - k`` is non-negative, so each ``g_k`` is a sum of positive
    terms and its relative error grows only linearly in ``k`` (a few ``k eps``). The values are carried as
    mantissa and binary exponent (``math.frexp``; rescaling by powers of two is exact), so no error accumulates
    in the logarithm either; the log is taken once per level."""
    if not 1 <= depth <= n + 1 or not logq[0] > -np.inf:
        raise AssertionError("edge recurrence needs 1 <= depth <= n + 1 and a positive lowest coefficient")
    ln2 = math.log(2.0)
    js, ratio_m, ratio_e = [], [], []
    for j in range(1, logq.size):
        if logq[j] > -np.inf:
            d = float(logq[j] - logq[0])
            e = round(d / ln2)
            js.append(j)
            ratio_e.append(e)
            ratio_m.append(math.exp(d - e * ln2))  # a_j / a_0 = ratio_m 2^ratio_e
    mant = [1.0]  # g_k / g_0 = mant[k] 2^expo[k]
    expo = [0]
    for k in range(1, depth):
        terms, exps = [], []
        for j, rm, re in zip(js, ratio_m, ratio_e, strict=True):
            if j <= k and (n + 1) * j > k and mant[k - j] > 0.0:
                terms.append(((n + 1) * j - k) * rm * mant[k - j])
                exps.append(re + expo[k - j])
        if not terms:
            mant.append(0.0)
            expo.append(0)
            continue
        top = max(exps)
        m, e = math.frexp(math.fsum(math.ldexp(t, x - top) for t, x in zip(terms, exps, strict=True)) / k)
        mant.append(m)
        expo.append(e + top)
    m_arr = np.array(mant)
    with np.errstate(divide="ignore"):
        return n * float(logq[0]) + (np.log(m_arr) + np.array(expo, dtype=float) * ln2)


def _log_conv_power_lattice(logq: np.ndarray, n: int) -> np.ndarray:
    """``log P(K)``, ``K = 0..n (len(logq) - 1)``, of the sum of ``n`` i.i.d. draws from ``exp(logq)`` on
    ``0..len(logq)-1`` (entries may be ``-inf``), by tilted FFT windows (see the module docstring)."""
    kmax = logq.size - 1
    size = n * kmax + 1
    ks = np.arange(kmax + 1, dtype=float)
    pos = logq > -np.inf
    out = np.full(size, np.nan)
    kmin_sup, kmax_sup = int(ks[pos][0]), int(ks[pos][-1])
    out[: n * kmin_sup] = -np.inf
    out[n * kmax_sup + 1:] = -np.inf
    if kmin_sup == kmax_sup:
        out[n * kmin_sup] = 0.0
        return out
    if size <= DIRECT_MAX_LEVELS:
        return _log_conv_power_direct(logq, n)
    log_ratio_min = min(math.log(n * np.finfo(float).eps / REL_TARGET), -1.0)
    best_err = np.full(size, np.inf)
    fft_len = sfft.next_fast_len(size, real=True)
    reach = np.ones(size, dtype=bool) if pos.all() else reachable_totals(pos, n)
    out[~reach] = -np.inf

    def tilt(theta: float) -> tuple[np.ndarray, float, float]:
        lw = logq + theta * ks
        q = np.exp(lw - lw.max())
        q /= q.sum()
        mean = float(np.dot(q, ks))
        return q, mean, float(np.dot(q, (ks - mean) ** 2))

    def theta_for(mean_target: float) -> float:
        def f(t: float) -> float:
            return tilt(t)[1] - mean_target

        lo, hi = -1.0, 1.0
        while f(lo) > 0:
            lo *= 2
        while f(hi) < 0:
            hi *= 2
        return brentq(f, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=300)

    first = cur = n * kmin_sup  # lowest level not yet covered
    last = n * kmax_sup
    step = 0.5  # distance from ``cur`` to the next window's centre
    while cur <= last:
        if not reach[cur]:
            cur += 1
            continue
        centre = min(max(cur + step, n * kmin_sup + 0.5), last - 0.5)
        theta = theta_for(centre / n)
        q, mean, var = tilt(theta)
        sigma = max(math.sqrt(n * var), 1.0)
        width = min(fft_len, sfft.next_fast_len(int(32 * sigma) + 2 * kmax + 64, real=True))
        start = max(0, min(int(n * mean) - width // 2, size - width)) if width < size else 0
        stop_w = min(start + width, size)
        circ = sfft.irfft(sfft.rfft(q, width) ** n, width)  # circ[j] = sum_m P_theta(j + m width)
        seg = circ[np.arange(start, stop_w) % width]
        with np.errstate(divide="ignore", invalid="ignore"):
            logratio = np.log(seg / seg.max())
        logratio[~np.isfinite(logratio)] = -np.inf
        ok = (logratio >= log_ratio_min) | ~reach[start:stop_w]
        inside = start <= cur < stop_w
        if not inside or not ok[cur - start]:
            if step < 1e-3 and min(cur - first, last - cur) <= n:
                # within n levels of an edge: exact power recurrence (positive terms only) from that edge
                depth = min(n + 1, last - first + 1)
                if cur - first <= n:
                    out[first:first + depth] = _log_power_edge(logq[kmin_sup:kmax_sup + 1], n, depth)
                    best_err[first:first + depth] = 0.0
                    cur = first + depth
                else:
                    block = _log_power_edge(logq[kmin_sup:kmax_sup + 1][::-1], n, depth)
                    out[last - depth + 1:last + 1] = block[::-1]
                    best_err[last - depth + 1:last + 1] = 0.0
                    cur = last + 1
                step = 0.5
                continue
            if step < 1e-3 and size <= DIRECT_FALLBACK_MAX_LEVELS:
                return _log_conv_power_direct(logq, n)
            if step < 1e-3:
                raise ArithmeticError(
                    f"level {cur} of the length-{n} sum stays below the relative accuracy {REL_TARGET:g} "
                    "under every tilt (it is reached only through rare tokens); use a shorter length or merge "
                    "rewards")
            step /= 2  # move the next centre closer
            continue
        stop = cur - start
        while stop < ok.size and ok[stop]:
            stop += 1
        stop += start
        local = np.flatnonzero(reach[start:stop_w] & (logratio > -np.inf))
        err = np.exp(-logratio[local])  # error estimate relative to n eps: peak / P_theta(K)
        better = err < best_err[local + start]
        local = local[better]
        kk = local + start
        best_err[kk] = err[better]
        # untilt about a dyadic reference m near the tilted mean (20 fractional bits), so that n m and K - n m
        # are exact in floating point: an unrounded centre matters because theta can be large at the edges
        m = round(mean * 2**20) / 2**20
        shift = logsumexp(logq[pos] + theta * (ks[pos] - m))  # log E_p e^{theta (k - m)}, from p itself
        out[kk] = np.log(seg[local]) - theta * (kk - n * m) + n * shift
        cur = stop
        step = 2.0 * sigma
    return out


def _type_class_law(values: np.ndarray, logp: np.ndarray, n: int) -> RewardLaw:
    """Exact law by enumerating count vectors (multinomial type classes)."""
    k = values.size
    count = math.comb(n + k - 1, k - 1)
    if count > MAX_TYPE_CLASSES:
        raise ValueError(f"length={n} with {k} non-lattice reward values needs {count} type classes "
                         f"(limit {MAX_TYPE_CLASSES}); round the rewards to a lattice or shorten the length")
    counts = np.zeros((1, 0), dtype=np.int64)
    for j in range(k - 1):  # build all vectors of k-1 leading counts with sum <= n
        rem = n - counts.sum(axis=1)
        reps = rem + 1
        base = np.repeat(counts, reps, axis=0)
        nxt = np.concatenate([np.arange(r) for r in reps])
        counts = np.column_stack([base, nxt])
        del j
    counts = np.column_stack([counts, n - counts.sum(axis=1)])
    logpmf = gammaln(n + 1) - gammaln(counts + 1).sum(axis=1) + counts @ logp
    totals = counts @ values
    order = np.argsort(totals, kind="stable")
    totals, logpmf = totals[order], logpmf[order]
    tol = LATTICE_RTOL * max(float(values[-1] - values[0]), abs(float(values[0])), 1e-300) * n
    group = np.concatenate(([0], np.cumsum(np.diff(totals) > tol)))
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    merged = np.array([logsumexp(seg) for seg in np.split(logpmf, starts[1:])])
    return RewardLaw._trusted(totals[starts], merged)


def law_of_sum(p, r, length: int) -> RewardLaw:
    """Exact law of ``sum_{i<=length} r(y_i)`` with ``y_i`` i.i.d. from the token law ``p``.

    Lattice rewards: tilted FFT windows, every level to a relative error of about ``20 length eps``. Other
    rewards: multinomial type classes (a ``ValueError`` if there would be more than ``MAX_TYPE_CLASSES``).
    """
    values, logp = _token_law(p, r)
    n = _validate.positive_int(length, "length")
    if values.size == 1:  # one reward value: the total is certain (its merged log-mass is 0 up to rounding)
        return RewardLaw._trusted(n * values, np.zeros(1))
    if n == 1:
        return RewardLaw._trusted(values, logp)
    lat = lattice_steps(values)
    if lat is not None:
        u0, b, k = lat
        levels = n * int(k[-1]) + 1
        if levels <= MAX_LEVELS:
            logq = np.full(int(k[-1]) + 1, -np.inf)
            logq[k] = logp
            logP = _log_conv_power_lattice(logq, n)
            keep = logP > -np.inf
            kk = np.flatnonzero(keep)
            return RewardLaw._trusted(n * u0 + b * kk, logP[keep])
    return _type_class_law(values, logp, n)
