r"""Certified convolution powers of a lattice law by every method: :math:`\log P(S_n = K)` for every level :math:`K`.

The token law :math:`q_k = e^{\mathrm{logq}_k}` lives on :math:`k = 0, \dots, D`; :math:`S_n` is the sum of
:math:`n` i.i.d. draws, on the levels :math:`0, \dots, nD`. :func:`certified_lattice_power` returns every level
with a certified bound on the error of its log, within ``max(1e-10, 4 ulp)``, by the first of these methods that
certifies it:

* *Certified tilted windows* (:func:`lmalign.lattice_power.certified_power`): the levels are tiled by windows
  of tilted FFT powers, each level computed once by the window whose cell holds it, with a bound summing FFT
  rounding, spectrum error, dropped bins and aliasing. For ordinary laws they certify every level.
* *Edge recurrence*: a level they leave within :math:`(n + 1) j_1` levels of either end (:math:`j_1` the gap
  from the extreme step to the next one) is computed by J. C. P. Miller's recurrence for the powers of a polynomial,
  whose terms are all non-negative there, run only as deep as needed (bound ``_edge_bound``).
* *Float windows* (``_FloatWindows``): levels still left (lattices where only rare tokens leave a sublattice,
  so that :math:`P_\theta` alternates by large factors between residue classes) are computed by plain,
  residue-class (``_class_power``) and dominant-token windows, with the error model :math:`2 n u` times the
  estimated relative
  error; and up to ``DIRECT_FALLBACK_MAX_LEVELS`` levels by the direct convolution.
* Supports of at most ``DIRECT_MAX_LEVELS`` levels use the direct log-space convolution by repeated squaring
  (sums of positive terms only; bound ``_direct_bound``).

A level no method certifies raises ``ArithmeticError`` naming the length and the levels, rather than return a
less accurate value. The token models that need these powers are in :mod:`lmalign.memoryless`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
from scipy.optimize import brentq

from lmalign._logspace import log_sum_exp
from lmalign.lattice_power import MAX_SPAN, certified, certified_levels

REL_TARGET = 5e-11  # target relative error per level of the tilted windows
DIRECT_MAX_LEVELS = 4096  # supports up to this size use the exact direct log-space convolution
CLASS_COUNTS = (1.0, 30.0, 1000.0)  # expected-count thresholds below which tokens count as rare
MAX_CLASSES = 64  # largest number of residue classes a window is split into
CHERNOFF_SHIFTS = np.array([-8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0])  # around the tilt
DOMINANT_MAX_J = 100  # most tokens other than a dominant one that a dominant-token window enumerates
DOMINANT_FIRST = 20.0  # dominant-token window tried before the class windows when fewer others are expected
TINY = 1e-280  # a residue class whose largest tilted value is below this is not resolved by that window
DIRECT_FALLBACK_MAX_LEVELS = 20_000  # larger supports that the windows cannot resolve fall back to it up to this
U = 2.0**-53  # unit roundoff of double
EDGE_VECTOR_TERMS = 32  # the edge recurrence runs in numpy blocks when j1 levels times the steps reach this


def reachable_totals(support: np.ndarray, n: int) -> np.ndarray:
    r"""Boolean mask of the totals :math:`0, \dots, n k_{\max}` that a sum of :math:`n` steps from ``support`` can
    reach.

    The exact sumset by doubling, each FFT product of 0/1 arrays thresholded at 1/2.

    Parameters
    ----------
    support : numpy.ndarray
        A 0/1 (or boolean) array over :math:`0, \dots, k_{\max}`: the steps allowed.
    n : int
        The number of steps.

    Returns
    -------
    numpy.ndarray
        Boolean, of length :math:`n k_{\max} + 1`.

    Examples
    --------
    >>> reachable_totals(np.array([1, 0, 1]), 2).tolist()  # steps 0 and 2: even totals only
    [True, False, True, False, True]
    """

    def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (
            sfft.irfft(sfft.rfft(a, a.size + b.size - 1) * sfft.rfft(b, a.size + b.size - 1), a.size + b.size - 1) > 0.5
        )

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


def _log_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\log\sum_i \exp(a_i + b_{k-i})` for every :math:`k`: exact log-space convolution of two log arrays
    (sums of positive terms only), in blocks of rows of ``a`` holding about 2^23 entries each."""
    if a.size > b.size:  # rows over the shorter array
        a, b = b, a
    width = a.size + b.size - 1
    block = max(8, min(256, 2**23 // width))
    out = np.full(width, -np.inf)
    cols = np.arange(b.size)[None, :]
    for start in range(0, a.size, block):
        blk = a[start : start + block]
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


def _log_conv_power_direct(logq: np.ndarray, n: int) -> np.ndarray:
    """``n``-fold convolution power of ``exp(logq)`` in log space by repeated squaring (exact to rounding)."""
    result = np.zeros(1)
    power = logq
    m = n
    while m:
        if m & 1:
            result = _log_convolve(result, power)
        m >>= 1
        if m:
            power = _log_convolve(power, power)
    return result


def _edge_depth(logq: np.ndarray, n: int) -> int:
    """Depth ``(n + 1) j1`` up to which ``_log_power_edge`` sums positive terms only."""
    return (n + 1) * int(np.flatnonzero(logq[1:] > -np.inf)[0] + 1)


def _log_power_edge(logq: np.ndarray, n: int, depth: int) -> np.ndarray:
    r"""First ``depth`` log-coefficients of :math:`f(x)^n`, :math:`f(x) = \sum_j e^{\mathrm{logq}_j} x^j` with
    :math:`\mathrm{logq}_0 > -\infty`, by J. C. P. Miller's power recurrence

    .. math::

        g_k = \sum_{j=1}^{\min(k, d)} \frac{(n + 1) j - k}{k} \frac{a_j}{a_0} g_{k-j}, \qquad g_0 = a_0^n.

    With ``j1`` the smallest ``j >= 1`` with ``a_j > 0``, every coefficient ``(n + 1) j - k`` with ``a_j > 0`` is
    non-negative for ``k <= (n + 1) j1``, so up to that depth each ``g_k`` is a sum of positive terms and its
    relative error grows only linearly (``k / j1`` steps, each a product and a pairwise sum, see
    ``_edge_bound``). Levels ``k0 .. k0 + j1 - 1`` depend only on levels below ``k0``: each such block is one
    vectorised step over its levels and all terms ``j`` (``_edge_blocks``), or, for small blocks, a loop in
    Python floats (``_edge_levels``). Values are carried as mantissa and binary exponent
    (``numpy.frexp``; rescaling by powers of two is exact), so no error accumulates in the logarithm either; the
    log is taken once per level. The recurrence itself is sequential in the blocks."""
    if not 1 <= depth <= _edge_depth(logq, n) or not logq[0] > -np.inf:
        raise AssertionError("edge recurrence needs 1 <= depth <= (n + 1) j1 and a positive lowest coefficient")
    ln2 = math.log(2.0)
    js = np.flatnonzero(logq[1:] > -np.inf) + 1
    lr = logq[js] - logq[0]
    ratio_e = np.round(lr / ln2).astype(np.int64)
    ratio_m = np.exp(lr - ratio_e * ln2)  # a_j / a_0 = ratio_m 2^ratio_e
    mant = np.zeros(depth)  # g_k / g_0 = mant[k] 2^expo[k]
    expo = np.zeros(depth, dtype=np.int64)
    mant[0] = 1.0
    if int(js[0]) * js.size >= EDGE_VECTOR_TERMS:
        _edge_blocks(n, js, ratio_m, ratio_e, mant, expo)
    else:
        _edge_levels(n, js, ratio_m, ratio_e, mant, expo)
    with np.errstate(divide="ignore"):
        return n * float(logq[0]) + (np.log(mant) + expo * ln2)


def _edge_blocks(
    n: int, js: np.ndarray, ratio_m: np.ndarray, ratio_e: np.ndarray, mant: np.ndarray, expo: np.ndarray
) -> None:
    """Miller's recurrence in blocks of ``j1`` levels, each one numpy step over its levels and terms (the
    pairwise sum of positive terms)."""
    j1, lowest = int(js[0]), np.iinfo(np.int64).min
    for k0 in range(1, mant.size, j1):
        ks = np.arange(k0, min(k0 + j1, mant.size))
        src = ks[:, None] - js[None, :]
        coef = ((n + 1) * js[None, :] - ks[:, None]).astype(float)
        use = (src >= 0) & (coef > 0)
        src = np.where(use, src, 0)
        terms = np.where(use, coef * ratio_m * mant[src], 0.0)
        exps = ratio_e + expo[src]
        top = np.max(np.where(terms > 0, exps, lowest), axis=1)
        top = np.where(top == lowest, 0, top)
        m, e = np.frexp(np.sum(np.ldexp(terms, exps - top[:, None]), axis=1) / ks)
        mant[ks], expo[ks] = m, np.where(m > 0, e + top, 0)


def _edge_levels(
    n: int, js: np.ndarray, ratio_m: np.ndarray, ratio_e: np.ndarray, mant: np.ndarray, expo: np.ndarray
) -> None:
    """Miller's recurrence level by level in Python floats (``math.fsum``), for lattices whose blocks hold
    fewer than ``EDGE_VECTOR_TERMS`` terms (there a numpy step costs more than it saves)."""
    steps = list(zip(js.tolist(), ratio_m.tolist(), ratio_e.tolist(), strict=True))
    ms, es = [1.0], [0]
    for k in range(1, mant.size):
        terms, exps = [], []
        for j, rm, re in steps:
            if j <= k and (n + 1) * j > k and ms[k - j] > 0.0:
                terms.append(((n + 1) * j - k) * rm * ms[k - j])
                exps.append(re + es[k - j])
        if not terms:
            ms.append(0.0)
            es.append(0)
            continue
        top = max(exps)
        m, e = math.frexp(math.fsum(math.ldexp(t, x - top) for t, x in zip(terms, exps, strict=True)) / k)
        ms.append(m)
        es.append(e + top)
    mant[:], expo[:] = ms, es


def _class_power(q: np.ndarray, d: int, width: int, n: int) -> np.ndarray:
    """Circular (period ``width``, a multiple of ``d``) ``n``-fold convolution power of ``q``, computed
    separately for each residue class mod ``d`` of the total: row ``r`` holds the part of the law on totals
    ``= r (mod d)``, accurate relative to that part's own size. Repeated squaring on the spectra of the class
    components, ``C_r = sum_c A_c B_{r-c}``: a sum of spectra of positive sequences, never a difference."""
    ks = np.arange(q.size)
    spectra = np.array([sfft.rfft(np.where(ks % d == c, q, 0.0), width) for c in range(d)])
    idx = (np.arange(d)[:, None] - np.arange(d)[None, :]) % d

    def mult(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        for r in range(d):  # one class at a time: memory d x width, not d^2 x width
            out[r] = np.einsum("cw,cw->w", a, b[idx[r]])
        return out

    result = None
    power = spectra
    m = n
    while m:
        if m & 1:
            result = power if result is None else mult(result, power)
        m >>= 1
        if m:
            power = mult(power, power)
    return sfft.irfft(result, width, axis=1)


class _FloatWindows:
    """Float tilted windows over the levels ``K = 0..n D`` of ``exp(logq)`` (``logq_0``, ``logq_D`` finite): the
    fallback for the levels the certified windows leave. Each window is tried as a plain FFT power, by residue
    classes, or by the dominant token (:meth:`fft_window`, :meth:`dominant_window`); near an edge the exact
    recurrence takes over (:meth:`edge`). ``out`` holds ``log P``, ``err`` the estimated relative error in units
    of ``n eps`` (0 for the recurrence, ``inf`` where not computed)."""

    def __init__(self, logq: np.ndarray, n: int, todo: np.ndarray | None):
        self.logq, self.n = logq, n
        self.span = logq.size - 1
        self.size = n * self.span + 1
        self.ks = np.arange(self.span + 1, dtype=float)
        self.pos = logq > -np.inf
        self.fft_len = sfft.next_fast_len(self.size, real=True)
        reach = np.ones(self.size, dtype=bool) if self.pos.all() else reachable_totals(self.pos, n)
        self.out = np.where(reach, np.nan, -np.inf)
        self.err = np.full(self.size, np.inf)
        self.todo = np.flatnonzero(reach if todo is None else reach & todo)
        self.reach = reach if todo is None else reach & todo
        self.err_max = math.exp(-min(math.log(n * np.finfo(float).eps / REL_TARGET), -1.0))
        self.rare_powers: dict[int, list[np.ndarray]] = {}
        self.depth = (_edge_depth(logq, n), _edge_depth(logq[::-1], n))

    def tilt(self, theta: float) -> tuple[np.ndarray, float, float]:
        """Tilted law ``q ~ e^{logq + theta k}``, its mean and variance."""
        lw = self.logq + theta * self.ks
        q = np.exp(lw - lw.max())
        q /= q.sum()
        mean = float(np.dot(q, self.ks))
        return q, mean, float(np.dot(q, (self.ks - mean) ** 2))

    def theta_for(self, mean_target: float) -> float:
        """Tilt whose mean is ``mean_target`` (bracketed by doubling, then Brent)."""

        def f(t: float) -> float:
            return self.tilt(t)[1] - mean_target

        lo, hi = -1.0, 1.0
        for _ in range(1100):  # |theta| up to 2^1100 > the largest double
            if f(lo) <= 0:
                break
            lo *= 2
        for _ in range(1100):
            if f(hi) >= 0:
                break
            hi *= 2
        return brentq(f, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=300)

    def untilt(self, theta: float, mean: float, levels: np.ndarray, log_tilted: np.ndarray) -> np.ndarray:
        """``log P(K) = log P_theta(K) - theta (K - n m) + n log E_p e^{theta (k - m)}`` about a dyadic reference
        ``m`` near the tilted mean (20 fractional bits), so that ``n m`` and ``K - n m`` are exact (an unrounded
        centre would cost ``theta ulp(n m)``, and ``theta`` is large near the edges)."""
        m = round(mean * 2**20) / 2**20
        shift = log_sum_exp(self.logq[self.pos] + theta * (self.ks[self.pos] - m))
        return log_tilted - theta * (levels - self.n * m) + self.n * shift

    def fft_window(self, theta: float, q: np.ndarray, mean: float, sigma: float, d: int):
        """Levels ``start, start + 1, ...`` of a tilted window, their log-probabilities and estimated relative
        errors in units of ``n eps``: ``peak / P_theta(K)``, the peak taken over the residue class of ``K``
        mod ``d`` (``d = 1``: one FFT power; ``d > 1``: the class components, see ``_class_power``)."""
        n, size = self.n, self.size
        base = int(32 * sigma) + 2 * self.span + 64
        if d == 1:
            width = min(self.fft_len, sfft.next_fast_len(base, real=True))
        else:  # a multiple of d, so that the circular wrap keeps residue classes apart
            width = d * sfft.next_fast_len(-(-min(base, size) // d), real=False)
        start = max(0, min(int(n * mean) - width // 2, size - width)) if width < size else 0
        levels = np.arange(start, min(start + width, size))
        if d == 1:
            seg = sfft.irfft(sfft.rfft(q, width) ** n, width)[levels % width]  # circ[j] = sum_m P(j + m width)
            cls = np.zeros(levels.size, dtype=np.int64)
            peak = np.array([seg.max()])
        else:
            seg = _class_power(q, d, width, n)[levels % d, levels % width]
            cls = levels % d
            peak = np.zeros(d)
            np.maximum.at(peak, cls, seg)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            err = peak[cls] / seg
            logs = np.log(seg)
        err[~(seg > 0) | (peak[cls] < TINY)] = np.inf
        logs[~np.isfinite(err)] = np.nan
        return start, self.untilt(theta, mean, levels, logs), err

    def _dominant_terms(self, lp_star: float, log_m: np.ndarray) -> tuple[int, np.ndarray]:
        """Number ``Jmax`` of other tokens enumerated (terms summed over all offsets under the window's tilt,
        until they fall 150 below the largest and decrease geometrically) and the log bound on the omitted
        ``J > Jmax`` at each tilt of the grid (geometric from the first omitted term; ``inf`` where the term
        ratio is not below 1/2)."""
        n = self.n
        log_m_window = float(log_m[CHERNOFF_SHIFTS.size // 2])  # the window's own tilt (shift 0)
        log_terms, log_binom = [], 0.0
        for j in range(min(n, DOMINANT_MAX_J) + 1):
            if j:
                log_binom += math.log(n - j + 1) - math.log(j)
            log_terms.append(log_binom + (n - j) * lp_star + j * log_m_window)
            ratio = (n - j) / (j + 1) * math.exp(log_m_window - lp_star)
            if ratio < 0.5 and log_terms[-1] < max(log_terms) - 150:
                break
        jmax = len(log_terms) - 1
        if jmax == n:
            return jmax, np.full(log_m.size, -np.inf)
        log_binom += math.log(n - jmax) - math.log(jmax + 1)
        first_omitted = log_binom + (n - jmax - 1) * lp_star + (jmax + 1) * log_m
        ratios = (n - jmax - 1) / (jmax + 2) * np.exp(log_m - lp_star)
        return jmax, np.where(ratios < 0.5, first_omitted - np.log1p(-np.minimum(ratios, 0.5)), np.inf)

    def dominant_window(self, theta: float, q: np.ndarray):
        """Levels near ``n k*`` for a token ``k*`` that dominates the tilted law: exactly, by the number ``J``
        of other tokens, ``P(n k* + s) = sum_{J <= Jmax} C(n, J) p*^{n-J} R_J(s)`` with ``R_J`` the ``J``-fold
        log-space convolution of the other tokens' probabilities. The omitted ``J > Jmax`` are bounded by
        Chernoff, ``R_J(s) <= e^{-t s} M(t)^J``, ``M(t) = sum_{k != k*} p(k) e^{t (k - k*)}``, for each ``t`` of a
        grid around the window's tilt, and each level takes the smallest bound."""
        n = self.n
        kstar = int(np.argmax(q))
        lp_star = float(self.logq[kstar])
        rare = self.logq.copy()
        rare[kstar] = -np.inf
        off_lo, off_hi = -kstar, self.span - kstar
        grid = np.append(theta + CHERNOFF_SHIFTS, 0.0)
        log_m = log_sum_exp(rare[None, :] + grid[:, None] * np.arange(off_lo, off_hi + 1)[None, :], axis=1)
        jmax, log_tail = self._dominant_terms(lp_star, log_m)
        total = np.full(jmax * (off_hi - off_lo) + 1, -np.inf)  # offsets s = jmax off_lo ... jmax off_hi
        powers = self.rare_powers.setdefault(kstar, [np.zeros(1)])  # R_J does not depend on the tilt: kept
        while len(powers) <= jmax:
            powers.append(_log_convolve(powers[-1], rare))
        log_binom = 0.0
        for j in range(jmax + 1):
            if j:
                log_binom += math.log(n - j + 1) - math.log(j)
            lo = (jmax - j) * (-off_lo)  # position of offset j off_lo in ``total``
            seg = slice(lo, lo + powers[j].size)
            total[seg] = np.logaddexp(total[seg], log_binom + (n - j) * lp_star + powers[j])
        offsets = np.arange(jmax * off_lo, jmax * off_hi + 1)
        levels = n * kstar + offsets
        keep = (levels >= 0) & (levels < self.size)
        levels, total, offsets = levels[keep], total[keep], offsets[keep]
        log_omitted = np.min(log_tail[:, None] - grid[:, None] * offsets[None, :], axis=0)
        with np.errstate(invalid="ignore", over="ignore"):
            err = 1.0 + np.exp(log_omitted - total - math.log(n * np.finfo(float).eps))
        err[~np.isfinite(total)] = np.inf
        return int(levels[0]), np.where(np.isfinite(err), total, np.nan), err

    def order(self, q: np.ndarray, near_edge: bool) -> list[int]:
        """Windows to try at a tilt: residue-class counts ``d`` (1 = plain), 0 for the dominant-token window.
        Tokens expected fewer than each of ``CLASS_COUNTS`` times are rare; the gcd of the others' steps gives a
        class count. Near an edge the recurrence comes instead of the dominant window; with few other tokens
        expected the dominant window is cheapest and comes second."""
        classes = [1]
        for count in CLASS_COUNTS:
            main = np.flatnonzero(self.n * q >= count)
            d = int(np.gcd.reduce(main - main[0])) if main.size > 1 else 0
            if 1 < d <= MAX_CLASSES and d not in classes:
                classes.append(d)
        if near_edge:
            return classes
        if self.n * (1.0 - q.max()) <= DOMINANT_FIRST:
            return [1, 0, *classes[1:]]
        return [*classes, 0]

    def edge(self, cur: int) -> int:
        """Exact power recurrence (positive terms only) from the nearer edge, to some depth past ``cur``;
        returns the next level to cover."""
        last = self.size - 1
        low = cur < self.depth[0]
        law = self.logq if low else self.logq[::-1]
        depth = min(self.depth[0] if low else self.depth[1], self.size, 2 * (cur if low else last - cur) + self.n + 1)
        block = _log_power_edge(law, self.n, depth)
        if low:
            self.out[:depth], self.err[:depth] = block, 0.0
            return max(cur, depth)
        self.out[last - depth + 1 :], self.err[last - depth + 1 :] = block[::-1], 0.0
        return last + 1

    def keep(self, start: int, logvals: np.ndarray, err: np.ndarray) -> None:
        """Store a window's levels where its estimated error beats the current one."""
        local = np.flatnonzero(self.reach[start : start + err.size] & np.isfinite(err))
        local = local[err[local] < self.err[local + start]]
        self.err[local + start] = err[local]
        self.out[local + start] = logvals[local]

    def window_at(self, cur: int, step: float):
        """The first window (in :meth:`order`) centred ``step`` past ``cur`` that resolves ``cur``: its start,
        values, errors, accepted mask and sigma; ``None`` if none does."""
        n, last = self.n, self.size - 1
        theta = self.theta_for(min(max(cur + step, 0.5), last - 0.5) / n)
        q, mean, var = self.tilt(theta)
        sigma = max(math.sqrt(n * var), 1.0)
        for d in self.order(q, cur < self.depth[0] or last - cur < self.depth[1]):
            start, logvals, err = self.fft_window(theta, q, mean, sigma, d) if d else self.dominant_window(theta, q)
            ok = (err <= self.err_max) | ~self.reach[start : start + err.size]
            if start <= cur < start + err.size and ok[cur - start]:
                return start, logvals, err, ok, sigma
        return None

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        """Cover every level of ``todo`` from the lowest up: a window about ``2 sigma`` past the last covered
        level; where none resolves the next level the centre moves closer (halving the step), down to the edge
        recurrence, the direct convolution (up to ``DIRECT_FALLBACK_MAX_LEVELS``) or an ``ArithmeticError``."""
        last = self.size - 1
        step = 0.5  # distance from ``cur`` to the next window's centre
        i = 0  # index into the levels to do
        while i < self.todo.size:
            cur = int(self.todo[i])
            found = self.window_at(cur, step)
            if found is None:
                near_edge = cur < self.depth[0] or last - cur < self.depth[1]
                if step >= 1e-3:
                    step /= 2  # move the next centre closer
                    continue
                if near_edge:
                    i = int(np.searchsorted(self.todo, self.edge(cur)))
                    step = 0.5
                    continue
                if self.size <= DIRECT_FALLBACK_MAX_LEVELS:
                    return _log_conv_power_direct(self.logq, self.n), np.zeros(self.size)
                raise ArithmeticError(
                    f"level {cur} of the length-{self.n} sum stays below the relative accuracy {REL_TARGET:g} "
                    "under every tilt (it is reached only through rare tokens); use a shorter length or merge "
                    "rewards"
                )
            start, logvals, err, ok, sigma = found
            self.keep(start, logvals, err)
            stop = cur - start
            while stop < ok.size and ok[stop]:
                stop += 1
            i = int(np.searchsorted(self.todo, start + stop))
            step = 2.0 * sigma
        return self.out, self.err


def _float_windows(logq: np.ndarray, n: int, todo: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``log P(K)``, ``K = 0..n (len(logq) - 1)``, of the sum of ``n`` i.i.d. draws from ``exp(logq)`` on
    ``0..len(logq)-1`` (``logq_0``, ``logq_D`` finite, inner entries may be ``-inf``) by :class:`_FloatWindows`
    over the levels marked in ``todo`` (all if ``None``), with each level's estimated relative error in units
    of ``n eps`` (0 for the edge recurrence and the direct convolution, ``inf`` where not computed)."""
    if logq.size - 1 == 0:
        return np.zeros(1), np.zeros(1)
    if n * (logq.size - 1) + 1 <= DIRECT_MAX_LEVELS:
        return _log_conv_power_direct(logq, n), np.zeros(n * (logq.size - 1) + 1)
    return _FloatWindows(logq, n, todo).run()


def _direct_bound(logp: np.ndarray, n: int, size: int) -> np.ndarray:
    """Rounding bound of the direct log-space power: ``2 (log2 n + 1)`` convolutions, each adding at most two
    ulps of the logs summed and ``2 u log2(size)`` for its positive sum."""
    conv = 2 * (math.log2(n) + 1)
    mag = np.abs(np.where(np.isfinite(logp), logp, 0.0))
    return conv * (2 * np.spacing(mag) + 2 * U * math.log2(max(size, 2)))


def _edge_bound(logq: np.ndarray, n: int, logp: np.ndarray) -> np.ndarray:
    """Error bound of :func:`_log_power_edge` at levels ``k = 0..len(logp)-1``: level ``k`` takes at most
    ``s = k / j1`` steps, each adding ``(8 + log2 J) u`` to the relative error (products, the pairwise sum of
    ``J`` positive terms, the division by ``k``) and one ratio ``a_j / a_0`` whose log carries
    ``3 u (|log a_j| + |log a_0|)``; then ``u (6 |n log a_0| + 4 |log P| + 4)`` for the logs and the final sum."""
    j1 = int(np.flatnonzero(logq[1:] > -np.inf)[0] + 1)
    fin = logq[np.isfinite(logq)]
    ratio = 3 * U * (float(np.max(np.abs(fin))) + abs(float(logq[0])))
    step = (8 + math.ceil(math.log2(max(fin.size - 1, 1)))) * U
    steps = np.arange(logp.size) / j1
    mag = np.abs(np.where(np.isfinite(logp), logp, 0.0))
    return (step + ratio) * (steps + 1) + U * (6 * n * abs(float(logq[0])) + 4 * mag + 4)


def _fill_edges(lp: np.ndarray, n: int, todo: np.ndarray, vals: np.ndarray, bounds: np.ndarray) -> None:
    """Levels of ``todo`` within the edge recurrence's range at either end, by the recurrence run only as deep
    as the deepest of them; taken where its bound certifies them."""
    for flip in (False, True):
        law = lp[::-1] if flip else lp
        idx = np.flatnonzero(todo[::-1] if flip else todo)
        idx = idx[idx < min(_edge_depth(law, n), vals.size)]
        if not idx.size:
            continue
        depth = int(idx[-1]) + 1
        block = _log_power_edge(law, n, depth)
        bound = _edge_bound(law, n, block)
        pos = (vals.size - 1 - idx) if flip else idx
        take = certified(block[idx], bound[idx])
        vals[pos[take]], bounds[pos[take]] = block[idx][take], bound[idx][take]


def _fallback(lp: np.ndarray, n: int, todo: np.ndarray, vals: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Levels of ``todo`` the certified windows left: the edge recurrence, then the float windows (their error
    model ``2 n u err`` plus rounding, or the direct convolution's bound); returns the levels still uncertified."""
    _fill_edges(lp, n, todo, vals, bounds)
    todo = todo & ~certified(vals, bounds)
    if not todo.any():
        return todo
    inner = vals.size
    fb, fb_err = _float_windows(lp, n, todo)
    direct = bool((fb_err == 0).all()) and inner <= DIRECT_FALLBACK_MAX_LEVELS
    with np.errstate(invalid="ignore"):
        fb_bound = (
            _direct_bound(fb, n, inner)
            if direct
            else (2 * n * U * fb_err + 4 * U * (n + 1) + 2 * np.spacing(np.abs(np.nan_to_num(fb, posinf=0, neginf=0))))
        )
    take = todo & np.isfinite(fb) & (certified(fb, fb_bound) | direct)
    vals[take], bounds[take] = fb[take], fb_bound[take]
    return todo & ~take


def certified_lattice_power(logq: np.ndarray, n: int, q_ext: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\log P(S_n = K)`, :math:`K = 0, \dots, nD`, of the sum of :math:`n` i.i.d. draws from
    :math:`q = e^{\mathrm{logq}}` on :math:`0, \dots, D`, with an error bound on each log.

    Entries of ``logq`` may be ``-inf``; the bound is 0 on impossible levels. Certified tilted windows first
    (:mod:`lmalign.lattice_power`); levels they leave go to the edge recurrence and then the float windows (see
    ``_fallback``).

    Parameters
    ----------
    logq : numpy.ndarray
        The token log-probabilities on :math:`0, \dots, D`.
    n : int
        The number of draws.
    q_ext : numpy.ndarray, optional
        The token probabilities in extended precision (``numpy.longdouble``), when known more accurately.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log P, bound)``, each of length :math:`nD + 1`.

    Raises
    ------
    ArithmeticError
        If no method brings a level within ``max(1e-10, 4 ulp)`` (naming the length and the levels).

    Examples
    --------
    >>> with np.errstate(divide="ignore"):
    ...     logq = np.log([0.5, 0.0, 0.5])
    >>> logp, bound = certified_lattice_power(logq, 2)
    >>> np.exp(logp).round(12).tolist(), bool(bound.max() < 1e-10)
    ([0.25, 0.0, 0.5, 0.0, 0.25], True)
    """
    kmax = logq.size - 1
    size = n * kmax + 1
    pos = np.flatnonzero(logq > -np.inf)
    lo_k, hi_k = int(pos[0]), int(pos[-1])
    if lo_k == hi_k:
        out = np.full(size, -np.inf)
        out[n * lo_k] = 0.0
        return out, np.zeros(size)
    if size <= DIRECT_MAX_LEVELS:
        out = _log_conv_power_direct(logq, n)
        return out, _direct_bound(out, n, size)
    lp = logq[lo_k : hi_k + 1]
    span = hi_k - lo_k
    inner = n * span + 1
    reach = None if (lp > -np.inf).all() else reachable_totals(lp > -np.inf, n)
    if span <= MAX_SPAN:
        lp_ext = None
        if q_ext is not None:
            with np.errstate(divide="ignore"):
                lp_ext = np.log(q_ext[lo_k : hi_k + 1])
        vals, bounds, todo = certified_levels(lp, n, settled=None if reach is None else ~reach, lp_ext=lp_ext)
    else:
        vals, bounds = np.full(inner, np.nan), np.full(inner, np.inf)
        todo = np.ones(inner, dtype=bool) if reach is None else reach.copy()
    if todo.any():
        todo = _fallback(lp, n, todo, vals, bounds)
    if todo.any():
        bad = np.flatnonzero(todo) + n * lo_k
        raise ArithmeticError(
            f"length {n}: {bad.size} levels in {bad[0]}..{bad[-1]} cannot be certified to max(1e-10, 4 ulp) in "
            "the log by any method (they are reached only through rare tokens); use a shorter length or merge "
            "rewards"
        )
    if reach is not None:
        vals[~reach] = -np.inf
        bounds[~reach] = 0.0
    if lo_k == 0 and hi_k == kmax:
        return vals, bounds
    out = np.full(size, -np.inf)
    cert = np.zeros(size)
    out[n * lo_k : n * lo_k + inner] = vals
    cert[n * lo_k : n * lo_k + inner] = bounds
    return out, cert
