"""Certified convolution powers of a lattice law: ``log P(S_n = K)`` for every level, each with an error bound.

The token law ``q_k = e^{lp_k}`` lives on ``k = 0..D`` (``lp_0``, ``lp_D`` finite); ``S_n`` is the sum of ``n``
i.i.d. draws, on the ``size = n D + 1`` levels ``0..n D``.

**Tilted windows.** For a tilt ``theta`` and a dyadic reference ``m`` (``REF_BITS`` fractional bits, near the
tilted mean, so that ``n m`` and ``K - n m`` are exact),
``P(K) = P_theta(K) e^{-theta (K - n m)} M^n``, ``M = sum_k q_k e^{theta (k - m)}``, and a circular window of ``W``
levels from ``start`` gives ``P_theta`` by one inverse real FFT,
``P_circ(start + i) = (1/W) sum_j X_j e^{-2 pi i j i / W}``, ``X_j = psi(w_j)^n e^{i w_j (n m - start)}``,
``psi(w) = E_theta e^{i w (k - m)}``, ``w_j = 2 pi j / W``. Only the *live* bins (those ``|psi|^n`` can exceed
``e^-LIVE_LOG`` at) are computed, in extended precision (``numpy.longdouble``), with the phase
``w_j (n m - start)`` reduced exactly in integers; the other bins are dropped.

**Certificate.** The absolute error of ``P_theta(K)`` over the kept part of a window is at most the sum of

* *FFT rounding*: ``FFT_ROUNDING u log2(W) ||X||_1 / W`` (componentwise rounding of the inverse FFT);
* *spectrum*: ``sum_j delta_j |X_j| / W``, ``delta_j`` the relative error bound of each live bin;
* *dropped bins*: ``sum |psi(w_j)|^n`` over them, bounded through
  ``1 - |psi(w)|^2 = sum_d 4 a_d sin^2(w d / 2)`` (``a_d`` the autocorrelation of the tilted law), whose terms are
  bounded below exactly on each of ``GAP_INTERVALS_PER_STEP D`` intervals of ``[0, pi]``;
* *aliasing*: ``P_theta(S >= lo + W) + P_theta(S <= hi - W)`` for the kept levels ``lo..hi``, by Chernoff bounds.

With ``E`` that sum and ``y`` the computed ``P_theta(K)``, ``|log P_theta(K) - log y| <= -log(1 - E / y)``; the
untilt is carried in extended precision and adds a few extended ulps plus the final rounding to double. A level
is certified when its bound is within ``max(TARGET, ULPS ulp(log P(K)))``.

Windows are planned from the standard deviation ``sigma(c)`` of the tilted sum centred at ``c``: one every
``2 PLAN_SIGMAS sigma``, evaluated in batches (one inverse FFT per batch of equal widths).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from lmalign._logspace import log_sum_exp

U = 2.0**-53  # unit roundoff of double
U_LD = float(np.finfo(np.longdouble).eps)  # extended precision (1.1e-19 on x86-64; equal to 2 U where absent)
TWO_PI_LD = 8 * np.arctan(np.longdouble(1))
REF_BITS = 20
LIVE_LOG = 80.0  # bins whose |psi|^n may exceed e^-LIVE_LOG are computed
KEEP_SIGMAS = 5.5  # a window certifies levels within this many sigma of its centre at most
ALIAS_SIGMAS = 9.5  # window width = (KEEP_SIGMAS + ALIAS_SIGMAS) sigma + margin
PLAN_SIGMAS = 4.0  # half the spacing of planned windows, in sigma
FFT_ROUNDING = 8.0  # constant of the componentwise FFT rounding bound
SPECTRUM_ROUNDING = 2.0  # constant of the extended-precision spectrum bound
GAP_INTERVALS_PER_STEP = 16
MAX_SPAN = 512  # token lattices wider than this are left to other methods
TARGET = 1e-10  # certified absolute error of each log-probability (or ULPS ulp of it, if larger)
ULPS = 4
BLOCK = 2**22  # elements per batched inverse FFT
REFINE_ROUNDS = 3


def tolerance(logp: np.ndarray) -> np.ndarray:
    """Certified tolerance of each level: ``max(TARGET, ULPS ulp(log P))``."""
    return np.maximum(TARGET, ULPS * np.spacing(np.abs(np.where(np.isfinite(logp), logp, 0.0))))


class TiltFamily:
    """The exponential family ``q_theta(k) ~ q_k e^{theta k}`` of a token law on ``0..D``."""

    def __init__(self, lp: np.ndarray, lp_ext: np.ndarray | None = None):
        self.support = np.flatnonzero(lp > -np.inf)
        self.logp = lp[self.support]
        self.logp_ext = (lp.astype(np.longdouble) if lp_ext is None else lp_ext)[self.support]
        self.k = self.support.astype(float)
        self.span = int(self.support[-1])
        gap_bins = GAP_INTERVALS_PER_STEP * max(self.span, 8)
        edges = np.linspace(0.0, math.pi, gap_bins + 1)
        self.gap_edges = edges
        self.min_sin2 = _min_sin2_table(edges, np.arange(1, self.span + 1))

    def moments(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and probabilities (rows) of ``q_theta`` for each ``theta``."""
        w = self.logp[None, :] + theta[:, None] * self.k[None, :]
        w -= w.max(axis=1, keepdims=True)
        e = np.exp(w)
        e /= e.sum(axis=1, keepdims=True)
        mean = e @ self.k
        var = np.einsum("tk,tk->t", e, (self.k[None, :] - mean[:, None]) ** 2)
        return mean, var, e

    def theta_for(self, targets: np.ndarray, n: int) -> np.ndarray:
        """``theta`` with mean of ``q_theta`` near each target in ``(0, D)`` (safeguarded Newton, batched)."""
        theta = np.zeros(targets.size)
        lo = np.full(targets.size, -np.inf)
        hi = np.full(targets.size, np.inf)
        tol = np.minimum(1e-4 * np.minimum(targets, self.span - targets), 0.01 / math.sqrt(n))
        for _ in range(200):
            mean, var, _ = self.moments(theta)
            diff = mean - targets
            done = np.abs(diff) <= tol
            if done.all():
                break
            lo = np.where(diff < 0, np.maximum(lo, theta), lo)
            hi = np.where(diff > 0, np.minimum(hi, theta), hi)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                newton = theta - diff / var
                fallback = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi),
                                    np.where(np.isfinite(lo), lo + np.maximum(1.0, np.abs(lo)),
                                             hi - np.maximum(1.0, np.abs(hi))))
            ok = (newton > lo) & (newton < hi)
            theta = np.where(done, theta, np.where(ok, newton, fallback))
        return theta

    def sigma_grid(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Centres ``n mean`` and standard deviations ``sqrt(n var)`` of the tilted sums on a grid of means,
        geometric towards both ends (kept for the family's last ``n``)."""
        cached = getattr(self, "_grid", None)
        if cached is None or cached[0] != n:
            x = np.geomspace(0.5 / n, 0.5 * self.span, 256)
            means = np.unique(np.concatenate([x, self.span - x[::-1]]))
            means = means[(means > 0) & (means < self.span)]
            _, var, _ = self.moments(self.theta_for(means, n))
            cached = self._grid = (n, n * means, np.sqrt(n * var))
        return cached[1], cached[2]

    def log_mgf(self, theta: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """``log sum_k q_k e^{theta (k - ref)}``, rows of ``theta`` (any shape ending in the batch)."""
        return log_sum_exp(self.logp + theta[..., None] * (self.k - ref[..., None]), axis=-1)


def _min_sin2_table(edges: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``min over w in [edges_i, edges_{i+1}] of sin^2(w d / 2)``, for each interval and step ``d`` (exact: the
    minimum is 0 if the interval holds a zero ``2 pi m / d``, else at an end)."""
    a = edges[:-1, None] * d[None, :] / 2
    b = edges[1:, None] * d[None, :] / 2
    has_zero = np.floor(b / math.pi) >= np.ceil(a / math.pi)
    ends = np.minimum(np.sin(a) ** 2, np.sin(b) ** 2)
    return np.where(has_zero, 0.0, ends * (1 - 1e-12))


@dataclass
class WindowBatch:
    """Tilted windows centred at ``centres`` (level units), with their parameters."""

    theta: np.ndarray
    ref_num: np.ndarray  # reference mean m = ref_num / 2^REF_BITS (int64)
    sigma: np.ndarray
    width: np.ndarray
    start: np.ndarray
    keep_lo: np.ndarray
    keep_hi: np.ndarray
    probs: np.ndarray  # tilted token probabilities (double), rows


def plan(fam: TiltFamily, n: int, lo: int, hi: int, spacing: float = PLAN_SIGMAS) -> np.ndarray:
    """Centres covering levels ``lo..hi``: each about ``spacing sigma`` past the last covered level."""
    last = n * fam.span
    grid_c, grid_s = fam.sigma_grid(n)
    centres = []
    cur = lo
    while cur <= hi:  # each pass advances cur by at least one level
        s = float(np.interp(cur, grid_c, grid_s))
        c = min(max(cur + spacing * s, 0.5), last - 0.5)
        centres.append(c)
        reach = c + spacing * float(np.interp(c, grid_c, grid_s))
        cur = max(cur + 1, math.floor(reach) + 1)
    return np.array(centres)


def make_windows(fam: TiltFamily, n: int, centres: np.ndarray) -> WindowBatch:
    """Tilt, reference mean, width and position of the window centred at each centre."""
    size = n * fam.span + 1
    theta = fam.theta_for(centres / n, n)
    mean, var, probs = fam.moments(theta)
    ref_num = np.round(mean * 2.0**REF_BITS).astype(np.int64)
    sigma = np.sqrt(n * var)
    width = np.empty(centres.size, dtype=np.int64)
    start = np.empty(centres.size, dtype=np.int64)
    full = sfft.next_fast_len(size, real=True)
    for i, s in enumerate(sigma):
        w = sfft.next_fast_len(int(math.ceil((KEEP_SIGMAS + ALIAS_SIGMAS) * s)) + 2 * fam.span + 16, real=True)
        if w >= size:
            width[i], start[i] = full, 0
        else:
            width[i] = w
            start[i] = min(max(int(round(n * mean[i])) - w // 2, 0), size - w)
    centre = n * mean
    keep_lo = np.maximum(np.floor(centre - KEEP_SIGMAS * sigma).astype(np.int64), start)
    keep_hi = np.minimum(np.ceil(centre + KEEP_SIGMAS * sigma).astype(np.int64), np.minimum(start + width, size) - 1)
    return WindowBatch(theta, ref_num, sigma, width, start, keep_lo, keep_hi, probs)


def dropped_bound(fam: TiltFamily, n: int, wb: WindowBatch) -> tuple[list[np.ndarray], np.ndarray]:
    """Live bins of each window, and the bound ``sum |psi(w_j)|^n`` over its dropped bins (``1/W`` not applied).

    ``1 - |psi|^2 = sum_d 4 a_d sin^2(w d / 2) >= g_I`` on each interval ``I`` of ``[0, pi]``; a bin of ``I`` is
    dropped when ``exp(-n g_I / 2) <= e^-LIVE_LOG`` and contributes at most that."""
    span = fam.span
    dense = np.zeros((wb.theta.size, span + 1))
    dense[:, fam.support] = wb.probs
    auto = np.stack([np.einsum("tk,tk->t", dense[:, :-d], dense[:, d:]) for d in range(1, span + 1)], axis=1)
    g = 4.0 * (auto * (1 - 4 * (span + 2) * U)) @ fam.min_sin2.T  # (windows, intervals)
    log_bound = -0.5 * n * np.minimum(g, 1.0)
    live, dropped = [], np.empty(wb.theta.size)
    edges = fam.gap_edges
    for i in range(wb.theta.size):
        w = int(wb.width[i])
        half = w // 2
        # bins of each interval: ceil(a W / 2 pi) .. floor(b W / 2 pi), each bin counted in its first interval
        first = np.ceil(edges[:-1] * w / (2 * math.pi) - 1e-9).astype(np.int64)
        first = np.minimum(first, half + 1)
        last = np.append(first[1:] - 1, half)
        counts = np.maximum(last - first + 1, 0)
        is_live = log_bound[i] > -LIVE_LOG
        dropped[i] = float(np.sum(counts[~is_live] * np.exp(log_bound[i][~is_live])))
        live.append(np.concatenate([np.arange(a, b + 1) for a, b, ok in zip(first, last, is_live, strict=True)
                                    if ok and b >= a] or [np.zeros(0, dtype=np.int64)]))
    return live, dropped


def chernoff_tail(fam: TiltFamily, n: int, wb: WindowBatch, dist: np.ndarray, upper: bool) -> np.ndarray:
    """Bound on ``P_theta(S - n m >= dist)`` (``upper``) or ``P_theta(S - n m <= -dist)``, ``dist > 0``:
    ``min_t exp(n [L(theta + t) - L(theta)] - t dist)`` over a few ``t`` about the Gaussian optimum."""
    ref = wb.ref_num / 2.0**REF_BITS
    var = np.maximum(wb.sigma**2 / n, 1e-300)
    t0 = dist / (n * var)
    scales = np.array([0.125, 0.25, 0.5, 1.0, 2.0, 4.0])
    sign = 1.0 if upper else -1.0
    t = np.minimum(t0[:, None] * scales[None, :], 700.0 / max(fam.span, 1))
    base = fam.log_mgf(wb.theta, ref)
    shifted = fam.log_mgf(wb.theta[:, None] + sign * t, np.broadcast_to(ref[:, None], t.shape))
    log_b = np.min(n * (shifted - base[:, None]) - t * dist[:, None], axis=1) + 1e-6
    return np.exp(np.minimum(log_b, 0.0))


def evaluate(fam: TiltFamily, n: int, wb: WindowBatch) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """For each window: first kept level, ``log P`` of the kept levels and their certified error bounds."""
    size = n * fam.span + 1
    live, dropped = dropped_bound(fam, n, wb)
    sizes = np.array([b.size for b in live])
    win = np.repeat(np.arange(wb.theta.size), sizes)
    j = np.concatenate(live).astype(np.int64)
    W = wb.width[win]
    # tilted token law and its log-mgf about the reference, in extended precision
    ref_num = wb.ref_num
    theta_ld = wb.theta.astype(np.longdouble)
    steps = fam.support.astype(np.int64)[None, :] * 2**REF_BITS - ref_num[:, None]  # (k - m) 2^REF_BITS, exact
    expo = fam.logp_ext[None, :] + theta_ld[:, None] * (steps.astype(np.longdouble)
                                                                             / np.longdouble(2**REF_BITS))
    top = expo.max(axis=1, keepdims=True)
    log_m = top[:, 0] + np.log(np.exp(expo - top).sum(axis=1))
    q_ld = np.exp(expo - log_m[:, None])
    q_sum = q_ld.sum(axis=1)  # 1 up to rounding; the law powered is q / q_sum, its mass n log q_sum restored
    token_err = n * U_LD * (2 * np.abs((expo - log_m[:, None]).astype(float)).max(axis=1) + 2 * fam.k.size + 8)
    # psi(w_j) - 1 = sum_k q_k (e^{i a_k} - 1), a_k = 2 pi j (k - m) / W reduced exactly to [-pi, pi) in
    # integers: terms proportional to the angle, so rounding stays relative to |psi - 1|, not to |psi|
    modulus = W * 2**REF_BITS
    num = (j[:, None] * steps[win]) % modulus[:, None]
    num = np.where(2 * num >= modulus[:, None], num - modulus[:, None], num)
    ang = TWO_PI_LD * (num.astype(np.longdouble) / modulus[:, None].astype(np.longdouble))
    half_sin = np.sin(ang / 2)
    qw = q_ld[win] / q_sum[win, None]
    t_re = -2 * np.einsum("lk,lk->l", qw, half_sin * half_sin)
    t_im = np.einsum("lk,lk->l", qw, np.sin(ang))
    log_mag = (n / 2) * np.log1p(2 * t_re + t_re * t_re + t_im * t_im)
    qd = qw.astype(float)
    b_j = np.einsum("lk,lk->l", qd, 2 * np.abs(half_sin.astype(float)))
    a_j = np.einsum("lk,lk->l", qd, np.abs(ang.astype(float)))
    t_abs = np.hypot(t_re.astype(float), t_im.astype(float))
    # phase of X_j: n arg psi + 2 pi j (n m - start) / W, the second term reduced exactly
    shift = n * ref_num - wb.start * 2**REF_BITS  # (n m - start) 2^REF_BITS, exact
    e_w = shift % (wb.width * 2**REF_BITS)
    e_hi, e_lo = e_w // 2**REF_BITS, e_w % 2**REF_BITS
    frac_num = (((j * e_hi[win]) % W) * 2**REF_BITS + j * e_lo[win]) % modulus
    phase = n * np.arctan2(t_im, 1 + t_re) + TWO_PI_LD * (frac_num.astype(np.longdouble)
                                                           / modulus.astype(np.longdouble))
    mag = np.exp(log_mag)
    spec = (mag * np.cos(phase)).astype(float) - 1j * (mag * np.sin(phase)).astype(float)  # conj(X_j)
    abs_x = mag.astype(float)
    weight = np.where((j == 0) | (2 * j == W), 1.0, 2.0)  # each bin with its Hermitian partner
    delta = (1.1 * n * U_LD * SPECTRUM_ROUNDING * ((fam.k.size + 6) * b_j + 2 * a_j + 2 * t_abs)
             + 4 * U_LD * (np.abs(log_mag.astype(float)) + np.abs(phase.astype(float))) + 4 * U)
    l1 = np.bincount(win, weights=weight * abs_x, minlength=wb.theta.size)
    spec_err = np.bincount(win, weights=weight * abs_x * delta, minlength=wb.theta.size)
    W_all = wb.width.astype(float)
    err = (FFT_ROUNDING * U * np.log2(W_all) * l1 + spec_err + 2.0 * dropped * (1 + 1e-9)) / W_all
    # aliasing over the kept levels: P(S >= keep_lo + W) + P(S <= keep_hi - W)
    centre = n * ref_num / 2.0**REF_BITS
    up = (wb.keep_lo + wb.width).astype(float)
    down = (wb.keep_hi - wb.width).astype(float)
    alias = np.where(up <= size - 1, chernoff_tail(fam, n, wb, np.maximum(up - centre, 1e-300), True), 0.0)
    alias += np.where(down >= 0, chernoff_tail(fam, n, wb, np.maximum(centre - down, 1e-300), False), 0.0)
    err += alias
    results: list[tuple[int, np.ndarray, np.ndarray]] = [None] * wb.theta.size  # type: ignore[list-item]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for w in np.unique(wb.width):
        rows = np.flatnonzero(wb.width == w)
        per_block = max(1, BLOCK // int(w))
        for b0 in range(0, rows.size, per_block):
            blk = rows[b0:b0 + per_block]
            x = np.zeros((blk.size, int(w) // 2 + 1), dtype=complex)
            for r, i in enumerate(blk):
                x[r, live[i]] = spec[offsets[i]:offsets[i + 1]]
            y = sfft.irfft(x, int(w), axis=1)
            for r, i in enumerate(blk):
                results[i] = _untilt(n, wb, i, y[r], err[i], log_m[i] + np.log(q_sum[i]), token_err[i])
    return results


def _untilt(n: int, wb: WindowBatch, i: int, y: np.ndarray, err: float, log_m, token_err: float
            ) -> tuple[int, np.ndarray, np.ndarray]:
    """Kept levels of window ``i``: ``log P(K) = log y - theta (K - n m) + n log M`` (extended precision) and the
    bound ``-log(1 - err / y)`` plus the token law's rounding (``token_err``) and the rounding of this sum."""
    lo, hi = int(wb.keep_lo[i]), int(wb.keep_hi[i])
    levels = np.arange(lo, hi + 1)
    yk = y[levels - int(wb.start[i])]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_y = np.log(yk)
        rel = err / yk
        bound = np.where((yk > 0) & (rel < 0.5), -np.log1p(-np.minimum(rel, 0.5)), np.inf)
    dist = (levels * 2**REF_BITS - n * int(wb.ref_num[i])).astype(np.longdouble) / np.longdouble(2**REF_BITS)
    tilt_term = np.longdouble(wb.theta[i]) * dist
    n_log_m = n * log_m
    total = log_y.astype(np.longdouble) - tilt_term + n_log_m
    logp = total.astype(float)
    rounding = (4 * U_LD * (np.abs(tilt_term) + abs(n_log_m) + np.abs(log_y)).astype(float)
                + 2 * U * np.abs(log_y) + 0.5 * np.spacing(np.abs(logp)))
    bound = bound + rounding + token_err
    bad = ~np.isfinite(bound)
    logp[bad] = np.nan
    return lo, logp, bound


def certified_power(lp: np.ndarray, n: int, settled: np.ndarray | None = None,
                    lp_ext: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``log P(S_n = K)`` for ``K = 0..n D`` by certified tilted windows, and each level's error bound (``inf``
    where no window certified it, with ``NaN`` there). ``lp[0]`` and ``lp[-1]`` must be finite.
    ``settled`` marks levels that need no window (unreachable ones); ``lp_ext`` is the token law in extended
    precision (``numpy.longdouble``), when known more accurately than its double logs."""
    fam = TiltFamily(lp, lp_ext)
    size = n * fam.span + 1
    out = np.full(size, np.nan)
    cert = np.full(size, np.inf)
    todo = np.ones(size, dtype=bool) if settled is None else ~settled
    spacing = PLAN_SIGMAS
    for _ in range(REFINE_ROUNDS):
        runs = _runs(todo)
        if not runs:
            break
        centres = np.concatenate([plan(fam, n, a, b, spacing) for a, b in runs])
        for start in range(0, centres.size, 4096):
            wb = make_windows(fam, n, centres[start:start + 4096])
            for lo, logp, bound in evaluate(fam, n, wb):
                seg = slice(lo, lo + logp.size)
                better = bound < cert[seg]
                out[seg] = np.where(better, logp, out[seg])
                cert[seg] = np.where(better, bound, cert[seg])
        todo &= ~(cert <= tolerance(out))
        spacing /= 2
    return out, cert


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of ``True`` in ``mask``."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
