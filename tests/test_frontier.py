"""``python -m lmalign frontier``: reading reward files, the exact frontier, the table, JSON and plot."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmalign import RewardLaw, best_of_n, kl_constrained
from lmalign.best_of_n import bon_kl_bound
from lmalign.cli import main as cli_main
from lmalign.frontier import (
    RewardFileError,
    default_ns,
    example_file,
    example_rewards,
    frontier,
    read_rewards,
    write_example,
)
from lmalign.transforms import win_rate


def write(tmp_path, text, name="r.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- reading -------------------------------------------------------------------------------------------------------
def test_one_reward_per_line_with_comments_and_blanks(tmp_path):
    path = write(tmp_path, "# scores of model A\n1.5\n\n-2\n  3e-1 \n# end\n")
    np.testing.assert_array_equal(read_rewards(path), [1.5, -2.0, 0.3])


def test_csv_with_header_and_column(tmp_path):
    path = write(tmp_path, 'id,text,reward\n1,"a, b",0.5\n2,c,-1.25\n')
    np.testing.assert_array_equal(read_rewards(path, column="reward"), [0.5, -1.25])
    single = write(tmp_path, "score\n1\n2\n", name="single.csv")
    np.testing.assert_array_equal(read_rewards(single), [1.0, 2.0])


@pytest.mark.parametrize(
    "text, column, problem",
    [
        ("", None, "no rewards"),
        ("# only a comment\n\n", None, "no rewards"),
        ("reward\n", None, "header but no rewards"),
        ("1.0\nabc\n", None, r"line 2: reward 'abc' is not a number"),
        ("1.0\n2.0\nnan\n", None, "line 3: reward is NaN"),
        ("1.0\ninf\n", None, "line 2: reward 'inf' is infinite"),
        ("1.0\n-Infinity\n", None, "line 2: reward '-Infinity' is infinite"),
        ("a,reward\n1,2\n2,x\n", "reward", r"line 3: column 'reward' 'x' is not a number"),
        ("a,reward\n1,2\n2,\n", "reward", "line 3: empty column 'reward'"),
        ("a,reward\n1,2\n2\n", "reward", "line 3: the row has 1 fields"),
        ("a,reward\n1,2\n", "score", "no column 'score'; the header has 'a', 'reward'"),
        ("a,reward\n1,2\n", None, r"several columns \(a, reward\)"),
        ("1,2\n3,4\n", None, "line 1: 2 fields but no header row"),
        ("1\n3,4\n", None, "line 2: 2 fields where one reward was expected"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, text, column, problem):
    path = write(tmp_path, text)
    with pytest.raises(RewardFileError, match=problem):
        read_rewards(path, column=column)
    args = ["frontier", str(path), "--no-plot", "--quiet"] + (["--column", column] if column else [])
    assert cli_main(args) == 2


def test_missing_file_through_the_command(tmp_path, capsys):
    assert cli_main(["frontier", str(tmp_path / "nope.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nope.csv: no such file" in err and "Traceback" not in err
    with pytest.raises(RewardFileError, match="no such file"):
        read_rewards(tmp_path / "nope.csv")


# -- the computation -----------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=2, max_size=60), st.integers(1, 40))
def test_fast_path_equals_the_library(samples, n_extra):
    rewards = np.asarray(samples, dtype=float) / 4
    law = RewardLaw.from_samples(rewards)
    ns = sorted({1, 2, n_extra, 3 * n_extra})
    fr = frontier(rewards, max_n=64, n=ns, progress=False)
    for i, n in enumerate(ns):
        bon = best_of_n(law, n=n)
        assert fr.bon_kl[i] == pytest.approx(bon.kl(law), rel=1e-11, abs=1e-13)
        assert fr.bon_mean[i] == pytest.approx(bon.mean(), rel=1e-11, abs=1e-12)
        assert fr.bon_win[i] == pytest.approx(win_rate(bon, law), rel=1e-11)
        assert fr.bon_kl[i] <= bon_kl_bound(n=n) + 1e-12
        if len(law) > 1 and fr.bon_kl[i] > 0 and math.isfinite(fr.opt_lam[i]):
            sol = kl_constrained(law, fr.bon_kl[i])
            assert fr.opt_mean[i] == pytest.approx(sol.mean, rel=1e-9, abs=1e-10)
            assert fr.opt_win[i] == pytest.approx(win_rate(sol.law, law), rel=1e-9, abs=1e-10)
            assert fr.opt_mean[i] >= fr.bon_mean[i] - 1e-9 * max(1.0, abs(fr.bon_mean[i]))


def test_distinct_samples_approach_the_formula():
    """Many distinct samples behave like a continuous law: D(BoN||p) close to log N - (N-1)/N from below."""
    rewards = np.random.default_rng(3).normal(size=100_000)
    fr = frontier(rewards, max_n=16, progress=False)
    assert np.all(fr.bon_kl <= fr.bound + 1e-12)
    assert np.all(fr.bound - fr.bon_kl < 1e-3)
    assert np.allclose(fr.bon_win, fr.n / (fr.n + 1), atol=1e-4)  # E[u] of the max of N uniforms


def test_single_value_and_default_ns():
    fr = frontier([2.0, 2.0, 2.0], max_n=8, progress=False)
    assert fr.levels == 1 and np.all(fr.bon_kl == 0) and np.all(fr.opt_mean == 2.0)
    assert default_ns(1024) == [2**j for j in range(11)]
    assert default_ns(100) == [1, 2, 4, 8, 16, 32, 64, 100]
    with pytest.raises(ValueError, match="max_n"):
        frontier([1.0, 2.0], max_n=0)


def test_rewards_at_the_float_limits_give_numbers():
    """Rewards at ``±1e308``: at large N the optimum is the top level (``lam = inf``); ``inf / (span * scale)``
    with an overflowing ``span * scale`` was NaN."""
    fr = frontier([-1e308, 1e308], max_n=10**6, progress=False)
    assert fr.opt_lam[-1] == math.inf and fr.opt_mean[-1] == 1e308
    assert not np.isnan(fr.opt_lam).any() and (fr.opt_lam[1:] > 0).all()
    tiny = frontier([0.0, 5e-324, 1e-320], max_n=4, progress=False)
    assert 0 < tiny.bon_mean[-1] < 1e-320 and (tiny.opt_lam[1:] > 0).all()  # lam ~ 1/1e-320: inf


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"prompts": 10**18}, "at most"),  # tried to allocate 7 EiB (MemoryError) before
        ({"prompts": 10**4, "per_prompt": 10**4}, "at most"),
        ({"prompts": 0}, "prompts"),
        ({"per_prompt": 2.5}, "per_prompt"),
        ({"seed": "s"}, "seed"),  # TypeError from numpy before
        ({"seed": -1}, "seed"),
    ],
)
def test_example_rewards_validates_before_allocating(kwargs, match):
    from lmalign.frontier import example_rewards

    with pytest.raises(ValueError, match=match):
        example_rewards(**kwargs)


# -- the command -----------------------------------------------------------------------------------------------------
def test_command_table_json_and_plot(tmp_path, capsys):
    path = write_example(tmp_path / "ex.csv")
    out = tmp_path / "plot.png"
    assert cli_main(["frontier", str(path), "--column", "reward", "--max-n", "64", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("# 2000 reward samples")
    rows = [line.split() for line in lines if line.strip() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 4, 8, 16, 32, 64]
    for r in rows:
        assert float(r[2]) <= float(r[1]) + 1e-6
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plot written to" in captured.err

    assert (
        cli_main(["frontier", str(path), "--column", "reward", "--n", "3", "5", "--json", "--no-plot", "--quiet"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["samples"] == 2000 and [r["n"] for r in data["rows"]] == [3, 5]
    assert all(r["bon_kl"] <= r["bound"] for r in data["rows"])

    assert (
        cli_main(
            ["frontier", str(path), "--column", "reward", "--max-n", "40", "--all", "--json", "--no-plot", "--quiet"]
        )
        == 0
    )
    assert [r["n"] for r in json.loads(capsys.readouterr().out)["rows"]] == list(range(1, 41))


def test_bad_option_values_are_one_line_errors(tmp_path, capsys):
    path = write(tmp_path, "1\n2\n3\n")
    assert cli_main(["frontier", str(path), "--max-n", "0", "--quiet"]) == 2
    assert "--max-n 0" in capsys.readouterr().err
    assert cli_main(["frontier", str(path), "--out", str(tmp_path / "x.txt"), "--quiet"]) == 2
    assert ".svg, .png or .pdf" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["frontier", "--help"])
    assert exc.value.code == 0
    assert "--column" in capsys.readouterr().out


def test_committed_example_is_the_generator_output(tmp_path):
    committed = example_file()
    assert committed.read_bytes() == write_example(tmp_path / "ex.csv").read_bytes()
    ids, rewards = example_rewards()
    np.testing.assert_array_equal(read_rewards(committed, column="reward"), rewards)
    assert ids.size == 2000


def test_progress_bars_go_to_stderr_only(tmp_path, capsys):
    path = write(tmp_path, "\n".join(str(x) for x in range(50)) + "\n")
    frontier(read_rewards(path, progress=True), max_n=8, progress=True)
    captured = capsys.readouterr()
    assert "best-of-N" in captured.err and "KL-constrained" in captured.err and captured.out == ""
    frontier([1.0, 2.0, 3.0], max_n=8, progress=False)
    assert capsys.readouterr().err == ""


def test_law_with_a_level_below_the_float_range():
    """A level of probability ``e^-800`` (0 as a float): its cumulative weights were 0/0 = NaN in every best-of-N
    row; it is left out."""
    law = RewardLaw.from_logprobs([-3.6e16, 4.9e209], [-800.0, math.log(-math.expm1(-800.0))])
    fr = frontier(law, max_n=478, progress=False)
    assert not np.isnan(fr.bon_mean).any() and (fr.bon_mean == 4.9e209).all() and (fr.bon_kl == 0).all()
