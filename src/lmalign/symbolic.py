"""Sympy objects shared by the chapters, so that they derive formulas rather than restate them."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp


def symbolic_cgf(probs: Sequence, values: Sequence, var: sp.Symbol) -> sp.Expr:
    """``kappa(l) = log sum_i p_i exp(l v_i)`` for a finite law with symbolic or exact entries."""
    if len(probs) != len(values) or not probs:
        raise ValueError("probs and values must be non-empty and of equal length")
    return sp.log(sum(p * sp.exp(var * v) for p, v in zip(probs, values, strict=True)))


def tilted_probs(probs: Sequence, values: Sequence, var: sp.Symbol) -> list[sp.Expr]:
    """``p_l(v_i) = p_i exp(l v_i - kappa(l))``."""
    kappa = symbolic_cgf(probs, values, var)
    return [p * sp.exp(var * v - kappa) for p, v in zip(probs, values, strict=True)]


def tilt_kl_expr(kappa: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """``D(p_l||p) = l kappa'(l) - kappa(l)``."""
    return var * sp.diff(kappa, var) - kappa


def legendre_transform(expr: sp.Expr, t: sp.Symbol, x: sp.Symbol) -> sp.Expr:
    """``sup_t [t x - expr(t)]`` at the stationary point ``expr'(t) = x`` (the unique one when ``expr`` is
    strictly convex); raises if sympy finds no closed-form stationary point."""
    sols = sp.solve(sp.Eq(sp.diff(expr, t), x), t)
    if not sols:
        raise ValueError("no closed-form stationary point found")
    return sp.simplify(t * x - expr).subs(t, sols[0])


def cumulant_series(kappa: sp.Expr, var: sp.Symbol, l0, order: int) -> list[sp.Expr]:
    """Cumulants ``kappa^{(k)}(l0)`` for ``k = 1..order`` (the Taylor coefficients of ``kappa`` at ``l0``
    times ``k!``)."""
    h = sp.Symbol("h")
    series = sp.series(kappa.subs(var, l0 + h), h, 0, order + 1).removeO()
    return [sp.factorial(k) * series.coeff(h, k) for k in range(1, order + 1)]


def bernoulli_cgf(p, a, b, var: sp.Symbol) -> sp.Expr:
    """CGF of the reward taking value ``b`` with probability ``p`` and ``a`` otherwise."""
    return symbolic_cgf([1 - p, p], [a, b], var)
