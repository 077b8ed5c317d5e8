r"""Certified convolution powers of a lattice law: :math:`\log P(S_n = K)` for every level, each with an error bound.

The token law :math:`q_k = e^{\mathrm{lp}_k}` lives on :math:`k = 0, \dots, D` (:math:`\mathrm{lp}_0`,
:math:`\mathrm{lp}_D` finite); :math:`S_n` is the sum of :math:`n` i.i.d. draws, on the :math:`nD + 1` levels
:math:`0, \dots, nD`.

**Tilted windows.** For a tilt :math:`\theta` and a dyadic reference :math:`m` (``REF_BITS`` fractional bits, near
the tilted mean, so that :math:`nm` and :math:`K - nm` are exact),

.. math::

    P(K) = P_\theta(K)\, e^{-\theta (K - nm)} M^n, \qquad M = \sum_k q_k e^{\theta (k - m)},

and a circular window of :math:`W` levels from ``start`` gives :math:`P_\theta` by one inverse real FFT,

.. math::

    P_{\mathrm{circ}}(\mathrm{start} + i) = \frac{1}{W} \sum_j X_j e^{-2\pi \mathrm{i}\, j i / W}, \qquad
    X_j = \psi(w_j)^n e^{\mathrm{i} w_j (nm - \mathrm{start})},

:math:`\psi(w) = E_\theta e^{\mathrm{i} w (k - m)}`, :math:`w_j = 2\pi j / W`. Only the *live* bins (those
:math:`|\psi|^n` can exceed :math:`e^{-\mathrm{LIVE\_LOG}}` at, a few dozen per window) are computed; the other bins
are dropped. The tilted law of each window is formed in extended precision (``numpy.longdouble``, a few dozen
numbers); the live bins in double: :math:`\psi e^{\mathrm{i} w m} - 1 = t_{\mathrm{re}} + \mathrm{i}\, t_{\mathrm{im}}`
with :math:`t_{\mathrm{re}} = -2 \sum q_k \sin^2(a_k / 2)` (terms of one sign) and
:math:`t_{\mathrm{im}} = \sum q_k (\sin a_k - a_k) + w (\mathrm{mean} - m) - 2\pi \sum q_k r_k`, where :math:`a_k` is
:math:`w (k - m)` reduced exactly in integers by :math:`r_k` turns and the first-order part, which cancels to
:math:`w (\mathrm{mean} - m)`, comes from the extended-precision mean: no error proportional to :math:`|w|`, which
:math:`n` would multiply in the phase, remains. The phase :math:`w_j (nm - \mathrm{start})` is reduced exactly in
integers.

**Certificate.** The absolute error of :math:`P_\theta(K)` over the kept part of a window is at most the sum
:math:`E` of

* *FFT rounding*: :math:`\mathrm{FFT\_ROUNDING}\cdot u \log_2(W) \lVert X\rVert_1 / W` (componentwise rounding of
  the inverse FFT);
* *spectrum*: :math:`\sum_j \delta_j |X_j| / W`, :math:`\delta_j` the relative error bound of each live bin,
  propagated from the bounds on :math:`t_{\mathrm{re}}`, :math:`t_{\mathrm{im}}` with ``SIN_ULPS``-ulp
  transcendental functions;
* *dropped bins*: :math:`\sum |\psi(w_j)|^n` over them, bounded through
  :math:`1 - |\psi(w)|^2 = \sum_d 4 a_d \sin^2(w d / 2)` (:math:`a_d` the autocorrelation of the tilted law), whose
  terms are bounded below exactly on each of ``GAP_INTERVALS_PER_STEP`` :math:`\cdot D` intervals of
  :math:`[0, \pi]`;
* *aliasing*: :math:`P_\theta(S \ge \mathrm{lo} + W) + P_\theta(S \le \mathrm{hi} - W)` for the kept levels
  :math:`\mathrm{lo}, \dots, \mathrm{hi}`, by Chernoff bounds.

With :math:`y` the computed :math:`P_\theta(K)`,
:math:`|\log P_\theta(K) - \log y| \le -\log(1 - E / y) \le E / (y - E)`. The untilt
:math:`\log P(K) = \log y + A - \theta (K - \mathrm{start})`, :math:`A = n \log M - \theta (\mathrm{start} - nm)`,
takes :math:`A` from extended precision and splits it and :math:`\theta` on a common binary grid, so that
:math:`a_{\mathrm{hi}} - \theta_{\mathrm{hi}} (K - \mathrm{start})` is exact; two roundings remain
(:math:`2 u |\log P|`). A level is certified when its bound is within
:math:`\max(\mathrm{TARGET}, \mathrm{ULPS}\cdot \mathrm{ulp}(\log P(K)))`.

**Placement.** The windows tile the levels in the coordinate :math:`\tau(c) = \int dc / (x(c) \sigma(c))`
(:math:`\sigma(c)` the standard deviation of the tilted sum centred at :math:`c`, :math:`x(c)` the reach in sigma at
which the FFT rounding uses ``REACH_SHARE`` of the tolerance there, skewness included; :func:`reach_sigmas`, on a
grid of tilts): one window every ``TAU_STEP`` in :math:`\tau`, each keeping the levels of its own cell (between the
:math:`\tau`-midpoints to its neighbours), so every level is computed once, by one inverse FFT per block of windows
of equal width (a ladder of 4 widths per octave). Levels left uncertified (rare: a few at the extreme edges of
some laws) are retried by windows centred on them, ``PLAN_SIGMAS`` sigma apart and halving, for up to
``REFINE_ROUNDS - 1`` more rounds.
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
LIVE_LOG = 60.0  # bins whose |psi|^n may exceed e^-LIVE_LOG are computed
TAU_STEP = 1.9  # window spacing in tau (2 would put cell boundaries at exactly the reach)
REACH_SHARE = 0.25  # share of a level's tolerance the first-round windows leave to FFT rounding (reach_sigmas)
KEEP_SIGMAS = 5.5  # refinement windows keep the levels within this many sigma of their centre
ALIAS_SIGMAS = 9.5  # window width = ALIAS_SIGMAS sigma + the farther kept level's distance + margin
PLAN_SIGMAS = 4.0  # half the spacing of the refinement windows, in sigma (halved each round)
FFT_ROUNDING = 8.0  # constant of the componentwise FFT rounding bound
SIN_ULPS = 4  # accuracy assumed of numpy's double sin, cos, log1p, atan2, exp (ulps)
S3_REL = 280 * U  # relative error bound of sin(a) - a (see _sin_minus_id), angle rounding included
GAP_INTERVALS_PER_STEP = 32
MAX_SPAN = 512  # token lattices wider than this are left to other methods
TARGET = 1e-10  # certified absolute error of each log-probability (or ULPS ulp of it, if larger)
ULPS = 4
BLOCK = 2**17  # elements per batched inverse FFT
CHUNK = 2**16  # levels untilted together
REFINE_ROUNDS = 3
GRID_POINTS = (257, 2049)  # least and most tilts of the placement grid (about 2 sqrt(n))


def ulp(x: np.ndarray) -> np.ndarray:
    r"""The unit in the last place: ``numpy.spacing(|x|)``, :math:`2^{e - 52}` for :math:`2^e \le |x| < 2^{e + 1}`.

    NaN for non-finite ``x``.

    Parameters
    ----------
    x : numpy.ndarray

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> (ulp(np.array([1.0, -3.0])) / 2.0**-52).tolist()
    [1.0, 2.0]
    """
    return np.spacing(np.abs(x))


def tolerance(logp: np.ndarray) -> np.ndarray:
    r"""Certified tolerance of each level: :math:`\max(\mathrm{TARGET}, \mathrm{ULPS}\cdot\mathrm{ulp}(\log P))`.

    NaN where :math:`\log P` is not finite.

    Parameters
    ----------
    logp : numpy.ndarray
        The log-probabilities :math:`\log P`.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> tolerance(np.array([-1.0, -2.0**30])).tolist()  # TARGET, then 4 ulp(2^30) = 2^-20
    [1e-10, 9.5367431640625e-07]
    """
    return np.maximum(TARGET, ULPS * ulp(logp))


def certified(logp: np.ndarray, bound: np.ndarray) -> np.ndarray:
    r"""Whether each ``bound`` is within :func:`tolerance` of its level.

    ``numpy.spacing`` is called only where :math:`4u|\log P| < \mathrm{bound} \le 8u|\log P|`
    (:math:`\mathrm{ulp}(x) > u|x|` decides the rest).

    Parameters
    ----------
    logp : numpy.ndarray
        The log-probabilities.
    bound : numpy.ndarray
        Their error bounds.

    Returns
    -------
    numpy.ndarray
        Boolean.

    Examples
    --------
    >>> certified(np.array([-1.0, -1.0]), np.array([1e-11, 1e-9])).tolist()
    [True, False]
    """
    mag = np.abs(logp)
    ok = (bound <= TARGET) | (bound <= ULPS * U * mag)
    amb = np.flatnonzero(~ok & (bound <= 2 * ULPS * U * mag))
    ok[amb] = bound[amb] <= tolerance(logp[amb])
    return ok


def reach_sigmas(log_p: np.ndarray, sigma: np.ndarray, skew: np.ndarray) -> np.ndarray:
    r"""Distance :math:`x` (in sigma) from a window's centre out to which its FFT rounding stays within budget.

    The rounding is about :math:`\mathrm{FFT\_ROUNDING}\cdot u \log_2(W)\, e^{x^2/2 + |\mathrm{skew}|\, x^3 / 6}`
    relative (the faster-decaying side of an Edgeworth density); it must stay within ``REACH_SHARE`` of the
    tolerance at a level of log-probability near ``log_p`` (:math:`W` about
    :math:`(2x + \mathrm{ALIAS\_SIGMAS})\,\sigma`).

    Parameters
    ----------
    log_p : numpy.ndarray
        Log-probabilities of the levels about the centres.
    sigma : numpy.ndarray
        Standard deviations of the tilted sums.
    skew : numpy.ndarray
        Their skewness (absolute value).

    Returns
    -------
    numpy.ndarray
        :math:`x` for each entry.

    Examples
    --------
    >>> round(float(reach_sigmas(np.array([-10.0]), np.array([10.0]), np.array([0.0]))[0]), 6)
    4.058458
    """
    tol = tolerance(log_p)
    x = np.full(log_p.shape, 4.0)
    for _ in range(2):
        log2_w = np.log2(np.maximum((2 * x + ALIAS_SIGMAS) * sigma, 64.0))
        budget = np.log(np.maximum(REACH_SHARE * tol / (FFT_ROUNDING * U * log2_w), 2.0))
        x = np.sqrt(2 * budget)
        for _ in range(3):  # Newton from the right on x^2 / 2 + |skew| x^3 / 6 = budget (convex, increasing)
            x -= (x * x / 2 + skew * x**3 / 6 - budget) / (x + skew * x * x / 2)
    return x


class TiltFamily:
    r"""The exponential family :math:`q_\theta(k) \propto q_k e^{\theta k}` of a token law on :math:`0, \dots, D`.

    Parameters
    ----------
    lp : numpy.ndarray
        The token log-probabilities :math:`\log q_k` (``-inf`` allowed inside).
    lp_ext : numpy.ndarray, optional
        The same in extended precision (``numpy.longdouble``).

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> fam.span, fam.support.tolist()
    (1, [0, 1])
    """

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
        self._grid: tuple | None = None

    def moments(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Mean, variance and probabilities (rows) of :math:`q_\theta` for each :math:`\theta`.

        Parameters
        ----------
        theta : numpy.ndarray
            The tilts.

        Returns
        -------
        tuple of numpy.ndarray
            ``(mean, var, probs)``.

        Examples
        --------
        >>> mean, var, probs = TiltFamily(np.log([0.5, 0.5])).moments(np.array([0.0]))
        >>> mean.tolist(), var.tolist()
        ([0.5], [0.25])
        """
        w = self.logp[None, :] + theta[:, None] * self.k[None, :]
        w -= w.max(axis=1, keepdims=True)
        e = np.exp(w)
        e /= e.sum(axis=1, keepdims=True)
        mean = e @ self.k
        var = np.einsum("tk,tk->t", e, (self.k[None, :] - mean[:, None]) ** 2)
        return mean, var, e

    def theta_for(self, targets: np.ndarray, n: int, start: np.ndarray | None = None) -> np.ndarray:
        r""":math:`\theta` with the mean of :math:`q_\theta` near each target in :math:`(0, D)`.

        Safeguarded Newton, batched, from ``start`` if given; the mean is matched to
        :math:`\min(10^{-4} \min(t, D - t), 0.01/\sqrt{n})`.

        Parameters
        ----------
        targets : numpy.ndarray
            Target means in :math:`(0, D)`.
        n : int
            The length (sets the tolerance).
        start : numpy.ndarray, optional
            Starting tilts.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> theta = TiltFamily(np.log([0.5, 0.5])).theta_for(np.array([0.75]), 10)
        >>> round(float(theta[0]), 3), round(float(np.log(3)), 3)  # e^t / (1 + e^t) = 3/4
        (1.099, 1.099)
        """
        theta = np.zeros(targets.size) if start is None else start.astype(float).copy()
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
                fallback = np.where(
                    np.isfinite(lo) & np.isfinite(hi),
                    0.5 * (lo + hi),
                    np.where(np.isfinite(lo), lo + np.maximum(1.0, np.abs(lo)), hi - np.maximum(1.0, np.abs(hi))),
                )
            ok = (newton > lo) & (newton < hi)
            theta = np.where(done, theta, np.where(ok, newton, fallback))
        return theta

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""The placement grid of tilts :math:`\theta_g`, with centres, spreads and the coordinate :math:`\tau_g`.

        The tilts are uniform, from a centre :math:`n\,\mathrm{mean}` below 1/4 to one within 1/4 of :math:`nD`;
        :math:`c_g` are the centres, :math:`s_g` the standard deviations of the tilted sums and
        :math:`\tau_g = \int dc / (x\sigma)` (trapezoids, :math:`x` from :func:`reach_sigmas`); kept for the
        family's last :math:`n`.

        Parameters
        ----------
        n : int
            The length.

        Returns
        -------
        tuple of numpy.ndarray
            ``(theta_g, c_g, s_g, tau_g)``.

        Examples
        --------
        >>> theta, c, s, tau = TiltFamily(np.log([0.5, 0.5])).grid(4)
        >>> len(theta), bool(np.all(np.diff(c) > 0) and np.all(np.diff(tau) > 0))
        (257, True)
        """
        if self._grid is None or self._grid[0] != n:
            ends = []
            for sign in (-1.0, 1.0):
                t = sign
                for _ in range(64):  # doubling: |theta| up to 2^64
                    mean = self.moments(np.array([t]))[0][0]
                    if n * (mean if sign < 0 else self.span - mean) <= 0.25:
                        break
                    t *= 2
                ends.append(t)
            theta = np.linspace(ends[0], ends[1], int(np.clip(2 * math.sqrt(n), *GRID_POINTS)))
            mean, var, probs = self.moments(theta)
            c, s = n * mean, np.sqrt(n * var)
            keep = np.concatenate([[True], np.diff(c) > 0]) & (s > 0)
            theta, c, s, mean, var, probs = theta[keep], c[keep], s[keep], mean[keep], var[keep], probs[keep]
            log_p = n * self.log_mgf(theta, np.zeros_like(theta)) - theta * c - np.log(np.maximum(s, 1.0) * 2.5)
            skew = np.abs(np.einsum("tk,tk->t", probs, (self.k[None, :] - mean[:, None]) ** 3)) / (
                np.maximum(var, 1e-300) ** 1.5 * math.sqrt(n)
            )
            unit = s * reach_sigmas(log_p, s, skew)
            tau = np.concatenate([[0.0], np.cumsum(np.diff(c) * 0.5 * (1 / unit[1:] + 1 / unit[:-1]))])
            self._grid = (n, theta, c, s, tau)
        return self._grid[1:]

    def tilts_at(self, centres: np.ndarray, n: int) -> np.ndarray:
        """Tilts whose sums are centred near ``centres`` (grid interpolation, then Newton).

        Parameters
        ----------
        centres : numpy.ndarray
            Centres of the sums, in :math:`(0, nD)`.
        n : int
            The length.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> TiltFamily(np.log([0.5, 0.5])).tilts_at(np.array([2.0]), 4).tolist()  # the untilted mean
        [0.0]
        """
        theta_g, c_g, _, _ = self.grid(n)
        return self.theta_for(centres / n, n, np.interp(centres, c_g, theta_g))

    def log_mgf(self, theta: np.ndarray, ref: np.ndarray) -> np.ndarray:
        r""":math:`\log\sum_k q_k e^{\theta (k - \mathrm{ref})}`, for ``theta`` of any shape ending in the batch.

        Parameters
        ----------
        theta : numpy.ndarray
            The tilts.
        ref : numpy.ndarray
            The reference points, broadcast against ``theta``.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> fam = TiltFamily(np.log([0.5, 0.5]))
        >>> round(float(fam.log_mgf(np.array([1.0]), np.array([0.0]))[0]), 12)  # log((1 + e) / 2)
        0.620114506958
        """
        return log_sum_exp(self.logp + theta[..., None] * (self.k - ref[..., None]), axis=-1)


def _min_sin2_table(edges: np.ndarray, d: np.ndarray) -> np.ndarray:
    r""":math:`\min_{w \in [e_i, e_{i+1}]} \sin^2(w d / 2)`, for each interval and step :math:`d` (exact: the
    minimum is 0 if the interval holds a zero :math:`2\pi m / d`, else at an end)."""
    a = edges[:-1, None] * d[None, :] / 2
    b = edges[1:, None] * d[None, :] / 2
    has_zero = np.floor(b / math.pi) >= np.ceil(a / math.pi)
    ends = np.minimum(np.sin(a) ** 2, np.sin(b) ** 2)
    return np.where(has_zero, 0.0, ends * (1 - 1e-12))


def _ranges(first: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``first_i .. first_i + lens_i - 1`` over ``i``."""
    offsets = np.cumsum(lens) - lens
    return np.repeat(first - offsets, lens) + np.arange(int(lens.sum()))


