r"""The lattice tail beyond Bahadur and Ranga Rao: the corrections to :math:`\log P(S_n \ge s)` in powers of ``1/n``.

For :math:`S_n` a sum of :math:`n` i.i.d. tokens on a lattice of step :math:`h`, tilted to mean :math:`x = s/n`
(tilt :math:`\theta`, standard deviation :math:`\sigma`, standardised cumulants
:math:`\gamma_j = \kappa^{(j)}(\theta)/\sigma^j`), the exact change of measure gives

.. math::

    P_\lambda(S_n \ge s) = e^{-n I(x)} \sum_{u} e^{-\tau u} P_\theta(S_n - s = u), \qquad u = \eta + jh,\ j \ge 0,

with :math:`\tau = \theta - \lambda`. The local Edgeworth expansion of a lattice law (Petrov, *Sums of Independent
Random Variables*, VII.3) writes :math:`P_\theta(S_n - s = u) = \frac{h}{\sigma\sqrt n}\,\varphi(z)
\big(1 + \sum_{k \ge 1} n^{-k/2} q_k(z)\big)`, :math:`z = u / (\sigma\sqrt n)`, with the polynomials of the density
expansion: :math:`\sum_k \varepsilon^k q_k(z)` is :math:`\exp\big(\sum_{j \ge 3} \gamma_j (\mathrm{i}t)^j
\varepsilon^{j-2} / j!\big)` with each :math:`(\mathrm{i}t)^m` replaced by the Hermite polynomial
:math:`\mathrm{He}_m(z)`. Dividing by the Bahadur-Ranga Rao value :math:`e^{-nI}\,h\,\sum_u e^{-\tau u} /
(\sigma\sqrt{2\pi n})` leaves the mean of :math:`e^{-z^2/2}(1 + \sum_k n^{-k/2} q_k(z))` over the geometric law
:math:`G` of :math:`u` (weights :math:`\propto e^{-\tau u}`). With :math:`v = u/\sigma`, :math:`z = v/\sqrt n`, odd
powers of :math:`n^{-1/2}` cancel and

.. math::

    \log\frac{P_\lambda(S_n \ge s)}{\mathrm{BR}_n} = \sum_{k = 1}^{K} \frac{b_k}{n^k} + O(n^{-K-1}),

each :math:`b_k` a polynomial in :math:`\gamma_3, \dots, \gamma_{2k+2}` and the moments
:math:`M_i = \mathbb{E}_G v^i`, :math:`i \le 2k`. The lower tail :math:`P(S_n \le s)` is the same with
:math:`u = -(\eta + jh)` and :math:`\tau = \lambda - \theta`. The expansion holds when every step of the lattice is
taken often (the non-principal frequencies of the tilted token law contribute :math:`O(\rho^n)`, see
:func:`lmalign.characteristic.nonprincipal_modulus`); it is asymptotic, not convergent.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from lmalign import _validate
from lmalign.law import RewardLaw, require_law
from lmalign.ldp import cgf_derivatives, theta_of_mean

MAX_TAIL_ORDER = 6  # b_1 .. b_6: cumulants up to gamma_14, moments up to M_12 (order 6 derives in about 2 s)
MAX_MOMENTS = 64  # offset_moments: a polylogarithm each


def _check_order(order) -> int:
    order = _validate.positive_int(order, "order")
    if order > MAX_TAIL_ORDER:
        raise ValueError(f"order must be at most {MAX_TAIL_ORDER}, got {order}")
    return order


@functools.cache
def _terms(order: int) -> tuple[sp.Expr, ...]:
    top = 2 * order  # the highest power of eps = n^(-1/2) kept
    k_max = top + 2
    names = ["e", "t", "v"] + [f"g{j}" for j in range(3, k_max + 1)] + [f"M{i}" for i in range(1, top + 1)]
    R, *gens = ring(",".join(names), QQ)
    e, t, v = gens[:3]
    g = dict(zip(range(3, k_max + 1), gens[3 : k_max + 1], strict=True))
    moment = dict(zip(range(1, top + 1), gens[k_max + 1 :], strict=True))

    def trunc(p):
        return R({m: c for m, c in p.items() if m[0] <= top})

    def exp_series(x):  # x = O(e): sum of x^k / k! up to e^top
        out, term = R.one, R.one
        for k in range(1, top + 1):
            term = trunc(term * x) * QQ(1, k)
            out += term
        return out

    edgeworth = exp_series(sum((g[j] * t**j * e ** (j - 2) * QQ(1, math.factorial(j)) for j in g), R.zero))
    z = v * e
    hermite = [R.one, z]  # He_(m+1) = z He_m - m He_(m-1)
    for m in range(1, max(mono[1] for mono in edgeworth.keys())):
        hermite.append(trunc(z * hermite[m] - m * hermite[m - 1]))
    local = R.zero
    for mono, c in edgeworth.items():
        local += trunc(R({(mono[0], 0, *mono[2:]): c}) * hermite[mono[1]])
    local = trunc(local * exp_series(-(v**2) * e**2 * QQ(1, 2)))
    mean = R.zero  # v^i -> M_i
    for mono, c in local.items():
        i = mono[2]
        mean += R({(mono[0], 0, 0, *mono[3:]): c}) * (moment[i] if i else R.one)
    x, log_mean, power = mean - R.one, R.zero, R.one
    for k in range(1, order + 1):  # log(1 + x), x = O(e^2)
        power = trunc(power * x)
        log_mean += power * QQ((-1) ** (k + 1), k)
    if any(m[0] % 2 for m in log_mean.keys()):
        raise AssertionError("odd powers of n^(-1/2) must cancel")
    return tuple(
        sp.sympify(R({(0, *m[1:]): c for m, c in log_mean.items() if m[0] == 2 * k}).as_expr())
        for k in range(1, order + 1)
    )


def tail_correction_terms(order: int = 4) -> list[sp.Expr]:
    r"""The coefficients :math:`b_1, \dots, b_K` of :math:`\log(P_\lambda(S_n \ge s)/\mathrm{BR}_n) =
    \sum_k b_k n^{-k} + O(n^{-K-1})` (module docstring), as polynomials in ``g3``, ``g4``, ... (the standardised
    cumulants :math:`\gamma_j`) and ``M1``, ``M2``, ... (the moments :math:`M_i = \mathbb{E}_G v^i`).

    Derived exactly in rational arithmetic (sympy's sparse polynomial rings), truncated at :math:`n^{-K}`.

    Parameters
    ----------
    order : int
        :math:`K`, from 1 to ``MAX_TAIL_ORDER``.

    Returns
    -------
    list of sympy.Expr
        :math:`[b_1, \dots, b_K]`; :math:`b_k` uses :math:`\gamma_3, \dots, \gamma_{2k+2}` and
        :math:`M_1, \dots, M_{2k}`.

    Raises
    ------
    ValueError
        If ``order`` is not an integer from 1 to ``MAX_TAIL_ORDER``.

    Examples
    --------
    >>> tail_correction_terms(1)[0]  # the local limit correction at 0 and the geometric moments
    -M1*g3/2 - M2/2 - 5*g3**2/24 + g4/8
    """
    return list(_terms(_check_order(order)))


@functools.cache
def _evaluators(order: int):
    gammas = [sp.Symbol(f"g{j}") for j in range(3, 2 * order + 3)]
    names = gammas + [sp.Symbol(f"M{i}") for i in range(1, 2 * order + 1)]
    terms = _terms(order)
    majorants = [sum((abs(a) for a in sp.Add.make_args(sp.expand(b))), sp.S.Zero) for b in terms]
    return sp.lambdify(names, list(terms), "mpmath"), sp.lambdify(names, majorants, "mpmath")


def local_corrections(token: RewardLaw, theta: float, v, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    r"""The local version: :math:`\log P_\theta(S_n - nx = u) = \log\frac{h}{\sigma\sqrt{2\pi n}} + \sum_k
    c_k(v) n^{-k} + O(n^{-K-1})` at :math:`v = u/\sigma`, and majorants :math:`C_k(v) \ge |c_k(v)|`.

    The law :math:`G` of the module docstring reduced to a point mass at :math:`v`: :math:`c_k` is :math:`b_k` with
    every moment :math:`M_i` replaced by :math:`v^i` (the mean of a point mass is its value), and :math:`C_k` the
    same for the monomials in absolute value. :math:`\gamma_j` are the standardised cumulants of :math:`p_\theta`
    (:math:`x = \kappa'(\theta)`).

    Parameters
    ----------
    token : RewardLaw
        The token law :math:`p`.
    theta : float
        The tilt :math:`\theta` of the local law.
    v : array_like
        Standardised offsets :math:`u / \sigma` (finite).
    order : int, optional
        :math:`K` (default 2).

    Returns
    -------
    tuple of numpy.ndarray
        ``(c, C)``, each of shape ``(order, len(v))``.

    Raises
    ------
    ValueError
        If ``token`` is not a law, ``theta`` is not finite, ``v`` is not a finite real array, or ``order`` is out of
        range.

    Examples
    --------
    >>> token = RewardLaw([0.0, 1.0], [0.5, 0.5])  # symmetric: g3 = 0, g4 = -2
    >>> c, big_c = local_corrections(token, 0.0, [0.0, 1.0], order=1)
    >>> c.round(6).tolist()  # g4/8 - v^2/2
    [[-0.25, -0.75]]
    """
    require_law(token)
    order = _check_order(order)
    theta = _validate.real_scalar(theta, "theta")
    v = _validate.real_array(v, "v").astype(float).ravel()
    if not np.all(np.isfinite(v)):
        raise ValueError("v must be finite")
    cumulants = cgf_derivatives(token, theta, 2 * order + 2)
    sigma = math.sqrt(cumulants[1])
    gammas = [cumulants[j - 1] / sigma**j for j in range(3, 2 * order + 3)]
    terms, majorants = _local_evaluators(order)
    c = np.array([np.broadcast_to(np.asarray(f(*gammas, v), dtype=float), v.shape) for f in terms])
    big_c = np.array([np.broadcast_to(np.asarray(f(*gammas, v), dtype=float), v.shape) for f in majorants])
    return c, big_c


@functools.cache
def _local_evaluators(order: int):
    gammas = [sp.Symbol(f"g{j}") for j in range(3, 2 * order + 3)]
    v = sp.Symbol("v")
    at_point = {sp.Symbol(f"M{i}"): v**i for i in range(1, 2 * order + 1)}
    terms, majorants = [], []
    for b in _terms(order):
        monomials = sp.Add.make_args(sp.expand(b.subs(at_point)))
        terms.append(sp.lambdify([*gammas, v], sp.Add(*monomials), "numpy"))
        majorants.append(sp.lambdify([*gammas, v], sp.Add(*(abs(m) for m in monomials)), "numpy"))
    return terms, majorants


@functools.cache
def _eulerian(k: int) -> tuple[int, ...]:
    """Eulerian numbers A(k, m), m = 0 .. k - 1: sum_j j^k q^j = sum_m A(k, m) q^(m+1) / (1 - q)^(k+1)."""
    return tuple(sum((-1) ** i * math.comb(k + 1, i) * (m + 1 - i) ** k for i in range(m + 1)) for m in range(k))


def offset_moments(offset: float, step: float, tau: float, sigma: float, upper: bool, count: int) -> list:
    r"""Moments :math:`M_i = \mathbb{E}\,v^i`, :math:`i = 1, \dots,` ``count``, of :math:`v = \pm(\eta + jh)/\sigma`
    with :math:`P(j) = (1 - q) q^j`, :math:`q = e^{-\tau h}` (``+`` for the upper tail, ``-`` for the lower).

    .. math::

        \mathbb{E}(\eta + jh)^i = \sum_{k=0}^{i} \binom{i}{k} \eta^{i-k} h^k\, \mathbb{E} j^k, \qquad
        \mathbb{E} j^k = (1 - q)\operatorname{Li}_{-k}(q) = \frac{\sum_{m=0}^{k-1} A(k, m)\, q^{m+1}}{(1 - q)^k},

    with :math:`A(k, m)` the Eulerian numbers, in mpmath at 30 digits or the working precision if higher (the
    terms are positive: no cancellation).

    Parameters
    ----------
    offset : float
        :math:`\eta \ge 0`, the distance from :math:`s` to the first lattice point of the tail.
    step : float
        The lattice step :math:`h > 0`.
    tau : float
        The tilt :math:`\tau > 0` that weights the tail.
    sigma : float
        :math:`\sigma > 0`, the token reward's standard deviation under :math:`p_\theta`.
    upper : bool
        The upper tail (else the lower).
    count : int
        How many moments.

    Returns
    -------
    list of mpmath.mpf
        :math:`[M_1, \dots, M_{\mathrm{count}}]`.

    Raises
    ------
    ValueError
        If ``offset`` is negative or not finite, ``step``, ``tau`` or ``sigma`` is not a positive finite number,
        or ``count`` is not an integer from 1 to ``MAX_MOMENTS``.

    Examples
    --------
    >>> [round(float(m), 12) for m in offset_moments(0.0, 1.0, math.log(2), 1.0, True, 2)]  # geometric(1/2)
    [1.0, 3.0]
    """
    offset = _validate.nonneg_finite(offset, "offset")
    for value, name in ((step, "step"), (tau, "tau"), (sigma, "sigma")):
        if not _validate.nonneg_finite(value, name) > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    count = _validate.positive_int(count, "count")
    if count > MAX_MOMENTS:
        raise ValueError(f"count must be at most {MAX_MOMENTS}, got {count}")
    with mpmath.workdps(max(mpmath.mp.dps, 30)):
        q = mpmath.exp(-mpmath.mpf(tau) * step)
        one_minus_q = -mpmath.expm1(-mpmath.mpf(tau) * step)  # no cancellation when q is near 1
        ej = [mpmath.mpf(1)] + [
            mpmath.fsum(a * q ** (m + 1) for m, a in enumerate(_eulerian(k))) / one_minus_q**k
            for k in range(1, count + 1)
        ]
        eta, h, sd = mpmath.mpf(offset), mpmath.mpf(step), mpmath.mpf(sigma)
        out = []
        for i in range(1, count + 1):
            raw = mpmath.fsum(mpmath.binomial(i, k) * eta ** (i - k) * h**k * ej[k] for k in range(i + 1))
            out.append((raw if upper or i % 2 == 0 else -raw) / sd**i)
    return out


def tail_corrections(
    token: RewardLaw, lam: float, x: float, step: float, offset: float, upper: bool, order: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    r"""The coefficients :math:`b_1, \dots, b_K` of the log-tail beyond Bahadur-Ranga Rao at a point, and their
    majorants :math:`B_k` (each monomial of :math:`b_k` in absolute value, so :math:`|b_k| \le B_k`).

    For the tail of :math:`S_n` under the tilt :math:`\lambda` of the token law at :math:`s = nx`, with
    :math:`\theta = \theta(x)` (:func:`lmalign.ldp.theta_of_mean`), :math:`\tau = |\theta - \lambda|`,
    :math:`\gamma_j` from :func:`lmalign.ldp.cgf_derivatives` and the moments of :func:`offset_moments`:

    .. math::

        \log P_\lambda(S_n \ge s) = \log \mathrm{BR}_n + \sum_{k=1}^{K} b_k n^{-k} + O(n^{-K-1}),

    (:math:`S_n \le s` for the lower tail), :math:`\mathrm{BR}_n` the lattice Bahadur-Ranga Rao value with offset
    :math:`\eta`. Evaluated in mpmath at 30 digits.

    Parameters
    ----------
    token : RewardLaw
        The token law :math:`p` (rewards on the lattice of step ``step``).
    lam : float
        The tilt :math:`\lambda` of the reference law (the aligned model :math:`\phi_{n\delta}`).
    x : float
        :math:`s / n`, strictly between the tilted mean :math:`\kappa'(\lambda)` and the end of the tail.
    step : float
        The lattice step :math:`h`.
    offset : float
        :math:`\eta \in [0, h)`: the distance from :math:`s` to the lattice, up (upper tail) or down (lower).
    upper : bool
        The upper tail :math:`S_n \ge s`, else the lower :math:`S_n \le s`.
    order : int, optional
        :math:`K` (default 4).

    Returns
    -------
    tuple of numpy.ndarray
        ``(b, B)``: the coefficients and their majorants, each of length ``order``.

    Raises
    ------
    ValueError
        If ``token`` is not a law, ``x`` is not strictly inside the tail (:math:`\tau` must be positive), or
        another argument is out of its range.

    Examples
    --------
    >>> token = RewardLaw([0.0, 1.0], [0.5, 0.5])
    >>> b, big_b = tail_corrections(token, 0.0, 0.75, 1.0, 0.0, True, order=2)
    >>> bool(np.all(np.abs(b) <= big_b)), b.round(4).tolist()
    (True, [-2.3611, 22.0])
    """
    require_law(token)
    order = _check_order(order)
    lam = _validate.real_scalar(lam, "lam")
    x = _validate.real_scalar(x, "x")
    theta = theta_of_mean(token, x)
    tau = theta - lam if upper else lam - theta
    if not (math.isfinite(theta) and tau > 0):
        raise ValueError(
            f"x = {x!r} must lie strictly inside the {'upper' if upper else 'lower'} tail of the tilt by lam = {lam!r}"
        )
    cumulants = cgf_derivatives(token, theta, 2 * order + 2)
    sigma = math.sqrt(cumulants[1])
    gammas = [cumulants[j - 1] / sigma**j for j in range(3, 2 * order + 3)]
    terms, majorants = _evaluators(order)
    with mpmath.workdps(30):
        args = [mpmath.mpf(gj) for gj in gammas] + offset_moments(offset, step, tau, sigma, upper, 2 * order)
        b = np.array([float(v) for v in terms(*args)])
        big_b = np.array([float(v) for v in majorants(*args)])
    return b, big_b
