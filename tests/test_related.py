"""Closed forms of Part II against independent computations: quadrature, enumeration,
high-precision arithmetic, brute-force optimisation."""

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from strategies import reward_laws

from lmalign import RewardLaw, best_of_n
from lmalign.best_of_n import bon_kl_bound
from lmalign.bon_bounds import (
    binary_uniform_bon_kl,
    bon_kl_estimate,
    bon_kl_gap_bound,
    bon_win_gap_bound,
    bon_win_rate,
    bon_win_rate_bound,
)
from lmalign.bon_vs_tilt import bon_log_ratio, bon_tilt_projection
from lmalign.divergences import collision_entropy
from lmalign.subgaussian import subgaussian_gain_bound, subgaussian_variance_proxy
from lmalign.tilting import tilt_kl
from lmalign.transforms import log_power_mean_calibration, transform_policy
from lmalign.win_frontier import (
    bon_frontier_gap,
    frontier_win,
    quantile_tilt_kl,
    quantile_tilt_param,
    quantile_tilt_win,
)


# -- best-of-N relative entropy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 10, 50, 1000])
def test_binary_uniform_matches_exact_best_of_n_and_high_precision(n):
    law = RewardLaw([0.0, 1.0], [0.5, 0.5])
    assert binary_uniform_bon_kl(n=n) == pytest.approx(best_of_n(law, n=n).kl(law), abs=1e-14)
    mp.mp.dps = 50
    x = mp.mpf(2) ** -n
    ref = mp.log(2) + x * mp.log(x) + (1 - x) * mp.log(1 - x)
    assert binary_uniform_bon_kl(n=n) == pytest.approx(float(ref), abs=1e-15)


def test_binary_uniform_huge_n_is_log_two():
    assert binary_uniform_bon_kl(log_n=5000.0) == math.log(2)


def _mixed_law_kl(eps: float, n: int) -> float:
    """KL of best-of-n for a law uniform in quantile on (0, 1 - eps) plus a top atom eps, by quadrature."""
    mp.mp.dps = 30
    c = 1 - mp.mpf(eps)
    cont = mp.quad(lambda u: n * u ** (n - 1) * mp.log(n * u ** (n - 1)), [0, c])
    atom = 1 - c**n
    return float(cont + atom * mp.log(atom / eps))