@dataclass
class WindowBatch:
    r"""Tilted windows, with their parameters and the levels ``keep_lo..keep_hi`` each one keeps.

    Attributes
    ----------
    theta : numpy.ndarray
        The tilts :math:`\theta`.
    ref_num : numpy.ndarray
        The reference means :math:`m = \mathrm{ref\_num} / 2^{\mathrm{REF\_BITS}}` (int64).
    sigma : numpy.ndarray
        Standard deviations of the tilted sums.
    width : numpy.ndarray
        Window widths :math:`W` (FFT lengths).
    start : numpy.ndarray
        First level of each window.
    keep_lo, keep_hi : numpy.ndarray
        The levels each window keeps.
    probs : numpy.ndarray
        Tilted token probabilities (double), rows.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> wb = make_windows(fam, 4, np.array([0.0]), np.array([0]), np.array([4]))
    >>> wb.width.tolist(), wb.start.tolist(), wb.ref_num.tolist() == [2**19]
    ([5], [0], True)
    """

    theta: np.ndarray
    ref_num: np.ndarray  # reference mean m = ref_num / 2^REF_BITS (int64)
    sigma: np.ndarray
    width: np.ndarray
    start: np.ndarray
    keep_lo: np.ndarray
    keep_hi: np.ndarray
    probs: np.ndarray  # tilted token probabilities (double), rows


