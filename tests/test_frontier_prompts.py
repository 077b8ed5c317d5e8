"""Per-prompt best-of-N, the shared-multiplier optimum, finite-sample estimators, bootstrap and numerical edges."""

import json
import math
from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import brentq

from lmalign import RewardLaw, best_of_n
from lmalign.cli import main as cli_main
from lmalign.frontier import MAX_N, example_file, example_rewards, frontier
from lmalign.tilting import tilt_kl
from lmalign.transforms import win_rate


def _prompts(seed=5, prompts=25):
    rng = np.random.default_rng(seed)
    ids, rewards = [], []
    for g in range(prompts):
        m = int(rng.integers(3, 12))
        ids += [f"p{g}"] * m
        rewards += list(np.round(rng.normal(rng.normal(), 1 + g % 3, size=m), 1))  # ties, unequal spreads
    return np.array(ids), np.array(rewards)


def test_per_prompt_equals_an_independent_computation():
    """Each row is the average over prompts of best_of_n on that prompt's law; the optimum shares one lambda,
    found here by root-finding on the average of the library's tilt_kl."""
    ids, rewards = _prompts()
    laws = [RewardLaw.from_samples(rewards[ids == g]) for g in dict.fromkeys(ids)]
    ns = [1, 2, 3, 5, 8, 20]
    fr = frontier(rewards, groups=ids, n=ns, max_n=20, progress=False)
    assert fr.groups == len(laws) and fr.per_prompt
    for i, n in enumerate(ns):
        bons = [best_of_n(law, n=n) for law in laws]
        kl = np.mean([b.kl(law) for b, law in zip(bons, laws, strict=True)])
        assert fr.bon_kl[i] == pytest.approx(kl, rel=1e-11, abs=1e-14)
        assert fr.bon_mean[i] == pytest.approx(np.mean([b.mean() for b in bons]), rel=1e-12)
        assert fr.bon_win[i] == pytest.approx(
            np.mean([win_rate(b, law) for b, law in zip(bons, laws, strict=True)]), rel=1e-12
        )
        if n == 1:
            assert fr.opt_lam[i] == 0
            continue
        lam = brentq(lambda u, kl=kl: np.mean([tilt_kl(law, math.exp(u)) for law in laws]) - kl, -20, 10, xtol=1e-14)
        lam = math.exp(lam)
        assert fr.opt_lam[i] == pytest.approx(lam, rel=1e-8)
        assert fr.opt_mean[i] == pytest.approx(np.mean([law.tilt(lam).mean() for law in laws]), rel=1e-9)
        assert fr.opt_win[i] == pytest.approx(np.mean([win_rate(law.tilt(lam), law) for law in laws]), rel=1e-9)
        assert fr.opt_mean[i] >= fr.bon_mean[i] - 1e-12


def test_pooled_and_per_prompt_differ_on_the_example():
    """The numbers of the issue: pooled gains 0.701 and 1.279 at N = 2, 4; per prompt 0.283 and 0.537 exactly on
    five samples, and the unbiased estimate near the population's 0.5 log N (Gumbel(0, 0.5) response quality)."""
    ids, rewards = example_rewards()
    pooled = frontier(rewards, n=[2, 4], max_n=4, progress=False)
    per = frontier(rewards, groups=ids, n=[2, 4], max_n=4, progress=False)
    np.testing.assert_allclose(pooled.bon_mean - pooled.reference_mean, [0.701, 1.279], atol=5e-4)
    np.testing.assert_allclose(per.bon_mean - per.reference_mean, [0.283, 0.537], atol=5e-4)
    np.testing.assert_allclose(per.bon_mean_unbiased - per.reference_mean, 0.5 * np.log([2, 4]), atol=0.02)


def test_unbiased_estimator_is_the_average_over_subsets():
    """sum_i C(i-1, N-1)/C(m, N) r_(i) equals the mean, over all N-subsets, of the subset's maximum."""
    ids, rewards = _prompts(seed=2, prompts=6)
    fr = frontier(rewards, groups=ids, n=[1, 2, 3], max_n=3, progress=False)
    for i, n in enumerate([1, 2, 3]):
        per = [np.mean([max(c) for c in combinations(rewards[ids == g].tolist(), n)]) for g in dict.fromkeys(ids)]
        assert fr.bon_mean_unbiased[i] == pytest.approx(np.mean(per), rel=1e-12)
    more = frontier(rewards, groups=ids, n=[50], max_n=50, progress=False)
    assert math.isnan(more.bon_mean_unbiased[0])  # N beyond a prompt's samples: no unbiased estimate


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    ids, rewards = example_rewards()
    a = frontier(rewards, groups=ids, n=[1, 2, 4], max_n=4, progress=False, bootstrap=200, seed=3)
    b = frontier(rewards, groups=ids, n=[1, 2, 4], max_n=4, progress=False, bootstrap=200, seed=3)
    c = frontier(rewards, groups=ids, n=[1, 2, 4], max_n=4, progress=False, bootstrap=200, seed=4)
    for key in ("bon_mean", "opt_mean", "bon_win", "opt_win", "bon_mean_unbiased"):
        np.testing.assert_array_equal(a.ci[key], b.ci[key])
    assert not np.array_equal(a.ci["bon_mean"], c.ci["bon_mean"])
    for key, est in (("bon_mean", a.bon_mean), ("opt_mean", a.opt_mean), ("bon_kl", a.bon_kl)):
        assert np.all(a.ci[key][:, 0] <= est + 1e-12) and np.all(est <= a.ci[key][:, 1] + 1e-12)
    # the spread of prompt offsets (N(0, 1) over 400 prompts) gives a mean interval of width about 4/sqrt(400)
    width = a.ci["bon_mean"][0, 1] - a.ci["bon_mean"][0, 0]
    assert 0.12 < width < 0.28
    with pytest.raises(ValueError, match="groups"):
        frontier(rewards, n=[2], max_n=2, bootstrap=10)


