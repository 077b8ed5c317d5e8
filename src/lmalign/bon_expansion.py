r"""Best-of-:math:`e^{n\delta}` on a lattice: the next-order term of its mean beyond the lattice Gumbel expansion.

Chapter 6 expands the mean of best-of-:math:`N`, :math:`N = e^{n\delta}`, as :math:`nx^* + \bar u_n` (the lattice
Gumbel law of :func:`lmalign.best_of_n.lattice_gumbel`), which replaces :math:`N\,P_p(S_n \ge s)` by
:math:`e^{-\lambda u - a_n}`, :math:`u = s - nx^*`. The exact tail at a lattice point :math:`s` is

.. math::

    \log N P_p(S_n \ge s) = n\delta - nI(s/n) + \log\frac{h}{\sigma_s\sqrt{2\pi n}\,(1 - e^{-\theta_s h})}
    + \frac{b_1(s/n)}{n} + \frac{b_2(s/n)}{n^2} + \dots,

with :math:`I` the Cramér rate of the token law, :math:`\theta_s = \theta(s/n)`, :math:`\sigma_s^2 =
\kappa''(\theta_s)` and :math:`b_k` of :mod:`lmalign.tail_expansion` (at offset 0). Keeping the terms up to
:math:`b_1/n` gives :math:`\log N T_1(s) = -\lambda u - a_n + \varepsilon(s)`; with
:math:`G(s) = e^{-N T(s)}` the law of the maximum below :math:`s` (up to :math:`(1 - T)^N = e^{-NT}(1 + O(NT^2))`),
summation by parts gives the next-order term of the mean

.. math::

    D_n = h \sum_s \big(e^{-e^{-\lambda u - a_n}} - e^{-N T_1(s)}\big) = O\Big(\frac{(\log n)^2}{n}\Big),

and the terms it leaves, :math:`b_2/n^2 + b_3/n^3` in the exponent, move the mean by at most

.. math::

    M_n = h \sum_s e^{-N T_1(s)}\, N T_1(s) \Big(\frac{B_2(s/n)}{n^2} + \frac{B_3(s/n)}{n^3}\Big)

to first order, :math:`B_k \ge |b_k|` the majorants. The sums run over the lattice points where
:math:`e^{-30} \le e^{-\lambda u - a_n} \le 40`, outside which both laws agree to :math:`e^{-30}`.
"""

from __future__ import annotations

import math

import numpy as np

from lmalign import _validate
from lmalign.law import RewardLaw, require_law
from lmalign.ldp import aligned_rate, cgf_derivative, theta_of_mean
from lmalign.tail_expansion import tail_corrections

MAX_WINDOW_POINTS = 1_000  # lattice points of the window, about 34 / (lam step); about 7 ms each


def bon_mean_next_order(token: RewardLaw, lam: float, n: int, step: float, v0: float) -> tuple[float, float]:
    r"""The next-order term :math:`D_n` of the mean of best-of-:math:`e^{n\delta}` and the bound :math:`M_n` on
    what it leaves (module docstring).

    ``E = n x* + u_bar + D_n`` up to :math:`M_n`, with :math:`\delta = D(p_\lambda\Vert p)` the KL of the tilt,
    :math:`x^* = \kappa'(\lambda)`, ``u_bar`` of :func:`lmalign.best_of_n.lattice_gumbel`.

    Parameters
    ----------
    token : RewardLaw
        The token law :math:`p`, its rewards on the lattice :math:`v_0 + \mathrm{step}\,\mathbb{Z}`.
    lam : float
        The tilt :math:`\lambda_\delta > 0` of the budget.
    n : int
        The length.
    step : float
        The lattice step :math:`h` (the largest).
    v0 : float
        A lattice point of the token rewards.

    Returns
    -------
    tuple of float
        ``(D_n, M_n)``.

    Raises
    ------
    ValueError
        If ``token`` is not a law, ``lam`` or ``step`` is not positive, ``n`` is not a positive integer, the window
        exceeds ``MAX_WINDOW_POINTS`` points, or a point of the window lies outside the open range from the mean of
        :math:`p` to the largest reward (the expansion does not apply there: the length is too short).

    Examples
    --------
    >>> token = RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2])
    >>> d_n, m_n = bon_mean_next_order(token, 1.0, 1000, 1.0, 0.0)
    >>> bool(m_n < abs(d_n) / 100), round(d_n, 4)
    (True, -0.0088)
    """
    require_law(token)
    lam = _validate.real_scalar(lam, "lam")
    step = _validate.real_scalar(step, "step")
    if not (lam > 0 and step > 0):
        raise ValueError(f"lam and step must be positive, got {lam!r} and {step!r}")
    n = _validate.positive_int(n, "n")
    v0 = _validate.real_scalar(v0, "v0")
    x_star = cgf_derivative(token, lam, 1)
    sigma = math.sqrt(cgf_derivative(token, lam, 2))
    delta = float(aligned_rate(token, 0.0, x_star))
    lam_step = lam * step
    a_n = math.log(sigma * math.sqrt(2 * math.pi * n) * -math.expm1(-lam_step) / step)
    # lattice points s = n v0 + k step with -lam u - a_n in [-30, log 40]
    k_lo = math.floor((n * x_star - (a_n + math.log(40.0)) / lam - n * v0) / step)
    k_hi = math.ceil((n * x_star - (a_n - 30.0) / lam - n * v0) / step)
    if k_hi - k_lo + 1 > MAX_WINDOW_POINTS:
        raise ValueError(f"lam * step = {lam_step!r}: the window would exceed {MAX_WINDOW_POINTS} lattice points")
    s = n * v0 + step * np.arange(k_lo, k_hi + 1, dtype=float)
    x = s / n
    mean_p, top = token.mean(), float(token.values[-1])
    if not (x[0] > mean_p and x[-1] < top):
        raise ValueError(
            f"n = {n}: the window x in [{x[0]!r}, {x[-1]!r}] leaves the open range ({mean_p!r}, {top!r}) where the "
            "tail expansion applies; the length is too short for this budget"
        )
    log_nt0 = -lam * (s - n * x_star) - a_n
    log_nt1 = np.empty_like(s)
    big = np.empty_like(s)
    for i, xi in enumerate(x.tolist()):
        theta = theta_of_mean(token, xi)
        sigma_s = math.sqrt(cgf_derivative(token, theta, 2))
        b, big_b = tail_corrections(token, 0.0, xi, step, 0.0, True, order=3)
        prefactor = math.log(step / (sigma_s * math.sqrt(2 * math.pi * n) * -math.expm1(-theta * step)))
        log_nt1[i] = n * (delta - float(aligned_rate(token, 0.0, xi))) + prefactor + b[0] / n
        big[i] = big_b[1] / n**2 + big_b[2] / n**3
    g0, g1 = np.exp(-np.exp(log_nt0)), np.exp(-np.exp(log_nt1))
    d_n = step * math.fsum((g0 - g1).tolist())
    m_n = step * math.fsum((g1 * np.exp(log_nt1) * big).tolist())
    return d_n, m_n