def plan_cells(fam: TiltFamily, n: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Tilts and cells ``cell_lo..cell_hi`` tiling the levels ``lo..hi``.

    The centres are ``TAU_STEP`` apart in :math:`\tau` (so each cell reaches a little less than
    :func:`reach_sigmas` sigma either side), the cell boundaries at the :math:`\tau`-midpoints of the actual
    centres.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    lo, hi : int
        The first and last level to tile.

    Returns
    -------
    tuple of numpy.ndarray
        ``(theta, cell_lo, cell_hi)``.

    Examples
    --------
    >>> theta, cell_lo, cell_hi = plan_cells(TiltFamily(np.log([0.5, 0.5])), 4, 0, 4)
    >>> cell_lo.tolist(), cell_hi.tolist()  # one window holds the five levels
    ([0], [4])
    """
    _, c_g, _, tau_g = fam.grid(n)
    t_lo, t_hi = np.interp([lo, hi], c_g, tau_g)
    count = max(1, math.ceil((t_hi - t_lo) / TAU_STEP))
    tau_c = t_lo + (np.arange(count) + 0.5) * (t_hi - t_lo) / count
    theta = fam.tilts_at(np.interp(tau_c, tau_g, c_g), n)
    centres = n * fam.moments(theta)[0]
    tau_a = np.interp(centres, c_g, tau_g)
    bounds = np.floor(np.interp(0.5 * (tau_a[:-1] + tau_a[1:]), tau_g, c_g)).astype(np.int64)
    cell_lo = np.concatenate([[lo], np.minimum(np.maximum(bounds + 1, lo), hi + 1)])
    cell_hi = np.concatenate([np.minimum(np.maximum(bounds, lo - 1), hi), [hi]])
    cell_lo = np.minimum(cell_lo, np.minimum.accumulate(cell_lo[::-1])[::-1])  # monotone, each level once
    cell_hi = np.maximum.accumulate(cell_hi)
    cell_lo[1:] = np.maximum(cell_lo[1:], cell_hi[:-1] + 1)
    used = cell_lo <= cell_hi
    return theta[used], cell_lo[used], cell_hi[used]


def plan(fam: TiltFamily, n: int, lo: int, hi: int, spacing: float = PLAN_SIGMAS) -> np.ndarray:
    r"""Centres covering the levels ``lo..hi``: each about ``spacing`` :math:`\sigma` past the last covered level.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    lo, hi : int
        The first and last level to cover.
    spacing : float
        The spacing in standard deviations.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> plan(TiltFamily(np.log([0.5, 0.5])), 4, 0, 4).round(6).tolist()
    [1.063209]
    """
    last = n * fam.span
    _, grid_c, grid_s, _ = fam.grid(n)
    centres = []
    cur = lo
    while cur <= hi:  # each pass advances cur by at least one level
        s = float(np.interp(cur, grid_c, grid_s))
        c = min(max(cur + spacing * s, 0.5), last - 0.5)
        centres.append(c)
        reach = c + spacing * float(np.interp(c, grid_c, grid_s))
        cur = max(cur + 1, math.floor(reach) + 1)
    return np.array(centres)


def _fast_width(w: np.ndarray) -> np.ndarray:
    r"""FFT lengths at least ``w`` from the ladder :math:`\{4, 5, 6, 7.5\}\cdot 2^e` (ratios at most 1.25), so
    that few distinct widths are batched."""
    e = np.floor(np.log2(np.maximum(w, 16) / 4.0))
    rungs = np.array([4.0, 5.0, 6.0, 7.5, 8.0])
    pick = np.searchsorted(rungs, w / 2.0**e - 1e-9)
    return (rungs[np.minimum(pick, 4)] * 2.0**e).astype(np.int64)


def make_windows(
    fam: TiltFamily, n: int, theta: np.ndarray, keep_lo: np.ndarray | None = None, keep_hi: np.ndarray | None = None
) -> WindowBatch:
    r"""Reference mean, width and position of the window of each tilt.

    Each keeps ``keep_lo..keep_hi`` (default: the levels within ``KEEP_SIGMAS`` sigma of the centre); the width
    reaches ``ALIAS_SIGMAS`` sigma past the farther kept level.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    theta : numpy.ndarray
        The tilts.
    keep_lo, keep_hi : numpy.ndarray, optional
        The levels each window keeps.

    Returns
    -------
    WindowBatch

    Examples
    --------
    >>> wb = make_windows(TiltFamily(np.log([0.5, 0.5])), 4, np.array([0.0]))
    >>> wb.keep_lo.tolist(), wb.keep_hi.tolist()
    ([0], [4])
    """
    size = n * fam.span + 1
    mean, var, probs = fam.moments(theta)
    ref_num = np.round(mean * 2.0**REF_BITS).astype(np.int64)
    sigma = np.sqrt(n * var)
    centre = n * mean
    if keep_lo is None:
        keep_lo = np.maximum(np.floor(centre - KEEP_SIGMAS * sigma).astype(np.int64), 0)
    if keep_hi is None:
        keep_hi = np.minimum(np.ceil(centre + KEEP_SIGMAS * sigma).astype(np.int64), size - 1)
    # aliasing distances from the centre: at least ALIAS_SIGMAS sigma past the farther kept level
    reach = np.maximum(centre - keep_lo, keep_hi - centre)
    width = _fast_width(np.maximum(np.ceil(ALIAS_SIGMAS * sigma + reach), 2 * reach + 2) + 2 * fam.span + 16)
    full = sfft.next_fast_len(size, real=True)
    start = np.minimum(np.maximum(np.round(centre).astype(np.int64) - width // 2, keep_hi - width + 1), keep_lo)
    start = np.clip(start, 0, np.maximum(size - width, 0))
    whole = width >= size
    width = np.where(whole, full, width)
    start = np.where(whole, 0, start)
    return WindowBatch(theta, ref_num, sigma, width, start, keep_lo, keep_hi, probs)


def dropped_bound(fam: TiltFamily, n: int, wb: WindowBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Live bins and the bound :math:`\sum |\psi(w_j)|^n` over each window's dropped bins (:math:`1/W` not applied).

    .. math::

        1 - |\psi|^2 = \sum_d 4 a_d \sin^2(w d / 2) \ge g_I

    on each interval :math:`I` of :math:`[0, \pi]`; a bin of :math:`I` is dropped when
    :math:`e^{-n g_I / 2} \le e^{-\mathrm{LIVE\_LOG}}` and contributes at most that.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    wb : WindowBatch
        The windows.

    Returns
    -------
    tuple of numpy.ndarray
        ``(window index, bin, dropped bound)``: the live bins grouped by window, and one bound per window.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> win, j, dropped = dropped_bound(fam, 4, make_windows(fam, 4, np.array([0.0])))
    >>> j.tolist(), dropped.tolist()  # every bin of a five-level window is live
    ([0, 1, 2], [0.0])
    """
    span = fam.span
    dense = np.zeros((wb.theta.size, span + 1))
    dense[:, fam.support] = wb.probs
    auto = np.stack([np.einsum("tk,tk->t", dense[:, :-d], dense[:, d:]) for d in range(1, span + 1)], axis=1)
    g = 4.0 * (auto * (1 - 4 * (span + 2) * U)) @ fam.min_sin2.T  # (windows, intervals)
    log_bound = -0.5 * n * np.minimum(g, 1.0)
    w = wb.width[:, None]
    half = w // 2
    # bins of each interval: ceil(a W / 2 pi) .. floor(b W / 2 pi), each bin counted in its first interval
    first = np.minimum(np.ceil(fam.gap_edges[None, :-1] * w / (2 * math.pi) - 1e-9).astype(np.int64), half + 1)
    last = np.concatenate([first[:, 1:] - 1, half], axis=1)
    counts = np.maximum(last - first + 1, 0)
    is_live = log_bound > -LIVE_LOG
    dropped = np.sum(np.where(is_live, 0.0, counts * np.exp(log_bound)), axis=1)
    rows, cols = np.nonzero(is_live & (counts > 0))
    lens = counts[rows, cols]
    return np.repeat(rows, lens), _ranges(first[rows, cols], lens), dropped


def chernoff_tail(fam: TiltFamily, n: int, wb: WindowBatch, dist: np.ndarray, upper: bool) -> np.ndarray:
    r"""Chernoff bound on :math:`P_\theta(S - nm \ge d)` (``upper``) or :math:`P_\theta(S - nm \le -d)`, :math:`d > 0`.

    .. math::

        \min_t \exp\left(n [L(\theta + t) - L(\theta)] - t d\right)

    over a few :math:`t` about the Gaussian optimum, :math:`L` the log-MGF about :math:`m`.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    wb : WindowBatch
        The windows (their tilts and reference means).
    dist : numpy.ndarray
        The distances :math:`d > 0`, one per window.
    upper : bool
        The upper tail, else the lower.

    Returns
    -------
    numpy.ndarray
        One bound per window, at most 1.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> wb = make_windows(fam, 4, np.array([0.0]))
    >>> bound = chernoff_tail(fam, 4, wb, np.array([1.5]), True)  # P(S >= 3.5) = 1/16 for S ~ Bin(4, 1/2)
    >>> bool(1 / 16 <= bound[0] < 1)
    True
    """
    ref = wb.ref_num / 2.0**REF_BITS
    var = np.maximum(wb.sigma**2 / n, 1e-300)
    t0 = dist / (n * var)
    scales = 2.0 ** np.arange(-8, 3)
    sign = 1.0 if upper else -1.0
    t = np.minimum(t0[:, None] * scales[None, :], 700.0 / max(fam.span, 1))
    base = fam.log_mgf(wb.theta, ref)
    shifted = fam.log_mgf(wb.theta[:, None] + sign * t, np.broadcast_to(ref[:, None], t.shape))
    log_b = np.min(n * (shifted - base[:, None]) - t * dist[:, None], axis=1) + 1e-6
    return np.exp(np.minimum(log_b, 0.0))


@dataclass
class Untilt:
    r"""Per window, the untilt terms and error bound.

    Attributes
    ----------
    a_hi, a_lo : numpy.ndarray
        :math:`A = a_{\mathrm{hi}} + a_{\mathrm{lo}}`, :math:`A = n\log M - \theta(\mathrm{start} - nm)`.
    th_hi, th_lo : numpy.ndarray
        :math:`\theta = \theta_{\mathrm{hi}} + \theta_{\mathrm{lo}}` on the same binary grid.
    err : numpy.ndarray
        The absolute error of :math:`P_\theta`.
    const : numpy.ndarray
        The level-independent part of the bound on :math:`\log P`.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> win, j, spec, ut = spectrum(fam, 4, make_windows(fam, 4, np.array([0.0])))
    >>> bool(ut.err[0] < 1e-13), type(ut).__name__
    (True, 'Untilt')
    """

    a_hi: np.ndarray
    a_lo: np.ndarray
    th_hi: np.ndarray
    th_lo: np.ndarray
    err: np.ndarray
    const: np.ndarray


def _sin_minus_id(a: np.ndarray) -> np.ndarray:
    r""":math:`\sin a - a` for :math:`|a| \le \pi`, to a relative error ``S3_REL``: the Taylor series (nested, to
    :math:`a^{17}`) for :math:`|a| \le 1/2`, else the difference (:math:`|\sin a - a| \ge 0.02` there)."""
    a2 = a * a
    series = 1.0
    for m in (272.0, 210.0, 156.0, 110.0, 72.0, 42.0, 20.0):  # (2i)(2i+1) for i = 8 .. 2
        series = 1.0 - a2 / m * series
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(a) <= 0.5, -a * a2 / 6.0 * series, np.sin(a) - a)