def test_heavy_tail_is_flagged(capsys, tmp_path):
    rng = np.random.default_rng(0)
    heavy = rng.pareto(1.1, size=5000)  # tail index 1.1: e^{lam r} has no mean for any lam > 0
    light = rng.normal(size=5000)
    fh = frontier(heavy, n=[16], max_n=16, progress=False)
    fl = frontier(light, n=[16], max_n=16, progress=False)
    assert fh.opt_top_share[0] > 0.5 > fl.opt_top_share[0]
    path = tmp_path / "heavy.txt"
    np.savetxt(path, heavy)
    assert cli_main(["frontier", str(path), "--max-n", "16", "--no-plot"]) == 0
    assert "heavy upper tail" in capsys.readouterr().err


def test_command_per_prompt_json_and_warnings(capsys):
    path = str(example_file())
    assert (
        cli_main(
            [
                "frontier",
                path,
                "--column",
                "reward",
                "--group",
                "prompt_id",
                "--max-n",
                "8",
                "--json",
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["groups"] == 400 and data["per_prompt"] and data["min_samples_per_group"] == 5
    row = data["rows"][1]
    assert set(row) >= {"n", "bon_kl", "bon_mean", "bon_win", "opt_lam", "opt_mean", "opt_win", "ci"}
    assert data["rows"][-1]["bon_mean_unbiased"] is None  # N = 8 > 5 samples
    assert "only 5 samples" in captured.err
    assert cli_main(["frontier", path, "--column", "reward", "--max-n", "4", "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert "pass --group prompt_id" in captured.err and "pooled into one law" in captured.out
    assert cli_main(["frontier", path, "--column", "reward", "--group", "prompt_id", "--max-n", "4", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "beta = 1/lambda" in out and "400 prompts" in out


# -- numerical edges -------------------------------------------------------------------------------------------------
def test_binary_rewards_at_large_n_have_a_finite_multiplier():
    """Two levels: best-of-N and the optimum at its KL are the same law, so lambda = log(m (1-q) / ((1-m) q))
    with m = 1 - (1-q)^N, and E_opt = m; the old search stopped at 0.999 D_max and printed lambda = inf."""
    rewards = np.zeros(10_000)
    rewards[:1000] = 1.0
    fr = frontier(rewards, n=[100], max_n=100, progress=False)
    m = -math.expm1(100 * math.log(0.9))
    assert fr.opt_lam[0] == pytest.approx(math.log(m / (1 - m) * 9), rel=1e-9)
    assert fr.opt_mean[0] == pytest.approx(m, rel=1e-12) and fr.bon_mean[0] == pytest.approx(m, rel=1e-12)


@pytest.mark.parametrize(
    "values",
    [
        [-1e200, 0.0, 1e200, 3e200],
        [-1.7e308, 0.0, 1e308, 1.7e308],
        [1e-300, 2e-300, 5e-300],
        [1e15, 1e15 + 0.25, 1e15 + 0.5],
    ],
)
def test_extreme_spreads_end_and_stay_finite(values):
    fr = frontier(values, max_n=64, progress=False)
    for arr in (fr.bon_kl, fr.bon_mean, fr.opt_mean, fr.tilt_mean):
        assert np.all(np.isfinite(arr))
    assert np.all(fr.opt_mean >= fr.bon_mean - 1e-12 * np.abs(fr.bon_mean))
    assert np.all(np.diff(fr.bon_mean) >= 0) and fr.bon_mean[-1] <= max(values)
    json.dumps(fr.to_dict(), allow_nan=False)


def test_json_is_strict_when_lambda_is_infinite(tmp_path, capsys):
    path = tmp_path / "r.txt"
    path.write_text("0\n1\n")
    assert cli_main(["frontier", str(path), "--max-n", "100000", "--n", "100000", "--json", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Infinity" not in text and "NaN" not in text
    row = json.loads(text)["rows"][0]
    assert row["opt_lam"] is None and row["opt_mean"] == 1.0


def test_limits_on_n():
    with pytest.raises(ValueError, match="at most"):
        frontier([1.0, 2.0], max_n=MAX_N + 1)
    assert frontier([1.0, 2.0], n=[MAX_N], max_n=MAX_N, progress=False).bon_mean[0] == pytest.approx(2.0)
