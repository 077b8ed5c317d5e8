import math

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import random_policy_on, reward_laws

from lmalign import RewardLaw, kl_constrained
from lmalign.tilting import kl_regularized, solve_lambda, tilt_kl


@settings(max_examples=60)
@given(reward_laws())
def test_gibbs_identity(law):
    """E_phi r - D(phi||p)/l = (kappa(l) - D(phi||phi_l))/l for every phi << p (C1)."""
    rng = np.random.default_rng(1)
    phi = random_policy_on(law, rng)
    for lam in (0.1, 1.0, 3.0):
        lhs = phi.mean() - phi.kl(law) / lam
        rhs = (law.cgf(lam) - phi.kl(law.tilt(lam))) / lam
        assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@settings(max_examples=60)
@given(reward_laws())
def test_r2_identity(law):
    """D(phi||phi_D) = D(phi||p) - D + l*(E_{phi_D} r - E_phi r) (C4)."""
    rng = np.random.default_rng(2)
    phi = random_policy_on(law, rng)
    delta = 0.5 * law.max_kl
    sol = kl_constrained(law, delta)
    lhs = phi.kl(sol.law)
    rhs = phi.kl(law) - delta + sol.lam * (sol.mean - phi.mean())
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-10)


@settings(max_examples=60)
@given(reward_laws())
def test_solution_meets_the_budget_and_kl_increases_with_lambda(law):
    kls = [tilt_kl(law, lam) for lam in np.linspace(0, 8, 33)]
    assert kls[0] == 0.0
    assert all(b > a for a, b in zip(kls[1:], kls[2:], strict=False)) or len(law) == 1
    assert kls[-1] < law.max_kl + 1e-12
    for frac in (1e-6, 0.2, 0.9, 0.999):
        delta = frac * law.max_kl
        sol = kl_constrained(law, delta)
        assert sol.kl == pytest.approx(delta, rel=1e-11)
        assert sol.lam > 0
        # l kappa'(l) - kappa(l) is the same number; that formula cancels, with rounding ~ eps * lam * max|v|
        conditioning = 1e-13 * max(1.0, sol.lam * float(np.abs(law.values).max()))
        assert sol.lam * sol.mean - law.cgf(sol.lam) == pytest.approx(delta, rel=1e-8, abs=conditioning)


def test_edge_budgets():
    law = RewardLaw([0.0, 1.0, 3.0], [0.5, 0.3, 0.2])
    s0 = kl_constrained(law, 0.0)
    assert s0.lam == 0.0 and s0.law is law and s0.kl == 0.0
    for delta in (law.max_kl, law.max_kl + 1.0):
        s = kl_constrained(law, delta)
        assert s.lam == math.inf
        assert s.law.values.tolist() == [3.0] and s.mean == 3.0
        assert s.kl == pytest.approx(-math.log(0.2), rel=1e-15)
    flat = RewardLaw([2.0], [1.0])
    assert kl_constrained(flat, 1.0).lam == 0.0


def test_extreme_rewards_and_tiny_probabilities():
    law = RewardLaw([-1e6, 0.0, 1e6], [1 - 2e-300, 1e-300, 1e-300])
    for delta in (1e-3, 1.0, 100.0, 600.0, 690.0):
        sol = kl_constrained(law, delta)
        assert sol.kl == pytest.approx(delta, rel=1e-12)
        assert math.isfinite(sol.lam) and sol.lam > 0


def test_tiny_budget_keeps_relative_precision():
    law = RewardLaw([0.0, 1.0, 2.0, 5.0], [0.4, 0.3, 0.2, 0.1])
    sol = kl_constrained(law, 1e-20)
    assert sol.kl == pytest.approx(1e-20, rel=1e-12)
    # small-budget asymptotics: lam ~ sqrt(2 delta / Var)
    assert sol.lam == pytest.approx(math.sqrt(2e-20 / law.var()), rel=1e-6)


def test_kl_regularized_is_the_tilt():
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    np.testing.assert_allclose(kl_regularized(law, 0.5).probs, law.tilt(2.0).probs)
    assert kl_regularized(law, 0.0).values.tolist() == [1.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x"])
def test_bad_delta(bad):
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="delta"):
        kl_constrained(law, bad)
    with pytest.raises(ValueError, match="law"):
        solve_lambda([0, 1], 0.1)


def test_long_sequence_law_with_underflowing_levels():
    """Levels whose mass is below the smallest float must not turn the tilt KL into 0 * inf = NaN."""
    p = np.random.default_rng(1).dirichlet(np.ones(10))
    r = np.arange(10) * 0.5 - 1
    law = RewardLaw.from_tokens(p, r, 400)
    assert law.logprobs.min() < -800
    delta = 400 * 0.9 * RewardLaw(r, p).max_kl
    sol = kl_constrained(law, delta)
    assert sol.kl == pytest.approx(delta, rel=1e-11)
    assert tilt_kl(law, sol.lam) == pytest.approx(sol.lam * sol.mean - law.cgf(sol.lam), rel=1e-9)


def test_tilting_uses_only_the_named_interface_of_the_law():
    """tilting.py reads no private attribute of any object and imports no private name of the law module."""
    import ast
    from pathlib import Path

    from lmalign import tilting

    tree = ast.parse(Path(tilting.__file__).read_text(encoding="utf-8"))
    private = sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        }
    )
    imported = sorted(
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "lmalign.law"
        for alias in node.names
        if alias.name.startswith("_")
    )
    assert private == [] and imported == []