@pytest.mark.parametrize("eps", [1e-9, 1e-3, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("n", [2, 3, 16, 200])
def test_estimator_is_the_kl_of_a_continuous_law_with_a_top_atom(eps, n):
    assert bon_kl_estimate(eps, n=n) == pytest.approx(_mixed_law_kl(eps, n), rel=1e-12, abs=1e-15)


def test_estimator_limits_and_log_n():
    assert bon_kl_estimate(0.0, n=7) == bon_kl_bound(n=7)
    assert bon_kl_estimate(1.0, n=7) == 0.0
    assert bon_kl_estimate(0.2, n=1) == 0.0
    assert bon_kl_estimate(0.3, log_n=math.log(16)) == pytest.approx(bon_kl_estimate(0.3, n=16), rel=1e-13)
    # N = e^2000 with eps = 1e-300: N eps is still huge, everything on the atom
    assert bon_kl_estimate(1e-300, log_n=2000.0) == pytest.approx(-math.log(1e-300), rel=1e-12)


@settings(max_examples=80)
@given(st.floats(1e-15, 1.0), st.integers(1, 10**6))
def test_estimator_range(eps, n):
    d = bon_kl_estimate(eps, n=n)
    assert -1e-15 <= d <= min(bon_kl_bound(n=n), -math.log(eps)) + 1e-12


@pytest.mark.parametrize(
    "bad",
    [
        dict(eps=-0.1, n=2),
        dict(eps=1.5, n=2),
        dict(eps=0.1, n=0),
        dict(eps=0.1, n=2, log_n=1.0),
        dict(eps=0.1),
        dict(eps=math.nan, n=2),
    ],
)
def test_estimator_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bon_kl_estimate(**bad)


@settings(max_examples=60)
@given(reward_laws())
def test_gap_bounds_hold(law):
    h2 = collision_entropy(law)
    for n in (2, 3, 7, 40):
        gap = bon_kl_bound(n=n) - best_of_n(law, n=n).kl(law)
        assert -1e-12 <= gap <= bon_kl_gap_bound(h2, n=n) / 2 + 1e-12  # the book proves N(N-1) e^-H2
        w = bon_win_rate(law, n=n)
        assert w <= bon_win_rate_bound(n=n) + 1e-12
        assert bon_win_rate_bound(n=n) - w <= n / 8 * math.exp(-h2) + 1e-12
        assert n / 8 * math.exp(-h2) <= bon_win_gap_bound(h2, n=n) + 1e-15


def test_gap_bound_needs_the_levels_collision_entropy():
    """A single level (all responses tied): D = 0, and a bound with the responses' H_2 = log M fails."""
    flat = RewardLaw([3.0], [1.0])
    gap = bon_kl_bound(n=4) - best_of_n(flat, n=4).kl(flat)
    assert gap > bon_kl_gap_bound(math.log(10_000), n=4)
    assert gap <= bon_kl_gap_bound(collision_entropy(flat), n=4)


def test_win_rate_by_enumeration():
    """P(best of N beats a fresh draw) + ties / 2, enumerating every tuple of N + 1 draws."""
    vals, probs = [0.0, 1.0, 1.0, 2.5], [0.4, 0.1, 0.2, 0.3]
    law = RewardLaw(vals, probs)
    for n in (1, 2, 3):
        total = 0.0
        for tup in itertools.product(range(4), repeat=n + 1):
            mass = math.prod(probs[i] for i in tup)
            best, ref = max(vals[i] for i in tup[:n]), vals[tup[n]]
            total += mass * (1.0 if best > ref else 0.5 if best == ref else 0.0)
        assert bon_win_rate(law, n=n) == pytest.approx(total, abs=1e-14)


def test_win_rate_bound_values():
    assert bon_win_rate_bound(n=1) == 0.5
    assert bon_win_rate_bound(n=9) == pytest.approx(0.9, rel=1e-15)
    assert bon_win_rate_bound(log_n=800.0) == 1.0
    with pytest.raises(ValueError):
        bon_win_gap_bound(-1.0, n=2)
    with pytest.raises(ValueError):
        bon_kl_gap_bound(math.inf, n=2)


@settings(max_examples=40)
@given(reward_laws())
def test_log_ratio_matches_high_precision(law):
    mp.mp.dps = 50
    probs = [mp.mpf(float(x)) for x in law.probs]
    total = mp.fsum(probs)
    cdf = [mp.fsum(probs[: i + 1]) / total for i in range(len(probs))]
    for n in (2, 9):
        ref = [
            float(mp.log((cdf[i] ** n - (cdf[i - 1] ** n if i else 0)) / (probs[i] / total))) for i in range(len(probs))
        ]
        np.testing.assert_allclose(bon_log_ratio(law, n=n), ref, rtol=1e-11, atol=1e-11)


# -- the quantile-tilt frontier -------------------------------------------------------------------------------------
def _quad_frontier(c: float) -> tuple[float, float]:
    """Mean and relative entropy of the density c e^{cu} / (e^c - 1) on (0, 1), by quadrature in 40 digits."""
    mp.mp.dps = 40
    c = mp.mpf(c)
    z = mp.expm1(c) / c

    def dens(u):
        return mp.exp(c * u) / z

    pts = (
        [0, 1] if abs(c) < 50 else [0, 1 - 50 / abs(c), 1 - 5 / abs(c), 1] if c > 0 else [0, 5 / abs(c), 50 / abs(c), 1]
    )
    win = mp.quad(lambda u: u * dens(u), pts)
    kl = mp.quad(lambda u: dens(u) * mp.log(dens(u)), pts)
    return float(win), float(kl)


@pytest.mark.parametrize("c", [1e-7, 1e-3, 0.3, 0.999999, 1.0, 1.000001, 2.5, 30.0, 700.0, -0.5, -40.0])
def test_frontier_formulas_against_quadrature(c):
    win, kl = _quad_frontier(c)
    assert quantile_tilt_win(c) == pytest.approx(win, rel=1e-13)
    assert quantile_tilt_kl(c) == pytest.approx(kl, rel=1e-11)


def test_frontier_vectorised_and_at_zero():
    cs = np.array([0.0, 0.5, 3.0])
    np.testing.assert_array_equal(quantile_tilt_win(cs), [quantile_tilt_win(float(c)) for c in cs])
    assert quantile_tilt_win(0.0) == 0.5 and quantile_tilt_kl(0.0) == 0.0
    assert quantile_tilt_kl(1e6) == pytest.approx(math.log(1e6) - 1, rel=1e-14)
    with pytest.raises(ValueError):
        quantile_tilt_win(math.nan)


@settings(max_examples=60)
@given(st.floats(1e-6, 1e4))
def test_frontier_inverse(c):
    assert quantile_tilt_param(quantile_tilt_kl(c)) == pytest.approx(c, rel=1e-9)


def test_frontier_inverse_edges():
    assert quantile_tilt_param(0.0) == 0.0
    assert frontier_win(0.0) == 0.5
    with pytest.raises(ValueError):
        quantile_tilt_param(-1e-3)


def test_bon_frontier_gap_against_high_precision():
    """Solve KL(c) = log N - (N-1)/N with mpmath on the closed forms, independently of the library."""
    mp.mp.dps = 40
    for n in (2, 3, 10, 100):
        target = mp.log(n) - mp.mpf(n - 1) / n
        c = mp.findroot(lambda x, d=target: mp.log(x / mp.expm1(x)) + x * mp.exp(x) / mp.expm1(x) - 1 - d, n + 1)
        ref = mp.exp(c) / mp.expm1(c) - 1 / c - mp.mpf(n) / (n + 1)
        assert bon_frontier_gap(n=n) == pytest.approx(float(ref), rel=1e-8)
    gaps = [bon_frontier_gap(n=n) for n in range(2, 60)]
    assert all(0 < g < 1e-2 for g in gaps)
    assert all(b < a for a, b in zip(gaps, gaps[1:], strict=False))
    assert bon_frontier_gap(n=1) == 0.0


# -- best-of-N as a transformed-reward tilt ------------------------------------------------------------------------
@settings(max_examples=40)
@given(reward_laws())
def test_power_mean_calibration(law):
    mp.mp.dps = 40
    cdf = np.concatenate(([0.0], np.cumsum(law.probs)))
    for n in (2, 3, 12):
        lu = log_power_mean_calibration(law, n)
        for k in range(len(law)):
            a, b = mp.mpf(float(cdf[k])), mp.mpf(float(cdf[k + 1]))
            ref = mp.log((b**n - a**n) / (n * (b - a))) / (n - 1)  # mean of u^(n-1) over the cell, 40 digits
            assert lu[k] == pytest.approx(float(ref), rel=1e-8, abs=1e-10)
        assert np.all(np.exp(lu) >= cdf[:-1] * (1 - 1e-12)) and np.all(np.exp(lu) <= cdf[1:] * (1 + 1e-12))
        pol = transform_policy(law, lambda v, lu=lu: lu, beta=1.0 / (n - 1))
        np.testing.assert_allclose(pol.logprobs, best_of_n(law, n=n).logprobs, rtol=1e-12, atol=1e-12)


def test_power_mean_needs_two_draws():
    with pytest.raises(ValueError):
        log_power_mean_calibration(RewardLaw([0.0, 1.0], [0.5, 0.5]), 1)


# -- sub-Gaussian variance proxy --------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.02, 0.2, 0.5, 0.8])
def test_two_point_proxy_is_kearns_saul(q):
    law = RewardLaw([0.0, 1.0], [1 - q, q])
    expected = 0.25 if q == 0.5 else (1 - 2 * q) / (2 * math.log((1 - q) / q))
    assert subgaussian_variance_proxy(law, side="both") == pytest.approx(expected, rel=1e-10)


@settings(max_examples=40)
@given(reward_laws())
def test_proxy_dominates_the_cgf_everywhere(law):
    """sigma^2 >= 2(kappa(t) - t mu)/t^2 at random t (evaluated in 40 digits), >= Var, <= Hoeffding."""
    s2 = subgaussian_variance_proxy(law)
    span = law.values[-1] - law.values[0]
    assert law.var() * (1 - 1e-12) <= s2 <= span**2 / 4 * (1 + 1e-12)
    mp.mp.dps = 40
    probs = [mp.mpf(float(x)) for x in law.probs]
    vals = [mp.mpf(float(v)) for v in law.values]
    mean = mp.fsum(p * v for p, v in zip(probs, vals, strict=True)) / mp.fsum(probs)
    for t in np.geomspace(1e-3, 1e3, 25) / span:
        t = mp.mpf(float(t))
        kc = mp.log(mp.fsum(p * mp.exp(t * (v - mean)) for p, v in zip(probs, vals, strict=True)) / mp.fsum(probs))
        assert float(2 * kc / t**2) <= s2 * (1 + 1e-9)


def test_proxy_sides_and_validation():
    law = RewardLaw([0.0, 1.0, 5.0], [0.5, 0.4, 0.1])
    up, down = subgaussian_variance_proxy(law, "upper"), subgaussian_variance_proxy(law, "lower")
    assert subgaussian_variance_proxy(law, "both") == max(up, down)
    mirrored = RewardLaw(-law.values, law.probs)
    assert subgaussian_variance_proxy(mirrored, "lower") == pytest.approx(up, rel=1e-12)
    assert subgaussian_variance_proxy(RewardLaw([2.0], [1.0])) == 0.0
    with pytest.raises(ValueError):
        subgaussian_variance_proxy(law, "sideways")
    with pytest.raises(ValueError):
        subgaussian_variance_proxy([0.5, 0.5])


def test_gain_bound_values_and_validation():
    assert subgaussian_gain_bound(2.0, 0.25) == pytest.approx(1.0, rel=1e-15)
    assert subgaussian_gain_bound(1.0, 0.0) == 0.0
    for bad in [(-1.0, 0.1), (1.0, -0.1), (math.inf, 0.1), (math.nan, 0.1)]:
        with pytest.raises(ValueError):
            subgaussian_gain_bound(*bad)


# -- projection of best-of-N on the tilts ------------------------------------------------------------------------------
@settings(max_examples=40)
@given(reward_laws())
def test_projection_is_the_minimum_over_lambda(law):
    for n in (2, 5):
        lam_hat, d_min = bon_tilt_projection(law, n=n)
        bon = best_of_n(law, n=n)
        assert bon.mean() == pytest.approx(law.tilt(lam_hat).mean(), rel=1e-9, abs=1e-12)
        span = law.values[-1] - law.values[0]
        res = minimize_scalar(
            lambda s, b=bon, w=span: b.kl(law.tilt(math.exp(s) / w)),
            bounds=(-12, 6),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert d_min <= res.fun + 1e-12
        # Pythagorean identity
        assert bon.kl(law) == pytest.approx(d_min + tilt_kl(law, lam_hat), rel=1e-10, abs=1e-13)


def test_projection_exact_cases():
    two = RewardLaw([0.0, 1.0], [0.3, 0.7])
    for n in (2, 7, 300):
        lam, d = bon_tilt_projection(two, n=n)
        assert d < 1e-25
        # two levels: lambda = log of the ratio of the two reweightings
        ratio = bon_log_ratio(two, n=n)
        assert lam == pytest.approx(ratio[1] - ratio[0], rel=1e-10)
    assert bon_tilt_projection(RewardLaw([1.0], [1.0]), n=5) == (0.0, 0.0)
    three = RewardLaw([0.0, math.log(3), math.log(5)], [1 / 3] * 3)
    assert bon_tilt_projection(three, n=2)[1] < 1e-25
    assert bon_tilt_projection(three, n=3)[1] > 1e-5
    lam, d = bon_tilt_projection(three, log_n=5000.0)
    assert lam == math.inf and d == 0.0


# -- extreme inputs (found by tests/test_fuzz.py) ------------------------------------------------------------------
def test_gap_bounds_at_huge_n_and_entropy_are_numbers():
    """``N = e^1e300`` with ``H_2 = 1e8``: the product ``inf * 0`` was NaN; in logs it is ``e^(1e300 - 1e8)``."""
    assert bon_win_gap_bound(1e8, log_n=1e300) == math.inf
    assert bon_kl_gap_bound(1e8, log_n=1e300) == math.inf
    assert bon_kl_gap_bound(800.0, log_n=10.0) == pytest.approx(
        2 * math.exp(10) * (math.exp(10) - 1) * math.exp(-800.0), rel=1e-12
    )
    assert bon_win_gap_bound(0.5, n=3) == pytest.approx(math.exp(-0.5), rel=1e-15)
    assert bon_kl_gap_bound(3.0, n=1) == bon_win_gap_bound(3.0, n=1) == 0.0


def test_frontier_beyond_the_float_range_of_c():
    """``KL > KL(largest float)`` (about 708.4) gives ``c = inf`` and win rate 1, and best-of-N with
    ``N > e^709`` sits on the frontier to ``O(1/N^3)``; these overflowed ``math.exp`` before."""
    assert quantile_tilt_param(1e77) == math.inf and frontier_win(1e77) == 1.0
    assert frontier_win(math.inf) == 1.0
    assert quantile_tilt_param(700.0) == pytest.approx(math.exp(701.0), rel=1e-3)  # KL(c) = log c - 1 + o(1)
    assert bon_frontier_gap(log_n=710.0) == 0.0 and bon_frontier_gap(log_n=1e300) == 0.0
    assert 0 <= bon_frontier_gap(log_n=700.0) < 1e-300
    assert quantile_tilt_win([math.inf, -math.inf]).tolist() == [1.0, 0.0]
    assert quantile_tilt_kl(-math.inf) == math.inf


@pytest.mark.parametrize("bad", [1j, "a", None, [[1.0], [2.0, 3.0]], math.nan])
def test_frontier_rejects_non_real_c(bad):
    with pytest.raises(ValueError, match="c "):
        quantile_tilt_win(bad)
    with pytest.raises(ValueError, match="c "):
        quantile_tilt_kl(bad)


@pytest.mark.parametrize(
    "eps, log_n",
    [(0.4016515767858647, 6.914355045398401e-10), (0.5, 1e-100), (1e-300, 1e-5), (0.3, 0.999), (0.7, 1e-3)],
)
def test_estimator_for_n_near_one_against_high_precision(eps, log_n):
    """Near ``N = 1`` the estimate is ``O(log(N)^2)`` while its terms are of size 1: in floats it came out
    ``-3e-17`` (negative) at ``log N = 7e-10``; now within 1e-14 of a 1500-digit evaluation."""
    with mp.workdps(1500):
        e, x = mp.mpf(eps), mp.mpf(log_n)
        log_a = mp.exp(x) * mp.log1p(-e)
        a, frac, one_m = mp.exp(log_a), -mp.expm1(-x), -mp.expm1(log_a)
        ref = float(a * (x + log_a * frac - frac) + one_m * (mp.log(one_m) - mp.log(e)))
    assert bon_kl_estimate(eps, log_n=log_n) == pytest.approx(ref, rel=1e-14)
    assert bon_kl_estimate(0.5, log_n=5e-324) == 0.0  # 1e-647 underflows, never below 0


@pytest.mark.parametrize("log_n", [6.796664184727986e-13, 1e-5, 0.1, 0.3, 0.4, 0.5, 2.0])
def test_binary_uniform_near_n_one_against_high_precision(log_n):
    """``log 2 - h(2^-N)`` cancels near ``N = 1`` (it was ``-1.1e-16`` at ``log N = 7e-13``): the series in
    ``u = 1 - 2^{-(N-1)}`` keeps full relative precision."""
    with mp.workdps(100):
        x = mp.mpf(2) ** (-mp.exp(mp.mpf(log_n)))
        ref = float(mp.log(2) + x * mp.log(x) + (1 - x) * mp.log1p(-x))
    assert binary_uniform_bon_kl(log_n=log_n) == pytest.approx(ref, rel=2e-15)
    assert binary_uniform_bon_kl(log_n=1e-300) == 0.0 and binary_uniform_bon_kl(n=1) == 0.0