def _tilted_law(fam: TiltFamily, n: int, wb: WindowBatch):
    r"""Tilted token law of each window in extended precision: :math:`\log M` (about the reference :math:`m`), the
    normalised probabilities, :math:`S_1 = \sum_k q_k (k - m) 2^{\mathrm{REF\_BITS}}`, the steps
    :math:`(k - m) 2^{\mathrm{REF\_BITS}}` (exact integers) and the bound ``token_err`` on the log error its
    rounding causes in :math:`P`."""
    steps = fam.support.astype(np.int64)[None, :] * 2**REF_BITS - wb.ref_num[:, None]
    expo = fam.logp_ext[None, :] + wb.theta.astype(np.longdouble)[:, None] * (
        steps.astype(np.longdouble) / np.longdouble(2**REF_BITS)
    )
    top = expo.max(axis=1, keepdims=True)
    log_m = top[:, 0] + np.log(np.exp(expo - top).sum(axis=1))
    q_ld = np.exp(expo - log_m[:, None])
    q_sum = q_ld.sum(axis=1)  # 1 up to rounding; the law powered is q / q_sum, its mass n log q_sum restored
    qn = q_ld / q_sum[:, None]
    token_err = n * U_LD * (2 * np.abs((expo - log_m[:, None]).astype(float)).max(axis=1) + 2 * fam.k.size + 8)
    s1 = np.einsum("wk,wk->w", qn, steps.astype(np.longdouble))
    return log_m + np.log(q_sum), qn, s1, steps, token_err


