"""The lattice tail beyond Bahadur-Ranga Rao: the derived coefficients against exact binomial tails (mpmath, 50
digits, every quantity in closed form) and against a second symbolic route."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from lmalign import RewardLaw
from lmalign.tail_expansion import offset_moments, tail_correction_terms, tail_corrections


def exact_residual(p: float, lam: float, k: int, eta: float, n: int, upper: bool) -> mpmath.mpf:
    """log P(S_n >= k - eta) (upper; S_n <= k + eta lower) minus the lattice Bahadur-Ranga Rao value, for S_n
    binomial(n, p_lam), p_lam = p e^lam / (1 - p + p e^lam), all in closed form at 50 digits."""
    with mpmath.workdps(50):
        pl = mpmath.mpf(p) * mpmath.e**lam / (1 - p + p * mpmath.e**lam)
        s = mpmath.mpf(k) - eta if upper else mpmath.mpf(k) + eta
        x = s / n
        js = range(k, n + 1) if upper else range(0, k + 1)
        log_p = mpmath.log(mpmath.fsum(mpmath.binomial(n, j) * pl**j * (1 - pl) ** (n - j) for j in js))
        rate = x * mpmath.log(x / pl) + (1 - x) * mpmath.log((1 - x) / (1 - pl))
        tau = abs(mpmath.log(x / (1 - x)) - mpmath.log(pl / (1 - pl)))
        sigma = mpmath.sqrt(x * (1 - x))
        br = -n * rate - mpmath.log(sigma * mpmath.sqrt(2 * mpmath.pi * n)) - tau * eta - mpmath.log(1 - mpmath.e**-tau)
        return log_p - br


CASES = [  # (p, lam, x, eta, upper): both tails, offsets 0 and inside the step, steep and mild tilts
    (0.5, 0.0, 0.75, 0.0, True),
    (0.3, 0.4, 0.62, 0.35, True),
    (0.4, -0.3, 0.15, 0.0, False),
    (0.6, 1.0, 0.55, 0.8, False),
]


@pytest.mark.parametrize(("p", "lam", "x", "eta", "upper"), CASES)
def test_each_coefficient_against_exact_binomial_tails(p, lam, x, eta, upper):
    """For K = 1..4 the truncation after b_K is off by at most the majorants of the next two terms, at lengths
    n = 400 and 1600; and at 1600 the truncation after b_1 is off by more than twice the bound after b_2 (b_2 is
    seen)."""
    token = RewardLaw([0.0, 1.0], [1 - p, p])
    for n in (400, 1600):
        k = round(n * x + eta) if upper else round(n * x - eta)  # s = k -/+ eta = n x' with x' near x
        s = k - eta if upper else k + eta
        b, big_b = tail_corrections(token, lam, s / n, 1.0, eta, upper, order=6)
        res = float(exact_residual(p, lam, k, eta, n, upper))
        partial = 0.0
        for order in range(1, 5):
            partial += b[order - 1] / n**order
            err = abs(res - partial)
            tol = big_b[order] / n ** (order + 1) + big_b[order + 1] / n ** (order + 2) + 1e-30
            assert err <= tol, (n, order, err, tol)
    without_b2 = abs(res - b[0] / n)  # at n = 1600
    assert without_b2 > 2 * (big_b[2] / n**3 + big_b[3] / n**4), (n, without_b2)


def _naive_terms(order: int) -> list[sp.Expr]:
    """The same coefficients by sympy's generic series (slow, independent of the ring arithmetic)."""
    eps, v, t = sp.symbols("e v t")
    top = 2 * order
    g = {j: sp.Symbol(f"g{j}") for j in range(3, top + 3)}
    expo = sum(g[j] * t**j * eps ** (j - 2) / sp.factorial(j) for j in g)
    series = sp.expand(sp.series(sp.exp(expo), eps, 0, top + 1).removeO())
    local = sum(c * sp.hermite_prob(m, v * eps) for (m,), c in sp.Poly(series, t).terms())
    local = sp.expand(sp.series(local * sp.exp(-(v**2) * eps**2 / 2), eps, 0, top + 1).removeO())
    mean = sum(c * (sp.Symbol(f"M{i}") if i else 1) for (i,), c in sp.Poly(local, v).terms())
    log_mean = sp.expand(sp.series(sp.log(mean), eps, 0, top + 1).removeO())
    return [sp.expand(log_mean.coeff(eps, 2 * k)) for k in range(1, order + 1)]


def test_the_ring_derivation_equals_sympys_series():
    assert [sp.expand(a) for a in tail_correction_terms(2)] == _naive_terms(2)


def test_first_coefficient_is_the_classical_local_correction():
    """At the centre (no geometric offset: every M_i = 0) b_1 is the local limit correction g4/8 - 5 g3^2/24."""
    g3, g4 = sp.symbols("g3 g4")
    b1 = tail_correction_terms(1)[0]
    assert sp.expand(b1.subs({sp.Symbol("M1"): 0, sp.Symbol("M2"): 0}) - (g4 / 8 - 5 * g3**2 / 24)) == 0


def test_offset_moments_refuses_too_many_moments():
    with pytest.raises(ValueError, match="count must be at most 64"):
        offset_moments(0.0, 1.0, 1.0, 1.0, True, 10**18)


def test_offset_moments_against_direct_sums():
    eta, h, tau, sigma = 0.3, 0.5, 0.7, 1.3
    q = math.exp(-tau * h)
    j = np.arange(4000)
    w = (1 - q) * q**j
    for upper in (True, False):
        got = [float(m) for m in offset_moments(eta, h, tau, sigma, upper, 5)]
        u = (eta + j * h) / sigma * (1 if upper else -1)
        want = [float(np.sum(w * u**i)) for i in range(1, 6)]
        assert np.allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=0.4), "strictly inside the upper tail"),
        (dict(x=1.0), "strictly inside"),
        (dict(order=7), "order must be at most 6"),
        (dict(order=0), "order"),
        (dict(offset=-0.1), "offset"),
        (dict(step=0.0), "step must be positive"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = dict(token=RewardLaw([0.0, 1.0], [0.5, 0.5]), lam=0.0, x=0.7, step=1.0, offset=0.0, upper=True)
    with pytest.raises(ValueError, match=match):
        tail_corrections(**{**args, **kwargs})
