"""Sympy objects shared by the chapters, so that they derive formulas rather than restate them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from lmalign import _validate

MAX_ORDER = 8  # cumulant_series: symbolic derivatives of a log-sum-exp swell (order 8: ~1 s, 12: ~25 s)


def _symbol(var, name: str) -> None:
    if not isinstance(var, sp.Symbol):
        raise ValueError(f"{name} must be a sympy Symbol, got {type(var).__name__}")


def _finite_expr(x, name: str) -> sp.Expr:
    """``x`` as a sympy expression (numbers are sympified strictly), without nan or infinities; a string,
    complex, boolean, masked or datetime input, or a number that is not real, is refused."""
    odd = _validate.odd_input(x)
    if odd is not None:
        raise ValueError(f"{name} must be a real number or a sympy expression, got {odd}")
    if isinstance(x, np.floating) or (isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind == "f"):
        x = float(x)  # float16 and float32 upcast: a sympy Float of 53 bits, as for a Python float
    try:
        e = sp.sympify(x, strict=True)
    except (sp.SympifyError, TypeError, AttributeError):
        raise ValueError(f"{name} must be a number or a sympy expression, got {x!r}") from None
    if not isinstance(e, sp.Expr):
        raise ValueError(f"{name} must be a sympy expression, got {type(e).__name__}")
    if e.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ValueError(f"{name} contains nan or an infinity: {e}")
    if e.is_number and e.is_extended_real is False:
        raise ValueError(f"{name} must be real, got the complex number {e}")
    return e


def _entries(seq, name: str) -> list[sp.Expr]:
    """A non-empty sequence (list, tuple, 1-d array or pandas Series) of finite sympy expressions."""
    if not isinstance(seq, (str, bytes, Sequence, np.ndarray)) and hasattr(seq, "__array__"):
        seq = np.asarray(seq)  # a pandas Series: its values in order, whatever its index
    if isinstance(seq, (str, bytes)) or not isinstance(seq, (Sequence, np.ndarray)):
        raise ValueError(f"{name} must be a sequence, got {type(seq).__name__}")
    if isinstance(seq, np.ndarray) and _validate.odd_input(seq) is not None:
        raise ValueError(f"{name} must be real numbers or sympy expressions, got {_validate.odd_input(seq)}")
    if isinstance(seq, np.ndarray) and seq.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence, got an array of shape {seq.shape}")
    out = [_finite_expr(x, f"{name}[{i}]") for i, x in enumerate(seq)]
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def symbolic_cgf(probs: Sequence, values: Sequence, var: sp.Symbol) -> sp.Expr:
    r"""The CGF :math:`\kappa(l) = \log\sum_i p_i e^{l v_i}` for a finite law with symbolic or exact entries.

    Parameters
    ----------
    probs : sequence
        The probabilities :math:`p_i` (numbers or sympy expressions, not all zero, none negative).
    values : sequence
        The values :math:`v_i`, of the same length.
    var : sympy.Symbol
        The variable :math:`l`.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        If ``var`` is not a Symbol, an entry is not a finite real number or expression, a probability is negative,
        the probabilities have no mass, or the lengths differ.

    Examples
    --------
    >>> import sympy as sp
    >>> l = sp.Symbol("l")
    >>> symbolic_cgf([sp.Rational(1, 2), sp.Rational(1, 2)], [0, 1], l)
    log(exp(l)/2 + 1/2)
    """
    _symbol(var, "var")
    probs, values = _entries(probs, "probs"), _entries(values, "values")
    if any(p.is_negative for p in probs):
        raise ValueError(f"probs contains a negative probability: {probs}")
    if sp.Add(*probs).is_zero:
        raise ValueError(f"probs has no mass: {probs}")
    if len(probs) != len(values):
        raise ValueError(f"probs and values have different lengths ({len(probs)} and {len(values)})")
    return sp.log(sum(p * sp.exp(var * v) for p, v in zip(probs, values, strict=True)))


def tilted_probs(probs: Sequence, values: Sequence, var: sp.Symbol) -> list[sp.Expr]:
    r"""The tilted probabilities :math:`p_l(v_i) = p_i e^{l v_i - \kappa(l)}`.

    Parameters
    ----------
    probs : sequence
        The probabilities :math:`p_i`.
    values : sequence
        The values :math:`v_i`.
    var : sympy.Symbol
        The variable :math:`l`.

    Returns
    -------
    list of sympy.Expr

    Raises
    ------
    ValueError
        As :func:`symbolic_cgf`.

    Examples
    --------
    >>> import sympy as sp
    >>> l = sp.Symbol("l")
    >>> q = tilted_probs([sp.Rational(1, 2), sp.Rational(1, 2)], [0, 1], l)
    >>> [sp.simplify(x) for x in q]
    [1/(exp(l) + 1), exp(l)/(exp(l) + 1)]
    """
    kappa = symbolic_cgf(probs, values, var)
    probs, values = _entries(probs, "probs"), _entries(values, "values")
    return [p * sp.exp(var * v - kappa) for p, v in zip(probs, values, strict=True)]


def tilt_kl_expr(kappa: sp.Expr, var: sp.Symbol) -> sp.Expr:
    r"""The tilt's relative entropy :math:`D(p_l\Vert p) = l\kappa'(l) - \kappa(l)`.

    Parameters
    ----------
    kappa : sympy.Expr
        The CGF :math:`\kappa(l)`.
    var : sympy.Symbol
        The variable :math:`l`.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        If ``var`` is not a Symbol or ``kappa`` is not a finite sympy expression.

    Examples
    --------
    >>> import sympy as sp
    >>> l = sp.Symbol("l")
    >>> tilt_kl_expr(l**2 / 2, l)  # a Gaussian CGF
    l**2/2
    """
    _symbol(var, "var")
    kappa = _finite_expr(kappa, "kappa")
    return var * sp.diff(kappa, var) - kappa


def legendre_transform(expr: sp.Expr, t: sp.Symbol, x: sp.Symbol) -> sp.Expr:
    r"""The Legendre transform :math:`\sup_t\, [t x - f(t)]`, :math:`f` = ``expr``, at the stationary point.

    The stationary point solves :math:`f'(t) = x` (the unique one when :math:`f` is strictly convex).

    Parameters
    ----------
    expr : sympy.Expr
        :math:`f(t)`.
    t : sympy.Symbol
        The variable of :math:`f`.
    x : sympy.Symbol
        The variable of the transform, another symbol.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        If ``t`` or ``x`` is not a Symbol, they are the same symbol, ``expr`` is not a finite sympy expression, or
        sympy finds no closed-form stationary point.

    Examples
    --------
    >>> import sympy as sp
    >>> t, x = sp.symbols("t x")
    >>> legendre_transform(t**2 / 2, t, x)
    x**2/2
    """
    _symbol(t, "t")
    _symbol(x, "x")
    if x == t:
        raise ValueError("x and t must be different symbols")
    expr = _finite_expr(expr, "expr")
    try:
        sols = sp.solve(sp.Eq(sp.diff(expr, t), x), t)
    except NotImplementedError:
        sols = []
    if not sols:
        raise ValueError("no closed-form stationary point found")
    return sp.simplify(t * x - expr).subs(t, sols[0])


def cumulant_series(kappa: sp.Expr, var: sp.Symbol, order: int, at=None) -> list[sp.Expr]:
    r"""Cumulants of the tilted law, :math:`[\kappa'(l), \kappa''(l), \dots, \kappa^{(\mathrm{order})}(l)]`.

    Expressions in ``var`` (the :math:`k`-th derivative of the CGF at :math:`l` is the :math:`k`-th cumulant of
    :math:`p_l`); evaluated at ``var = at`` when ``at`` is given.

    Parameters
    ----------
    kappa : sympy.Expr
        The CGF :math:`\kappa(l)`.
    var : sympy.Symbol
        The variable :math:`l`.
    order : int
        The highest order, :math:`1 \le` ``order`` :math:`\le` ``MAX_ORDER``.
    at : number or sympy.Expr, optional
        Where to evaluate.

    Returns
    -------
    list of sympy.Expr

    Raises
    ------
    ValueError
        If ``var`` is not a Symbol, ``order`` is not an integer in ``[1, MAX_ORDER]``, or ``kappa`` or ``at`` is
        not a finite real expression.

    Examples
    --------
    >>> import sympy as sp
    >>> l, p = sp.symbols("l p")
    >>> [sp.factor(c) for c in cumulant_series(bernoulli_cgf(p, 0, 1, l), l, 2, at=0)]  # p and p (1 - p)
    [p, -p*(p - 1)]
    """
    _symbol(var, "var")
    if _validate.odd_input(order) is not None:
        raise ValueError(f"order must be an integer in [1, {MAX_ORDER}], got {_validate.odd_input(order)}")
    if isinstance(order, np.ndarray) and order.ndim == 0:
        order = order[()]  # a 0-d array: its integer
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer in [1, {MAX_ORDER}], got {order!r}")
    order = int(order)
    kappa = _finite_expr(kappa, "kappa")
    at = None if at is None else _finite_expr(at, "at")
    out, d = [], kappa
    for _ in range(order):
        d = sp.diff(d, var)
        out.append(d if at is None else d.subs(var, at))
    return out


def bernoulli_cgf(p, a, b, var: sp.Symbol) -> sp.Expr:
    r"""CGF of the reward taking value :math:`b` with probability :math:`p` and :math:`a` otherwise.

    .. math::

        \kappa(l) = \log\left((1 - p) e^{l a} + p e^{l b}\right).

    Parameters
    ----------
    p : number or sympy.Expr
        The probability of :math:`b`.
    a, b : number or sympy.Expr
        The two values.
    var : sympy.Symbol
        The variable :math:`l`.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        As :func:`symbolic_cgf`.

    Examples
    --------
    >>> import sympy as sp
    >>> l, p = sp.symbols("l p")
    >>> bernoulli_cgf(p, 0, 1, l)
    log(p*exp(l) - p + 1)
    """
    p = _finite_expr(p, "p")
    return symbolic_cgf([1 - p, p], [a, b], var)