def _characteristic(fam: TiltFamily, wb: WindowBatch, win: np.ndarray, j: np.ndarray, qn, s1, steps):
    r""":math:`t = \psi(w_j) e^{\mathrm{i} w_j m} - 1 = t_{\mathrm{re}} + \mathrm{i}\, t_{\mathrm{im}}` at the live
    bins, in double, with error bounds.

    :math:`a_k = 2\pi j (k - m) / W` is reduced exactly in integers to :math:`a_k - 2\pi r_k` in :math:`[-\pi, \pi)`;
    :math:`t_{\mathrm{re}} = -2 \sum_k q_k \sin^2(a_k / 2)` (terms of one sign) and
    :math:`t_{\mathrm{im}} = \sum_k q_k (\sin a_k - a_k) + w_j S_1 / 2^{\mathrm{REF\_BITS}} - 2\pi \sum_k q_k r_k`:
    the first-order part :math:`\sum q_k a_k`, which cancels to :math:`w (\mathrm{mean} - m)`, is taken exactly
    from :math:`S_1`, so no error proportional to :math:`|w|` remains (it would be multiplied by :math:`n` in the
    phase)."""
    W = wb.width[win]
    modulus = W * 2**REF_BITS
    raw = j[:, None] * steps[win]
    num = raw % modulus[:, None]
    num = np.where(2 * num >= modulus[:, None], num - modulus[:, None], num)
    turns = ((raw - num) // modulus[:, None]).astype(float)
    ang = (2 * math.pi) * (num / modulus[:, None])
    qb = qn.astype(float)[win]
    half_sin = np.sin(0.5 * ang)
    s3 = _sin_minus_id(ang)
    k = fam.k.size
    t_re = -2.0 * np.einsum("lk,lk->l", qb, half_sin * half_sin)
    lin = (TWO_PI_LD * (j.astype(np.longdouble) * s1[win]) / modulus.astype(np.longdouble)).astype(float)
    wrap = 2 * math.pi * np.einsum("lk,lk->l", qb, turns)
    t_im = np.einsum("lk,lk->l", qb, s3) + (lin - wrap)
    err_re = (k + 24) * U * np.abs(t_re)
    err_im = (
        (S3_REL + (k + 3) * U) * np.einsum("lk,lk->l", qb, np.abs(s3))
        + 2 * math.pi * (k + 3) * U * np.einsum("lk,lk->l", qb, np.abs(turns))
        + 3 * U * (np.abs(lin) + np.abs(wrap))
        + 2 * U * np.abs(t_im)
    )
    return t_re, t_im, err_re, err_im


def spectrum(fam: TiltFamily, n: int, wb: WindowBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, Untilt]:
    r"""Live bins ``(window, j)``, their values :math:`\overline{X_j}` and each window's untilt terms and error bound.

    .. math::

        \log|X_j| = \frac{n}{2} \operatorname{log1p}(2 t_{\mathrm{re}} + t_{\mathrm{re}}^2 + t_{\mathrm{im}}^2),
        \qquad \arg X_j = n \operatorname{atan2}(t_{\mathrm{im}}, 1 + t_{\mathrm{re}})
        + 2\pi j (nm - \mathrm{start}) / W

    (the second term reduced exactly); :math:`\delta_j` bounds the relative error of :math:`X_j` from the bounds
    on :math:`t` and ``SIN_ULPS``-ulp transcendental functions.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    wb : WindowBatch
        The windows.

    Returns
    -------
    tuple
        ``(window index, bin, conj(X_j), Untilt)``.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> win, j, spec, ut = spectrum(fam, 4, make_windows(fam, 4, np.array([0.0])))
    >>> np.abs(spec).round(12).tolist()  # |cos(w/2)|^4 at w = 0, 2 pi/5, 4 pi/5
    [1.0, 0.428381372891, 0.009118627109]
    """
    size = n * fam.span + 1
    win, j, dropped = dropped_bound(fam, n, wb)
    W = wb.width[win]
    log_m, qn, s1, steps, token_err = _tilted_law(fam, n, wb)
    t_re, t_im, e_re, e_im = _characteristic(fam, wb, win, j, qn, s1, steps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        arg = 2 * t_re + t_re * t_re + t_im * t_im  # |psi|^2 - 1
        e_arg = (
            (2 + 2 * np.abs(t_re)) * e_re
            + 2 * np.abs(t_im) * e_im
            + e_re * e_re
            + e_im * e_im
            + 4 * U * (2 * np.abs(t_re) + t_re * t_re + t_im * t_im)
        )
        lp1 = np.log1p(arg)
        log_mag = (n / 2) * lp1
        e_mag = (n / 2) * (e_arg / (1 + arg - e_arg) + 2 * SIN_ULPS * U * np.abs(lp1)) + 2 * U * np.abs(log_mag)
        x, y = 1 + t_re, t_im
        at = np.arctan2(y, x)
        den = x * x + y * y - 2 * (e_re + U * np.abs(x) + e_im) * (np.abs(x) + np.abs(y) + 1)
        e_at = (e_im * np.abs(x) + (e_re + U * np.abs(x)) * np.abs(y)) / den + 2 * SIN_ULPS * U * np.abs(at)
        e_at = np.where(den > 0, e_at, np.inf)
        # phase of X_j: n arg psi + 2 pi j (n m - start) / W, the second term reduced exactly
        shift = n * wb.ref_num - wb.start * 2**REF_BITS  # (n m - start) 2^REF_BITS, exact
        e_w = shift % (wb.width * 2**REF_BITS)
        e_hi, e_lo = e_w // 2**REF_BITS, e_w % 2**REF_BITS
        modulus = W * 2**REF_BITS
        frac_num = (((j * e_hi[win]) % W) * 2**REF_BITS + j * e_lo[win]) % modulus
        phase = n * at + (2 * math.pi) * (frac_num / modulus)
        e_phase = n * e_at + U * np.abs(n * at) + 8 * math.pi * U + U * np.abs(phase)
        mag = np.exp(log_mag)
        spec = mag * np.cos(phase) - 1j * (mag * np.sin(phase))  # conj(X_j)
        delta = np.expm1(e_mag) + e_phase + 4 * (SIN_ULPS + 2) * U
    delta = np.where(np.isfinite(delta), delta, np.inf)
    weight = np.where((j == 0) | (2 * j == W), 1.0, 2.0)  # each bin with its Hermitian partner
    l1 = np.bincount(win, weights=weight * mag, minlength=wb.theta.size)
    with np.errstate(invalid="ignore"):
        spec_err = np.bincount(win, weights=weight * mag * delta, minlength=wb.theta.size)
    spec_err = np.where(np.isnan(spec_err), np.inf, spec_err)
    W_all = wb.width.astype(float)
    err = (
        FFT_ROUNDING * U * np.log2(W_all) * l1 * (1 + 2 * delta.max(initial=0.0, where=np.isfinite(delta)))
        + spec_err
        + 2.0 * dropped * (1 + 1e-9)
    ) / W_all
    # aliasing over the kept levels: P(S >= keep_lo + W) + P(S <= keep_hi - W)
    centre = n * wb.ref_num / 2.0**REF_BITS
    up = (wb.keep_lo + wb.width).astype(float)
    down = (wb.keep_hi - wb.width).astype(float)
    alias = np.where(up <= size - 1, chernoff_tail(fam, n, wb, np.maximum(up - centre, 1e-300), True), 0.0)
    alias += np.where(down >= 0, chernoff_tail(fam, n, wb, np.maximum(centre - down, 1e-300), False), 0.0)
    return win, j, spec, _untilt_terms(n, wb, log_m, (err + alias) * (1 + 8 * U), token_err)


def _untilt_terms(n: int, wb: WindowBatch, log_m, err: np.ndarray, token_err: np.ndarray) -> Untilt:
    r""":math:`A = n \log M - \theta (\mathrm{start} - nm)` (extended precision) and :math:`\theta` split on a common
    grid :math:`2^{-s}`: :math:`a_{\mathrm{hi}}`, :math:`\theta_{\mathrm{hi}}` multiples of :math:`2^{-s}` with
    :math:`|A| + |\theta| W < 2^{51 - s}`, so that :math:`\theta_{\mathrm{hi}} d` and
    :math:`a_{\mathrm{hi}} - \theta_{\mathrm{hi}} d` are exact for :math:`0 \le d < W`;
    :math:`a_{\mathrm{lo}} = A - a_{\mathrm{hi}}`, :math:`\theta_{\mathrm{lo}} = \theta - \theta_{\mathrm{hi}}` (at
    most :math:`2^{-(s+1)}`). The constant part of the bound: ``token_err``, the extended rounding of :math:`A` and
    the rounding of the small terms :math:`a_{\mathrm{lo}} - \theta_{\mathrm{lo}} d`."""
    dist = (wb.start * 2**REF_BITS - n * wb.ref_num).astype(np.longdouble) / np.longdouble(2**REF_BITS)
    tilt0 = wb.theta.astype(np.longdouble) * dist
    n_log_m = n * log_m
    a = n_log_m - tilt0
    big = np.abs(a.astype(float)) + np.abs(wb.theta) * wb.width + 1.0
    scale = 2.0 ** (51 - np.ceil(np.log2(big)))
    a_hi = np.round(a * scale).astype(float) / scale
    a_lo = (a - a_hi).astype(float)
    th_hi = np.round(wb.theta * scale) / scale
    th_lo = wb.theta - th_hi
    small = (1 + wb.width) / scale  # >= 2 (|a_lo| + |th_lo| W)
    const = token_err + 4 * U_LD * (np.abs(tilt0) + np.abs(n_log_m)).astype(float) + 4 * U * small
    return Untilt(a_hi, a_lo, th_hi, th_lo, err, const)


def untilt_levels(
    y: np.ndarray, d: np.ndarray, lens: np.ndarray, ut: Untilt, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\log P` and its bound at levels ``start + d`` of windows ``rows``, from the tilted values ``y``.

    .. math::

        \log P = \left((a_{\mathrm{hi}} - \theta_{\mathrm{hi}} d) + \log y\right)
        + (a_{\mathrm{lo}} - \theta_{\mathrm{lo}} d),

    the first difference exact, with bound :math:`E / (y - E) + 2u (|\log y| + |\log P|) + \mathrm{const}` (``inf``
    and ``NaN`` where :math:`y \le 2E`).

    Parameters
    ----------
    y : numpy.ndarray
        The computed tilted probabilities :math:`P_\theta`.
    d : numpy.ndarray
        Offsets of the levels from each window's start.
    lens : numpy.ndarray
        How many levels of each window.
    ut : Untilt
        The windows' untilt terms.
    rows : numpy.ndarray
        The window of each group of levels.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log P, bound)``.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> win, j, spec, ut = spectrum(fam, 4, make_windows(fam, 4, np.array([0.0])))
    >>> y = np.array([1, 4, 6, 4, 1]) / 16  # the exact tilted law at theta = 0
    >>> logp, bound = untilt_levels(y, np.arange(5), np.array([5]), ut, np.array([0]))
    >>> (np.exp(logp) * 16).round(12).tolist(), bool(bound.max() < 1e-12)
    ([1.0, 4.0, 6.0, 4.0, 1.0], True)
    """

    def rep(a: np.ndarray) -> np.ndarray:
        return np.repeat(a[rows], lens)

    with np.errstate(divide="ignore", invalid="ignore"):
        log_y = np.log(y)
        df = d.astype(float)
        logp = ((rep(ut.a_hi) - rep(ut.th_hi) * df) + log_y) + (rep(ut.a_lo) - rep(ut.th_lo) * df)
        err = rep(ut.err)
        bound = err / (y - err) + 2 * U * (np.abs(log_y) + np.abs(logp)) + rep(ut.const)
    good = y > 2 * err
    return np.where(good, logp, np.nan), np.where(good, bound, np.inf)


def evaluate(fam: TiltFamily, n: int, wb: WindowBatch, out: np.ndarray, cert: np.ndarray, disjoint: bool) -> None:
    r"""Compute the kept levels of every window and store them in ``out`` (:math:`\log P`) and ``cert`` (bounds).

    Overwritten if the windows keep disjoint levels, else where the new bound is smaller. One inverse FFT per
    block of windows of equal width; the levels are untilted in chunks of about ``CHUNK``.

    Parameters
    ----------
    fam : TiltFamily
        The token law's family.
    n : int
        The length.
    wb : WindowBatch
        The windows.
    out : numpy.ndarray
        :math:`\log P` of every level, updated in place.
    cert : numpy.ndarray
        The bounds, updated in place.
    disjoint : bool
        Whether the windows keep disjoint levels.

    Examples
    --------
    >>> fam = TiltFamily(np.log([0.5, 0.5]))
    >>> out, cert = np.full(5, np.nan), np.full(5, np.inf)
    >>> evaluate(fam, 4, make_windows(fam, 4, np.array([0.0])), out, cert, True)
    >>> (np.exp(out) * 16).round(9).tolist(), bool(cert.max() < 1e-12)
    ([1.0, 4.0, 6.0, 4.0, 1.0], True)
    """
    win, j, spec, ut = spectrum(fam, n, wb)
    windows = np.arange(wb.theta.size)
    first_bin = np.searchsorted(win, windows)
    bin_counts = np.searchsorted(win, windows, side="right") - first_bin
    lo = (wb.keep_lo - wb.start).tolist()
    hi = (wb.keep_hi - wb.start + 1).tolist()
    pending: list[int] = []
    values: list[np.ndarray] = []

    def flush() -> None:
        rows = np.array(pending)
        lens = wb.keep_hi[rows] - wb.keep_lo[rows] + 1
        d = _ranges(wb.keep_lo[rows] - wb.start[rows], lens)
        logp, bound = untilt_levels(np.concatenate(values), d, lens, ut, rows)
        levels = d + np.repeat(wb.start[rows], lens)
        pending.clear()
        values.clear()
        if not disjoint:
            better = bound < cert[levels]
            order = np.argsort(-bound[better], kind="stable")  # the smallest bound written last
            levels, logp, bound = levels[better][order], logp[better][order], bound[better][order]
        out[levels] = logp
        cert[levels] = bound

    count = 0
    for w in np.unique(wb.width):
        group = np.flatnonzero(wb.width == w)
        per_block = max(1, BLOCK // int(w))
        for b0 in range(0, group.size, per_block):
            blk = group[b0 : b0 + per_block]
            bins = _ranges(first_bin[blk], bin_counts[blk])
            x = np.zeros((blk.size, int(w) // 2 + 1), dtype=complex)
            x[np.repeat(np.arange(blk.size), bin_counts[blk]), j[bins]] = spec[bins]
            y = sfft.irfft(x, int(w), axis=1)
            for r, i in enumerate(blk.tolist()):
                values.append(y[r, lo[i] : hi[i]])
                pending.append(i)
                count += hi[i] - lo[i]
            if count >= CHUNK:
                flush()
                count = 0
    if pending:
        flush()


def certified_levels(
    lp: np.ndarray, n: int, settled: np.ndarray | None = None, lp_ext: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r""":func:`certified_power`, with the mask of the levels left uncertified (``settled`` ones excluded).

    The first round tiles every level, the refinement rounds recheck only the levels still to do (a bound only
    ever decreases).

    Parameters
    ----------
    lp : numpy.ndarray
        The token log-probabilities on :math:`0, \dots, D` (``lp[0]``, ``lp[-1]`` finite).
    n : int
        The length.
    settled : numpy.ndarray, optional
        Levels that need no window.
    lp_ext : numpy.ndarray, optional
        The token law in extended precision.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log P, bound, uncertified mask)``.

    Examples
    --------
    >>> logp, bound, todo = certified_levels(np.log([0.5, 0.5]), 4)
    >>> (np.exp(logp) * 16).round(9).tolist(), todo.any()
    ([1.0, 4.0, 6.0, 4.0, 1.0], np.False_)
    """
    fam = TiltFamily(lp, lp_ext)
    size = n * fam.span + 1
    out = np.full(size, np.nan)
    cert = np.full(size, np.inf)
    theta, cell_lo, cell_hi = plan_cells(fam, n, 0, size - 1)
    for s in range(0, theta.size, 4096):
        part = slice(s, s + 4096)
        evaluate(fam, n, make_windows(fam, n, theta[part], cell_lo[part], cell_hi[part]), out, cert, True)
    todo = ~certified(out, cert)
    if settled is not None:
        todo &= ~settled
    spacing = PLAN_SIGMAS
    for _ in range(REFINE_ROUNDS - 1):
        idx = np.flatnonzero(todo)
        if not idx.size:
            break
        centres = np.concatenate([plan(fam, n, a, b, spacing) for a, b in _runs(idx)])
        for s in range(0, centres.size, 4096):
            theta = fam.tilts_at(centres[s : s + 4096], n)
            evaluate(fam, n, make_windows(fam, n, theta), out, cert, False)
        todo[idx] = ~certified(out[idx], cert[idx])
        spacing /= 2
    return out, cert, todo


def certified_power(
    lp: np.ndarray, n: int, settled: np.ndarray | None = None, lp_ext: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\log P(S_n = K)` for :math:`K = 0, \dots, nD` by certified tilted windows, with each level's bound.

    The bound is ``inf`` where no window certified it, with ``NaN`` there. ``lp[0]`` and ``lp[-1]`` must be finite.
    ``settled`` marks levels that need no window (unreachable ones); ``lp_ext`` is the token law in extended
    precision (``numpy.longdouble``), when known more accurately than its double logs.

    Parameters
    ----------
    lp : numpy.ndarray
        The token log-probabilities on :math:`0, \dots, D`.
    n : int
        The length.
    settled : numpy.ndarray, optional
        Levels that need no window.
    lp_ext : numpy.ndarray, optional
        The token law in extended precision.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log P, bound)``.

    Examples
    --------
    >>> logp, bound = certified_power(np.log([0.5, 0.5]), 4)  # Binomial(4, 1/2) = (1, 4, 6, 4, 1) / 16
    >>> (np.exp(logp) * 16).round(9).tolist(), bool(np.all(certified(logp, bound)))
    ([1.0, 4.0, 6.0, 4.0, 1.0], True)
    """
    out, cert, _ = certified_levels(lp, n, settled, lp_ext)
    return out, cert


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of consecutive integers in the sorted ``idx``."""
    breaks = np.flatnonzero(np.diff(idx) > 1)
    return (
        list(zip(idx[np.r_[0, breaks + 1]].tolist(), idx[np.r_[breaks, idx.size - 1]].tolist(), strict=True))
        if idx.size
        else []
    )
