"""The next-order term of best-of-e^(n delta)'s mean against the exact best-of-N of the library."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmalign import RewardLaw, best_of_n, kl_constrained
from lmalign.best_of_n import lattice_gumbel
from lmalign.bon_expansion import bon_mean_next_order, bon_next_order
from lmalign.memoryless import lattice_steps

MODELS = [  # (probabilities, rewards, budget as a fraction of D_max): steps 1 and 1/2, small and large budgets
    ([0.5, 0.3, 0.2], [0.0, 1.0, 2.0], 0.1),
    ([0.5, 0.3, 0.2], [0.0, 1.0, 2.0], 0.6),
    ([0.22, 0.18, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04, 0.03, 0.02], [0, 0.5, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4.5], 0.1),
    ([0.4, 0.35, 0.25], [1.5, 0.0, 2.5], 0.3),
]


@pytest.mark.parametrize(("p", "r", "frac"), MODELS)
def test_the_next_order_term_closes_the_gap_to_exact_best_of_n(p, r, frac):
    """At n = 2000: the exact mean minus the lattice Gumbel expansion minus D_n is within M_n (plus the rounding of
    the mean), and D_n is more than twice that bound (the term is seen)."""
    p, r, n = np.asarray(p, float), np.asarray(r, float), 2000
    token = RewardLaw.from_tokens(p, r, 1)
    v0, h, _ = lattice_steps(token.values)
    sol = kl_constrained(token, frac * -math.log(p[np.argmax(r)]))
    d_n, m_n = bon_mean_next_order(token, sol.lam, n, h, v0)
    exact = best_of_n(RewardLaw.from_tokens(p, r, n), log_n=n * sol.delta).mean()
    u_bar, _ = lattice_gumbel(sol.lam, math.sqrt(sol.law.var()), h, n, sol.mean, v0)
    tol = m_n + 64 * np.finfo(float).eps * (abs(exact) + n * abs(sol.mean))
    assert abs(exact - n * sol.mean - u_bar - d_n) <= tol
    assert abs(d_n) > 2 * tol


@pytest.mark.parametrize(("p", "r", "frac"), MODELS)
def test_the_relative_entropies_to_the_next_order(p, r, frac):
    """At n = 2000: D(BoN||phi) and D(BoN||p) minus chapter 6's expansions minus their next-order terms are within
    the bounds (plus 64 eps (1 + n delta) for the rounding of the exact values), the term of D(BoN||phi) is more
    than twice its bound (that of D(BoN||p), D_phi + lambda D_n, may cancel), and the mean's term agrees with
    bon_mean_next_order."""
    p, r, n = np.asarray(p, float), np.asarray(r, float), 2000
    token = RewardLaw.from_tokens(p, r, 1)
    v0, h, _ = lattice_steps(token.values)
    sol = kl_constrained(token, frac * -math.log(p[np.argmax(r)]))
    terms = bon_next_order(token, sol.lam, n, h, v0)
    assert (terms.mean, terms.mean_bound) == bon_mean_next_order(token, sol.lam, n, h, v0)
    law = RewardLaw.from_tokens(p, r, n)
    bon = best_of_n(law, log_n=n * sol.delta)
    sigma = math.sqrt(sol.law.var())
    u_bar, entropy = lattice_gumbel(sol.lam, sigma, h, n, sol.mean, v0)
    log_w = math.log(sigma * math.sqrt(2 * math.pi * n) / h)
    rounding = 64 * np.finfo(float).eps * (1 + n * sol.delta)
    for exact, expansion, term, bound in (
        (bon.kl(law.tilt(sol.lam)), log_w - entropy, terms.kl_phi, terms.kl_phi_bound),
        (bon.kl(law), n * sol.delta + sol.lam * u_bar + log_w - entropy, terms.kl_p, terms.kl_p_bound),
    ):
        assert abs(exact - expansion - term) <= bound + rounding
    assert abs(terms.kl_phi) > 2 * (terms.kl_phi_bound + rounding)


def test_a_window_outside_the_tail_expansion_is_refused():
    token = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="too short for this budget"):
        bon_mean_next_order(token, 0.05, 20, 1.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [(dict(lam=0.0), "must be positive"), (dict(step=-1.0), "must be positive"), (dict(n=0), "n")],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = dict(token=RewardLaw([0.0, 1.0, 2.0], [0.5, 0.3, 0.2]), lam=1.0, n=1000, step=1.0, v0=0.0)
    with pytest.raises(ValueError, match=match):
        bon_mean_next_order(**{**args, **kwargs})
