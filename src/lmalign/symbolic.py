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
    """``kappa(l) = log sum_i p_i exp(l v_i)`` for a finite law with symbolic or exact entries."""
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
    """``p_l(v_i) = p_i exp(l v_i - kappa(l))``."""
    kappa = symbolic_cgf(probs, values, var)
    probs, values = _entries(probs, "probs"), _entries(values, "values")
    return [p * sp.exp(var * v - kappa) for p, v in zip(probs, values, strict=True)]


def tilt_kl_expr(kappa: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """``D(p_l||p) = l kappa'(l) - kappa(l)``."""
    _symbol(var, "var")
    kappa = _finite_expr(kappa, "kappa")
    return var * sp.diff(kappa, var) - kappa


def legendre_transform(expr: sp.Expr, t: sp.Symbol, x: sp.Symbol) -> sp.Expr:
    """``sup_t [t x - expr(t)]`` at the stationary point ``expr'(t) = x`` (the unique one when ``expr`` is
    strictly convex); raises if sympy finds no closed-form stationary point."""
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
    """Cumulants of the tilted law, ``[kappa'(l), kappa''(l), ..., kappa^{(order)}(l)]`` as expressions in
    ``var`` (the ``k``-th derivative of the CGF at ``l`` is the ``k``-th cumulant of ``p_l``); evaluated at
    ``var = at`` when ``at`` is given."""
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
    """CGF of the reward taking value ``b`` with probability ``p`` and ``a`` otherwise."""
    p = _finite_expr(p, "p")
    return symbolic_cgf([1 - p, p], [a, b], var)
