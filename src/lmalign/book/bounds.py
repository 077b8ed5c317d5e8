"""Rounding bounds the chapters use as tolerances of quantities computed in double precision."""

from __future__ import annotations

import numpy as np

from lmalign.law import RewardLaw, align

EPS = float(np.finfo(float).eps)


def kl_rounding(pi: RewardLaw, q: RewardLaw) -> float:
    r"""Rounding bound of ``pi.kl(q)``, the relative entropy :math:`D(\pi\|q)` from stored log-probabilities.

    .. math::

        B(\pi, q) = 64\,\varepsilon \sum_k \pi_k\,|d_k|\,\bigl(1 + |\log \pi_k| + |\log q_k|\bigr),
        \qquad d_k = \log \pi_k - \log q_k,

    summed over the levels of both laws, with :math:`\varepsilon` the double-precision machine epsilon and
    the terms where :math:`\pi_k = 0` taken as 0. Each stored logarithm is within a few units of
    :math:`\varepsilon` times its size of the exact one, so :math:`d_k` moves by
    :math:`\delta_k = O(\varepsilon(1 + |\log \pi_k| + |\log q_k|))`. ``RewardLaw.kl`` sums
    :math:`q_k g(d_k)` with :math:`g(d) = d e^d - (e^d - 1) \ge 0` and :math:`g'(d) = d e^d`, so it moves by
    about :math:`\sum_k \pi_k d_k \delta_k`: the bound is relative to the size of the log-ratios, and
    vanishes when the two laws are equal.

    Parameters
    ----------
    pi, q : RewardLaw
        The two laws, on the same levels or on nested ones (a level missing from a law has mass 0).

    Returns
    -------
    float
        :math:`B(\pi, q) \ge 0`; ``inf`` where :math:`\pi_k > 0 = q_k` (then the divergence is infinite).

    Examples
    --------
    >>> from lmalign import RewardLaw
    >>> law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> kl_rounding(law, law)
    0.0
    >>> 0 < kl_rounding(law.tilt(1.0), law) < 1e-12
    True
    """
    _, lp, lq = align(pi, q)
    live = np.isfinite(lp)
    d = np.where(live, lp - np.where(live, lq, 0.0), 0.0)
    weight = np.abs(d) * (1 + np.abs(np.where(live, lp, 0.0)) + np.abs(np.where(live, lq, 0.0)))
    return 64 * EPS * float(np.sum(np.exp(lp) * weight))
