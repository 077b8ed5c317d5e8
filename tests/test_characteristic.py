"""The characteristic function away from its principal frequency (``lmalign.characteristic``): the certified
bound on its modulus against closed forms and a dense independent evaluation, and the regime it decides for the
lattice expansion of best-of-N (chapter 6)."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from lmalign import RewardLaw, best_of_n, kl_constrained
from lmalign.best_of_n import lattice_gumbel
from lmalign.bon_expansion import bon_next_order
from lmalign.characteristic import nonprincipal_modulus
from lmalign.memoryless import lattice_steps

TOL = 1e-9


def modulus(omega, values, q):
    return abs(np.exp(1j * omega * values) @ q)


def reference(law: RewardLaw, lam: float) -> float:
    """max |phi| over [2 pi/(hK), pi/h] from below: a grid of 20,001 points, then a bounded local search around
    the best ten grid points (every value returned is the modulus at some frequency, so at most the maximum)."""
    _, h, k = lattice_steps(law.values)
    tilted = law.tilt(lam)
    values, q = tilted.values - tilted.mean(), tilted.probs
    lo, hi = 2 * math.pi / (h * (k[-1] + 1)), math.pi / h
    grid = np.linspace(lo, hi, 20_001)
    f = np.abs(np.exp(1j * np.outer(grid, values)) @ q)
    best = float(f.max())
    step = grid[1] - grid[0] if grid.size > 1 else 0.0
    for i in np.argsort(f)[-10:]:
        a, b = max(lo, grid[i] - step), min(hi, grid[i] + step)
        if b > a:
            res = minimize_scalar(
                lambda w: -modulus(w, values, q), bounds=(a, b), method="bounded", options={"xatol": 1e-13}
            )
            best = max(best, -float(res.fun))
    return best


def random_lattice_law(rng) -> RewardLaw:
    size = int(rng.integers(2, 9))
    while True:
        k = np.unique(rng.choice(np.arange(int(rng.integers(size, 16))), size=size, replace=False))
        k = k - k[0]
        if k.size >= 2 and np.gcd.reduce(k) == 1:
            break
    h = float(rng.choice([0.1, 0.25, 0.5, 1.0, 3.0]))
    p = rng.dirichlet(np.full(k.size, float(rng.choice([0.2, 1.0, 5.0]))))
    return RewardLaw(1.5 + h * k, p)


def test_two_levels_give_the_difference_of_their_masses():
    for q0 in (0.0001, 0.3, 0.5, 0.9):
        rho = nonprincipal_modulus(RewardLaw([2.0, 2.5], [q0, 1 - q0]))
        assert abs(1 - 2 * q0) <= rho <= abs(1 - 2 * q0) + TOL + 2e-12


def test_the_bound_brackets_the_maximum_on_random_lattice_laws():
    rng = np.random.default_rng(20261207)
    for _ in range(60):
        law = random_lattice_law(rng)
        lam = float(rng.normal(0.0, 3.0))
        rho = nonprincipal_modulus(law, lam, tol=TOL)
        ref = reference(law, lam)
        assert ref <= rho + 1e-12, (law.values, lam, ref, rho)  # an upper bound
        assert rho - ref <= TOL + 1e-11, (law.values, lam, ref, rho)  # within its tolerance


def test_a_rare_token_that_sets_the_step_brings_rho_near_one():
    law = RewardLaw([0.5, 2.0, 3.0], [0.0278, 0.8407, 0.1315])
    for lam in (0.0, 2.0, 4.5, 8.0):
        q_half = float(law.tilt(lam).probs[0])
        rho = nonprincipal_modulus(law, lam)
        assert 1 - 2 * q_half <= rho <= 1 - 2 * q_half + TOL + 2e-12


def test_the_regime_decides_where_the_lattice_expansion_of_best_of_n_holds():
    """The expansion with its derived next-order term D_n against its bound M_n (lmalign.bon_expansion), per token:
    a case with n (-log rho) far below 30 misses it by orders of magnitude, a case far above meets it."""
    n = 2800
    found = {}
    for name, values, probs in (
        ("rare step", [0.5, 2.0, 3.0], [0.027797549489477116, 0.8407199837471587, 0.13148246676336414]),
        ("every step", [0.0, 1.0, 2.0], [0.5, 0.3, 0.2]),
    ):
        token = RewardLaw(values, probs)
        sol = kl_constrained(token, 0.8137339282840205 * token.max_kl)
        lam, x_star, sigma = sol.lam, sol.mean, math.sqrt(sol.law.var())
        v0, h, _ = lattice_steps(token.values)
        law_n = RewardLaw.from_tokens(token.probs, token.values, n)
        exact = best_of_n(law_n, log_n=n * sol.delta).mean()
        u_bar, _ = lattice_gumbel(lam, sigma, h, n, x_star, v0)
        terms = bon_next_order(token, lam, n, h, v0)
        error = abs(exact - n * x_star - u_bar - terms.mean)
        found[name] = (n * -math.log(nonprincipal_modulus(token, lam)), error / terms.mean_bound)
    assert found["rare step"][0] < 1 and found["rare step"][1] > 1000, found
    assert found["every step"][0] > 30 and found["every step"][1] < 1, found


@pytest.mark.parametrize(
    ("law", "kwargs", "message"),
    [
        (RewardLaw([1.0], [1.0]), {}, "single level"),
        (RewardLaw([0.0, 1.0, math.pi], [0.2, 0.3, 0.5]), {}, "no lattice"),
        (RewardLaw([0.0, 1.0], [0.5, 0.5]), {"lam": math.nan}, "lam"),
        (RewardLaw([0.0, 1.0], [0.5, 0.5]), {"tol": 1e-20}, "tol"),
        ([0.5, 0.5], {}, "RewardLaw"),
    ],
)
def test_what_has_no_answer_is_a_value_error(law, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nonprincipal_modulus(law, **kwargs)
