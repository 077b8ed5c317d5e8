r"""The characteristic function of a lattice token law away from its principal frequency: when the expansions on
the lattice's step apply at a given length.

The total reward of :math:`n` i.i.d. tokens whose rewards lie on the lattice :math:`v = u_0 + hk` (integers
:math:`k` with :math:`\gcd 1`) lives on the step :math:`h`. Its local law, and the lattice expansions built on it
(the Bahadur-Ranga Rao term of chapter 4, the lattice Gumbel law of best-of-:math:`N` in chapter 6), come from
the frequencies :math:`\omega` near 0 of the characteristic function of the (tilted) token law,

.. math::

    \varphi(\omega) = \sum_j q_j e^{i\omega v_j}.

The other frequencies up to :math:`\pi/h` add a term of order :math:`\rho^n`, with

.. math::

    \rho = \max\Big\{|\varphi(\omega)| : \frac{2\pi}{hK} \le \omega \le \frac{\pi}{h}\Big\},

:math:`K` the number of lattice points the token rewards span (a coarser lattice of step :math:`mh`,
:math:`m \le K`, shows as a peak at :math:`2\pi/(mh)`). A token of tiny tilted probability that the step
:math:`h` needs puts such a peak just below 1: at lengths with :math:`n(-\log\rho)` small the sum lives on the
coarser lattice, and the expansions on the step :math:`h` do not apply. :func:`nonprincipal_modulus` gives
:math:`\rho` with a certificate; the book claims a lattice expansion at length :math:`n` only where
:math:`n(-\log\rho) \ge` ``LATTICE_REGIME``, so that the other frequencies add less than :math:`e^{-30}`.
"""

from __future__ import annotations

import math

import numpy as np

from lmalign import _validate
from lmalign.law import RewardLaw, require_law
from lmalign.memoryless import lattice_steps

__all__ = ["LATTICE_REGIME", "nonprincipal_modulus"]

LATTICE_REGIME = 30.0
r"""The least :math:`n(-\log\rho)` at which the book claims a lattice expansion: :math:`\rho^n \le e^{-30}`."""

_FIRST_GRID = 1024  # intervals of the first pass over theta = omega h in [2 pi / K, pi]
_SPLIT = 16  # each interval kept by a pass is split into this many
_MAX_INTERVALS = 200_000  # kept intervals per pass: past this the bound is returned as it stands
_ROUNDS = 40  # passes: each narrows the kept intervals 16-fold


def _squared_modulus(omega: np.ndarray, d: np.ndarray, q: np.ndarray) -> np.ndarray:
    r""":math:`|\sum_j q_j e^{i\omega d_j}|^2` at each ``omega``."""
    phase = np.outer(omega, d)
    return (np.cos(phase) @ q) ** 2 + (np.sin(phase) @ q) ** 2


