"""Sympy objects shared by the chapters, so that they derive formulas rather than restate them."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp


def _symbol(var, name: str) -> None:
    if not isinstance(var, sp.Symbol):
        raise ValueError(f"{name} must be a sympy Symbol, got {type(var).__name__}")


def symbolic_cgf(probs: Sequence, values: Sequence, var: sp.Symbol) -> sp.Expr:
    """``kappa(l) = log sum_i p_i exp(l v_i)`` for a finite law with symbolic or exact entries."""
    _symbol(var, "var")
    if len(probs) == 0:
        raise ValueError("probs is empty")
    if len(probs) != len(values):
        raise ValueError(f"probs and values have different lengths ({len(probs)} and {len(values)})")
    return sp.log(sum(p * sp.exp(var * v) for p, v in zip(probs, values, strict=True)))


def tilted_probs(probs: Sequence, values: Sequence, var: sp.Symbol) -> list[sp.Expr]:
    """``p_l(v_i) = p_i exp(l v_i - kappa(l))``."""
    kappa = symbolic_cgf(probs, values, var)
    return [p * sp.exp(var * v - kappa) for p, v in zip(probs, values, strict=True)]


def tilt_kl_expr(kappa: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """``D(p_l||p) = l kappa'(l) - kappa(l)``."""
    _symbol(var, "var")
    return var * sp.diff(kappa, var) - kappa


def legendre_transform(expr: sp.Expr, t: sp.Symbol, x: sp.Symbol) -> sp.Expr:
    """``sup_t [t x - expr(t)]`` at the stationary point ``expr'(t) = x`` (the unique one when ``expr`` is
    strictly convex); raises if sympy finds no closed-form stationary point."""
    _symbol(t, "t")
    sols = sp.solve(sp.Eq(sp.diff(expr, t), x), t)
    if not sols:
        raise ValueError("no closed-form stationary point found")
    return sp.simplify(t * x - expr).subs(t, sols[0])


def cumulant_series(kappa: sp.Expr, var: sp.Symbol, order: int, at=None) -> list[sp.Expr]:
    """Cumulants of the tilted law, ``[kappa'(l), kappa''(l), ..., kappa^{(order)}(l)]`` as expressions in
    ``var`` (the ``k``-th derivative of the CGF at ``l`` is the ``k``-th cumulant of ``p_l``); evaluated at
    ``var = at`` when ``at`` is given."""
    _symbol(var, "var")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    out, d = [], kappa
    for _ in range(order):
        d = sp.diff(d, var)
        out.append(d if at is None else d.subs(var, at))
    return out


def bernoulli_cgf(p, a, b, var: sp.Symbol) -> sp.Expr:
    """CGF of the reward taking value ``b`` with probability ``p`` and ``a`` otherwise."""
    return symbolic_cgf([1 - p, p], [a, b], var)
