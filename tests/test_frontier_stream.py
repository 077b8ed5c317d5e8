"""A directory or glob of Parquet files is streamed into per-prompt summaries: the same numbers as the rows read
at once, whichever files and batches a prompt's rows are spread over."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmalign.cli import main as cli_main
from lmalign.frontier import RewardFileError, frontier
from lmalign.frontier.stream import is_dataset, read_summary, sort_pairs


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(4)
    ids = np.array([f"{i:03d}" if i % 2 else str(i) for i in rng.integers(0, 60, size=3000)])  # "007" and "7"
    rewards = np.round(rng.gumbel(size=ids.size), 1)  # ties across files
    for k in range(3):
        part = tmp_path / "data" / f"shard={k}"
        part.mkdir(parents=True)
        sl = slice(k * 1000, (k + 1) * 1000)
        pq.write_table(pa.table({"prompt": ids[sl], "score": rewards[sl]}), part / "rows.parquet")
    return tmp_path / "data", ids, rewards


@pytest.mark.parametrize("batch_rows", [7, 250, 1 << 20])
def test_streamed_summaries_give_the_numbers_of_the_rows(dataset, batch_rows):
    folder, ids, rewards = dataset
    summary = read_summary(folder, "score", "prompt", batch_rows=batch_rows)
    assert summary.samples == rewards.size and len(summary.files) == 3
    # the summaries are the per-prompt laws: distinct rewards with their counts
    for code, pid in enumerate(summary.ids):
        mine = summary.gid == code
        values, counts = np.unique(rewards[ids == pid], return_counts=True)
        np.testing.assert_array_equal(summary.values[mine], values)
        np.testing.assert_array_equal(summary.counts[mine], counts)
    streamed = frontier(summary, n=[1, 2, 8], max_n=8, progress=False)
    direct = frontier(rewards, groups=ids, n=[1, 2, 8], max_n=8, progress=False)
    assert streamed.groups == direct.groups == len(set(ids.tolist()))
    for key in ("bon_kl", "bon_mean", "opt_mean", "opt_win", "bon_mean_unbiased"):
        np.testing.assert_allclose(getattr(streamed, key), getattr(direct, key), rtol=1e-13, atol=1e-13)


def test_the_command_streams_a_directory_or_a_glob(dataset, capsys):
    folder, ids, rewards = dataset
    assert is_dataset(folder) and is_dataset(f"{folder}/*/*.parquet") and not is_dataset("x.parquet")
    outs = []
    for source in (str(folder), f"{folder}/*/*.parquet"):
        assert cli_main(["frontier", source, "--column", "score", "--group", "prompt", "--json", "--max-n", "4"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["rows"] == outs[1]["rows"]
    assert outs[0]["groups"] == len(set(ids.tolist())) and outs[0]["samples"] == rewards.size


def test_dataset_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RewardFileError, match="no Parquet files"):
        read_summary(tmp_path / "empty", "r")
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(pa.table({"g": ["a", "b"], "r": [1.0, None]}), folder / "a.parquet")
    with pytest.raises(RewardFileError, match="missing reward"):
        read_summary(folder, "r", "g")
    s = read_summary(folder, "r", "g", drop_missing=True)
    assert s.dropped == 1 and s.n_groups == 1 and s.ids.tolist() == ["a"]
    assert cli_main(["frontier", str(folder), "--group", "g", "--no-plot"]) == 2
    assert "needs --column" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["distinct", "ties", "ulps", "runs"])
def test_sort_pairs_orders_like_lexsort(case):
    """The pairs come out in numpy.lexsort's order (by prompt, then reward): through the one-key sort, and through
    the exact fallback when rewards one ulp apart in a prompt of large code are equal at the key's precision."""
    rng = np.random.default_rng(9)
    gid = rng.integers(0, 70_000, size=20_000)
    val = rng.normal(size=gid.size) * 3.0
    if case == "ties":
        val = np.round(val, 1)
    elif case == "ulps":
        gid[:2000] = 69_999
        val[:2000] = np.nextafter(1.5, 2.0, dtype=float) * np.where(rng.random(2000) < 0.5, 1.0, -1.0)
        val[:1000] = np.where(rng.random(1000) < 0.5, 1.5, np.nextafter(1.5, 2.0))
    elif case == "runs":
        a, b = np.lexsort((val[:12_000], gid[:12_000])), 12_000 + np.lexsort((val[12_000:], gid[12_000:]))
        gid, val = np.r_[gid[a], gid[b]], np.r_[val[a], val[b]]
    order = sort_pairs(gid, val, runs=case == "runs")
    ref = np.lexsort((val, gid))
    np.testing.assert_array_equal(gid[order], gid[ref])
    np.testing.assert_array_equal(val[order], val[ref])
    assert np.array_equal(np.sort(order), np.arange(gid.size))