def nonprincipal_modulus(law: RewardLaw, lam: float = 0.0, tol: float = 1e-9) -> float:
    r"""A certified upper bound on :math:`\rho`, the largest modulus of the characteristic function of the tilted
    token law away from its principal frequency (module docstring).

    The law :math:`p` lies on the lattice :math:`v = u_0 + hk` of :func:`lmalign.memoryless.lattice_steps`,
    :math:`k` spanning :math:`K` lattice points; :math:`q \propto p\,e^{\lambda v}` is its tilt by ``lam`` (levels
    whose tilted mass underflows count with mass 0 on the same lattice). The result :math:`\bar\rho` satisfies

    .. math::

        \rho \le \bar\rho \le \rho + \mathtt{tol} + 10^{-12},
        \qquad \rho = \max_{2\pi/(hK) \le \omega \le \pi/h} \Big|\sum_j q_j e^{i\omega v_j}\Big|.

    Branch and bound on :math:`g = |\varphi|^2` as a function of :math:`\theta = \omega h \in [2\pi/K, \pi]`
    (:math:`\rho` does not depend on :math:`h`), which is smooth: with :math:`d_j = k_j - \bar k` (:math:`\bar k`
    the tilted mean), :math:`|\varphi'| \le M_1 = \sum_j q_j|d_j|` and
    :math:`|\varphi''| \le M_2 = \sum_j q_j d_j^2`, so :math:`g'' = 2\operatorname{Re}(\varphi''\bar\varphi) +
    2|\varphi'|^2 \ge -C`, :math:`C = 2(M_2 + M_1^2)`, and on an interval :math:`[a, b]`

    .. math::

        g \le \max(g(a), g(b)) + \frac C8 (b - a)^2

    (the linear interpolation's error). Intervals whose bound exceeds :math:`(m + \mathtt{tol})^2`, :math:`m` the
    largest modulus seen, are split 16-fold, at most 40 times; then :math:`m + \mathtt{tol}` is returned. The
    :math:`10^{-12}` covers the rounding of the sums (:math:`\sum_j q_j = 1`). Where the passes stop before every
    bound is below (more than 200,000 intervals kept, or 40 passes), the largest bound over the kept intervals is
    returned, which is still an upper bound.

    Parameters
    ----------
    law : RewardLaw
        The token law :math:`p`, with at least two levels on a lattice.
    lam : float, optional
        The tilt :math:`\lambda` (default 0, the law itself), any real.
    tol : float, optional
        How far above :math:`\rho` the bound may lie, at least :math:`10^{-14}` (default :math:`10^{-9}`).

    Returns
    -------
    float
        :math:`\bar\rho \in [0, 1]`. The lattice expansions on the step :math:`h` apply at length :math:`n` when
        :math:`n(-\log\bar\rho)` is large (the chapters ask at least 30: the neglected term is below
        :math:`e^{-30}`).

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, has a single level or values on no lattice, or if
        ``lam`` or ``tol`` is not a finite real (``tol`` below :math:`10^{-14}` included).

    Examples
    --------
    Two levels a step apart: :math:`\rho = |\varphi(\pi/h)| = |q_0 - q_1|`.

    >>> from lmalign.law import RewardLaw
    >>> round(nonprincipal_modulus(RewardLaw([0.0, 1.0], [0.3, 0.7])), 6)
    0.4

    The step 0.5 comes only from a token that a steep tilt makes rare: at :math:`\omega = 2\pi` the rewards 2 and 3
    turn once, 0.5 half a turn, so :math:`\rho = 1 - 2q(0.5)`, close to 1.

    >>> law = RewardLaw([0.5, 2.0, 3.0], [0.03, 0.84, 0.13])
    >>> q_half = float(law.tilt(4.5).probs[0])
    >>> 0 <= nonprincipal_modulus(law, 4.5) - (1 - 2 * q_half) <= 2e-9
    True
    """
    require_law(law)
    lam = _validate.real_scalar(lam, "lam")
    tol = _validate.real_scalar(tol, "tol")
    if not tol >= 1e-14:
        raise ValueError(f"tol={tol!r}: must be at least 1e-14")
    if len(law) < 2:
        raise ValueError("the law has a single level: there is no lattice step")
    lattice = lattice_steps(law.values)
    if lattice is None:
        raise ValueError("the law's values lie on no lattice (see lmalign.memoryless.lattice_steps)")
    k = lattice[2]
    tilted = law.tilt(lam)
    q = np.zeros(len(law))
    q[np.searchsorted(law.values, tilted.values)] = tilted.probs
    # in units of the step (theta = omega h): the same moduli, integers d, nothing to overflow
    d = k - float(q @ k)  # centred: |phi| is unchanged, the derivative bounds smallest
    curvature = 2.0 * (float(q @ (d * d)) + float(q @ np.abs(d)) ** 2)
    lo, hi = 2 * math.pi / (int(k[-1]) + 1), math.pi
    edges = np.linspace(lo, hi, _FIRST_GRID + 1) if hi > lo else np.array([lo, hi])
    values = _squared_modulus(edges, d, q)
    left, right, g_left, g_right = edges[:-1], edges[1:], values[:-1], values[1:]
    best = math.sqrt(float(values.max()))
    upper = 0.0  # the largest bound of the intervals still kept when the passes stop early
    for passes in range(_ROUNDS + 1):
        bound = np.maximum(g_left, g_right) + curvature / 8 * (right - left) ** 2
        keep = bound > (best + tol) ** 2  # an interval dropped lies below best + tol
        if not keep.any():
            break
        if passes == _ROUNDS or keep.sum() * _SPLIT > _MAX_INTERVALS:
            upper = math.sqrt(float(bound[keep].max()))
            break
        a, b = left[keep], right[keep]
        grid = a[:, None] + (b - a)[:, None] * np.linspace(0.0, 1.0, _SPLIT + 1)[None, :]
        inner = _squared_modulus(grid[:, 1:-1].ravel(), d, q).reshape(grid.shape[0], _SPLIT - 1)
        g = np.concatenate([g_left[keep][:, None], inner, g_right[keep][:, None]], axis=1)
        best = max(best, math.sqrt(float(inner.max())))
        left, right = grid[:, :-1].ravel(), grid[:, 1:].ravel()
        g_left, g_right = g[:, :-1].ravel(), g[:, 1:].ravel()
    return min(1.0, max(upper, best + tol) + 1e-12)
