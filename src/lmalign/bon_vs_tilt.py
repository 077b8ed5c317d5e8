r"""How far best-of-N is from the tilted family at finite length.

Its log density ratio to the reference, :math:`\log(\pi_{\mathrm{BoN}}/p) = \log\frac{F^N - F_-^N}{F - F_-}`, and
its information projection on the tilts, :math:`\min_\lambda D(\pi_{\mathrm{BoN}}\Vert p_\lambda)`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from lmalign.best_of_n import best_of_n
from lmalign.law import RewardLaw, require_law
from lmalign.subgaussian import unit_scaled

__all__ = ["bon_log_ratio", "bon_tilt_projection", "bon_affine_residual"]


def bon_log_ratio(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> np.ndarray:
    r"""The log density ratio of best-of-N to the reference at every level of ``law``.

    .. math::

        \log\frac{\pi_{\mathrm{BoN}}(v)}{p(v)} = \log\frac{F(v)^N - F_-(v)^N}{F(v) - F_-(v)},

    ``-inf`` where the best-of-N mass is below the smallest representable log.

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
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> bon_log_ratio(RewardLaw([0.0, 1.0], [0.5, 0.5]), n=2).round(12).tolist()  # log(1/2), log(3/2)
    [-0.69314718056, 0.405465108108]
    """
    require_law(law)
    bon = best_of_n(law, n=n, log_n=log_n)
    out = np.full(len(law), -np.inf)
    idx = np.searchsorted(law.values, bon.values)
    out[idx] = bon.logprobs - law.logprobs[idx]
    return out


def bon_tilt_projection(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> tuple[float, float]:
    r"""The information projection of best-of-N on the tilts: :math:`(\lambda, D)`.

    .. math::

        D = \min_\lambda D(\mathrm{BoN}\Vert p_\lambda) = D(\mathrm{BoN}\Vert p) - D(p_\lambda\Vert p),

    attained where the tilt's mean equals best-of-N's
    (:math:`\frac{d}{d\lambda} D(\mathrm{BoN}\Vert p_\lambda) = \kappa'(\lambda) - E_{\mathrm{BoN}} r`).

    The mean is matched through the deficit ``top - mean``, formed in log space on both sides, so it stays exact
    when best-of-N is within rounding of the top level. ``(inf, 0)`` when best-of-N is the top level itself.
    Solved on the law rescaled by a power of two ``a`` (values within ``(-2, 2)``: ``D`` is unchanged and
    :math:`\lambda = \lambda' / a`, ``inf`` beyond the float range), so values near :math:`\pm 10^{308}` or
    subnormal spreads do not overflow.

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
    tuple of float
        ``(lam, D)``.

    Raises
    ------
    ValueError
        If ``law`` is not a :class:`~lmalign.law.RewardLaw`, or ``n``/``log_n`` are refused.

    Examples
    --------
    >>> from lmalign.law import RewardLaw
    >>> lam, d = bon_tilt_projection(RewardLaw([0.0, 1.0], [0.5, 0.5]), n=2)  # BoN = (1/4, 3/4) is the tilt log 3
    >>> round(float(lam), 12), round(float(np.log(3)), 12), d < 1e-15
    (1.098612288668, 1.098612288668, True)
    """
    require_law(law)
    scaled, a = unit_scaled(law)
    bon = best_of_n(scaled, n=n, log_n=log_n)
    if len(law) == 1 or len(bon) == 1:
        return (0.0 if len(law) == 1 else math.inf), 0.0
    lam = _projection_lambda(scaled, bon)
    return lam / a, bon.kl(scaled.tilt(lam))


def _projection_lambda(law: RewardLaw, bon: RewardLaw) -> float:
    r"""The :math:`\lambda \ge 0` with :math:`\kappa'(\lambda) = E_{\mathrm{BoN}} r`, for a law with values in
    :math:`(-2, 2)`: bracket by doubling :math:`s = \lambda\cdot\mathrm{span}` (at most 1100 times; ``inf`` if the
    mean is beyond every finite tilt), then Brent."""
    top = law.values[-1]
    span = top - law.values[0]
    below = bon.values < top
    target = float(logsumexp(bon.logprobs[below] + np.log(top - bon.values[below])))  # log(top - E_BoN r)
    gaps = np.log(top - law.values[:-1])

    def log_deficit(s: float) -> float:  # log(top - kappa'(lam)), lam = s / span
        lw = law.logprobs + (s / span) * (law.values - top)
        return float(logsumexp(lw[:-1] + gaps) - logsumexp(lw))

    if log_deficit(0.0) <= target:
        return 0.0
    hi = 1.0
    for _ in range(1100):
        if log_deficit(hi) <= target:
            break
        hi *= 2.0
    else:
        return math.inf
    s = brentq(lambda x: log_deficit(x) - target, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return s / span


def bon_affine_residual(law: RewardLaw, n: int | None = None, log_n: float | None = None) -> float:
    r"""Largest deviation of :math:`\ell_k = \log(\pi_{\mathrm{BoN}}/p)` from its least-squares affine fit.

    The fit is affine in the reward levels :math:`v_k`, :math:`\ell_k` as from :func:`bon_log_ratio`, over the
    levels where :math:`\ell_k` is finite: 0 (to rounding) exactly when best-of-N is a tilt :math:`p_\lambda` (then
    :math:`\ell_k = \lambda v_k - \kappa(\lambda)`), so a value far from 0 certifies that it is not one.

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
    >>> law = RewardLaw([0.0, 1.0, 2.0], [1 / 3, 1 / 3, 1 / 3])  # l = log(1/3), 0, log(5/3): off a line
    >>> round(bon_affine_residual(law, n=2), 12), round(float(-np.log(5 / 9) / 3), 12)
    (0.195928888301, 0.195928888301)
    """
    ell = bon_log_ratio(law, n=n, log_n=log_n)
    finite = np.isfinite(ell)
    v = law.values[finite]
    design = np.c_[np.ones_like(v), v]
    coef, *_ = np.linalg.lstsq(design, ell[finite], rcond=None)
    return float(np.max(np.abs(ell[finite] - design @ coef)))
