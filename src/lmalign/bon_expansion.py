r"""Best-of-:math:`e^{n\delta}` on a lattice: the next-order terms beyond chapter 6's lattice Gumbel expansion.

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
:math:`e^{-30} \le e^{-\lambda u - a_n} \le 40`, outside which both laws agree to :math:`e^{-30}`. The two
relative entropies follow from the same law of the maximum and the local expansion of
:math:`\log\phi_{n\delta}` (:func:`bon_kl_next_order`); :func:`bon_next_order` returns all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmalign import _validate
from lmalign.law import RewardLaw, require_law
from lmalign.ldp import aligned_rate, cgf_derivative, theta_of_mean
from lmalign.tail_expansion import local_corrections, tail_corrections

MAX_WINDOW_POINTS = 1_000  # lattice points of the window, about 34 / (lam step); about 7 ms each


def _window(token: RewardLaw, lam: float, n: int, step: float, v0: float) -> dict:
    """The lattice window and the two tails of the module docstring: ``s``, ``u = s - n x*``, ``sigma``,
    ``log_nt0`` (the lattice Gumbel tail), ``log_nt1`` (to order b_1/n), ``big`` (B_2/n^2 + B_3/n^3)."""
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
    return dict(s=s, u=s - n * x_star, sigma=sigma, a_n=a_n, log_nt0=log_nt0, log_nt1=log_nt1, big=big)


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
    return _mean_terms(_window(token, lam, n, step, v0), step)


def _mean_terms(w: dict, step: float) -> tuple[float, float]:
    log_nt0, log_nt1, big = w["log_nt0"], w["log_nt1"], w["big"]
    g0, g1 = np.exp(-np.exp(log_nt0)), np.exp(-np.exp(log_nt1))
    d_n = step * math.fsum((g0 - g1).tolist())
    m_n = step * math.fsum((g1 * np.exp(log_nt1) * big).tolist())
    return d_n, m_n


def bon_kl_next_order(token: RewardLaw, lam: float, n: int, step: float, v0: float) -> tuple[float, float]:
    r"""The next-order term of :math:`D(\pi_n\Vert\phi_{n\delta})` beyond chapter 6's expansion
    :math:`\log\frac{\sigma\sqrt{2\pi n}}{h} - H_n`, and a bound on what it leaves.

    The expansion takes the law of the maximum from the lattice Gumbel tail and :math:`\log\phi_{n\delta}(s)` as the
    constant :math:`\log\frac{h}{\sigma\sqrt{2\pi n}}`. To one more order, the law :math:`\pi^{(1)}` comes from the
    tail :math:`T_1` (module docstring) and :math:`\log\phi_{n\delta}(s) = \log\frac{h}{\sigma\sqrt{2\pi n}} +
    c_1(v)/n` with :math:`v = (s - nx^*)/\sigma` (:func:`lmalign.tail_expansion.local_corrections` at
    :math:`\theta = \lambda`). The term is

    .. math::

        D^{\phi}_n = \sum_s \pi^{(1)}\Big(\log \pi^{(1)} - \frac{c_1(v)}{n}\Big) - \sum_s \pi^{(0)}\log\pi^{(0)}
        + \log\frac{h}{\sigma\sqrt{2\pi n}}\Big(\sum_s\pi^{(0)} - \sum_s\pi^{(1)}\Big),

    and what it leaves is at most, to first order,

    .. math::

        M^{\phi}_n = \sum_s \pi^{(1)} \Big(\frac{C_2(v)}{n^2} + \frac{C_3(v)}{n^3}\Big)
        + \sum_s \big(\Delta(s + h) + \Delta(s)\big)\,\Big|\log\frac{\pi^{(1)}(s)}{\phi^{(1)}(s)}\Big|,

    with :math:`\Delta(s) = e^{-NT_1(s)} N T_1(s) (B_2/n^2 + B_3/n^3)` the bound on the change of the law of the
    maximum below :math:`s`. For :math:`D(\pi_n\Vert p) = D(\pi_n\Vert\phi_{n\delta}) + n\delta +
    \lambda(\mathbb{E}_{\pi_n} r - nx^*)` (exact), the next-order term is :math:`D^{\phi}_n + \lambda D_n` and the
    bound :math:`M^{\phi}_n + \lambda M_n` (:func:`bon_mean_next_order`).

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
        ``(D_phi, M_phi)``.

    Raises
    ------
    ValueError
        As :func:`bon_mean_next_order`.

    Examples
    --------
    >>> token = RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2])
    >>> d_phi, m_phi = bon_kl_next_order(token, 1.0, 1000, 1.0, 0.0)
    >>> bool(m_phi < abs(d_phi))
    True
    """
    return _kl_terms(token, lam, n, step, _window(token, lam, n, step, v0))


def _kl_terms(token: RewardLaw, lam: float, n: int, step: float, w: dict) -> tuple[float, float]:
    nt1 = np.exp(w["log_nt1"])
    g0, g1 = np.exp(-np.exp(w["log_nt0"])), np.exp(-nt1)
    pi0, pi1 = np.diff(g0), np.diff(g1)  # P(max = s) = G(s + h) - G(s), s the window but its last point
    v = w["u"][:-1] / w["sigma"]
    c, big_c = local_corrections(token, lam, v, order=3)
    log_h = math.log(step / (w["sigma"] * math.sqrt(2 * math.pi * n)))
    log_phi1 = log_h + c[0] / n
    with np.errstate(divide="ignore", invalid="ignore"):
        ent0 = np.where(pi0 > 0, pi0 * np.log(pi0), 0.0)
        log_pi1 = np.log(pi1)
        ent1 = np.where(pi1 > 0, pi1 * (log_pi1 - log_phi1), 0.0)
        ratio = np.where(pi1 > 0, np.abs(log_pi1 - log_phi1), 0.0)
    d_phi = math.fsum(ent1.tolist()) - math.fsum(ent0.tolist()) + log_h * math.fsum(pi0.tolist())
    delta_g = g1 * nt1 * w["big"]
    m_phi = math.fsum((pi1 * (big_c[1] / n**2 + big_c[2] / n**3)).tolist())
    m_phi += math.fsum(((delta_g[1:] + delta_g[:-1]) * ratio).tolist())
    return d_phi, m_phi


@dataclass(frozen=True)
class BonNextOrder:
    r"""The next-order terms of chapter 6's three expansions of best-of-:math:`e^{n\delta}` and the bounds on what
    they leave (:func:`bon_next_order`).

    Attributes
    ----------
    mean, mean_bound : float
        :math:`D_n` and :math:`M_n` of the mean (:func:`bon_mean_next_order`).
    kl_phi, kl_phi_bound : float
        :math:`D^\phi_n` and :math:`M^\phi_n` of :math:`D(\pi_n\Vert\phi_{n\delta})` (:func:`bon_kl_next_order`).
    kl_p, kl_p_bound : float
        :math:`D^\phi_n + \lambda D_n` and :math:`M^\phi_n + \lambda M_n` of :math:`D(\pi_n\Vert p)`.

    Examples
    --------
    >>> terms = bon_next_order(RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2]), 1.0, 1000, 1.0, 0.0)
    >>> round(terms.kl_p - terms.kl_phi - terms.mean, 12)  # lambda = 1
    0.0
    """

    mean: float
    mean_bound: float
    kl_phi: float
    kl_phi_bound: float
    kl_p: float
    kl_p_bound: float


def bon_next_order(token: RewardLaw, lam: float, n: int, step: float, v0: float) -> BonNextOrder:
    r"""All three next-order terms and their bounds from one window: :func:`bon_mean_next_order`,
    :func:`bon_kl_next_order`, and for :math:`D(\pi_n\Vert p)` their combination through the exact identity
    :math:`D(\pi_n\Vert p) = D(\pi_n\Vert\phi_{n\delta}) + n\delta + \lambda(\mathbb{E}_{\pi_n} r - nx^*)`.

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
    BonNextOrder

    Raises
    ------
    ValueError
        As :func:`bon_mean_next_order`.

    Examples
    --------
    >>> terms = bon_next_order(RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2]), 1.0, 1000, 1.0, 0.0)
    >>> bool(terms.mean_bound < abs(terms.mean)), bool(terms.kl_phi_bound < abs(terms.kl_phi))
    (True, True)
    """
    w = _window(token, lam, n, step, v0)
    d_n, m_n = _mean_terms(w, step)
    d_phi, m_phi = _kl_terms(token, lam, n, step, w)
    return BonNextOrder(d_n, m_n, d_phi, m_phi, d_phi + lam * d_n, m_phi + lam * m_n)
