"""The practitioner's outputs: the per-prompt table, beta, E_unb over the prompts that have N samples, the
concentration warning, --drop-missing, dotted nested columns and the JSON's schema and provenance.

Expected values are computed here independently: best-of-N by brute force over all N-tuples of samples (with
replacement) or all N-subsets (without, for E_unb), and the tilt q_i ~ e^{lam r_i} over the samples of a prompt."""

import hashlib
import json
from itertools import combinations, product

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmalign.cli import main as cli_main
from lmalign.frontier import frontier, read_samples


def unequal_prompts(seed=5, prompts=12):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=prompts)
    ids = np.repeat([f"q{i:02d}" for i in range(prompts)], sizes)
    rewards = np.round(rng.normal(size=ids.size), 1)  # ties within prompts
    return ids, rewards


def brute_best(values, n, replace=True):
    tuples = product(values, repeat=n) if replace else combinations(values, n)
    return float(np.mean([max(t) for t in tuples]))


def test_unbiased_estimate_averages_the_prompts_that_have_n_samples():
    ids, rewards = unequal_prompts()
    fr = frontier(rewards, groups=ids, n=[1, 2, 3, 4], max_n=4, progress=False)
    per = {g: rewards[ids == g] for g in np.unique(ids)}
    for i, k in enumerate([1, 2, 3, 4]):
        have = [v for v in per.values() if v.size >= k]
        assert fr.bon_unbiased_prompts[i] == len(have)
        assert fr.bon_mean_unbiased[i] == pytest.approx(
            np.mean([brute_best(v, k, replace=False) for v in have]), abs=1e-13
        )


def test_per_prompt_table_against_brute_force(tmp_path):
    ids, rewards = unequal_prompts()
    fr = frontier(rewards, groups=ids, n=[2, 3], max_n=3, progress=False)
    table = fr.prompts.to_pandas()
    assert len(table) == 2 * len(np.unique(ids))
    for _, row in table.iterrows():
        v = rewards[ids == row["prompt"]]
        k, lam = int(row["n"]), row["opt_lam"]
        assert row["samples"] == v.size
        assert row["bon_gain"] == pytest.approx(brute_best(v, k) - v.mean(), abs=1e-13)
        w = np.exp(lam * (v - v.max()))
        w /= w.sum()
        assert row["opt_kl"] == pytest.approx(float(np.sum(w * np.log(w * v.size))), abs=1e-12)
        assert row["opt_gain"] == pytest.approx(float(w @ v - v.mean()), abs=1e-12)
        assert row["opt_ess"] == pytest.approx(1 / float(np.sum(w * w)), rel=1e-12)
        assert row["opt_max_weight"] == pytest.approx(float(w.max()), rel=1e-12)
        assert row["opt_beta"] == pytest.approx(1 / lam, rel=1e-15)
        unb = brute_best(v, k, replace=False) if v.size >= k else np.nan
        np.testing.assert_allclose(row["bon_mean_unbiased"], unb, atol=1e-13)
    # the prompts' KLs average to the row's KL: one multiplier for all prompts
    for i, k in enumerate([2, 3]):
        assert table[table["n"] == k]["opt_kl"].mean() == pytest.approx(fr.bon_kl[i], rel=1e-12)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_per_prompt_files(tmp_path, suffix, capsys):
    ids, rewards = unequal_prompts()
    src = tmp_path / "r.csv"
    src.write_text("pid,r\n" + "".join(f"{g},{r}\n" for g, r in zip(ids, rewards, strict=True)))
    out = tmp_path / f"per{suffix}"
    assert (
        cli_main(
            [
                "frontier",
                str(src),
                "--column",
                "r",
                "--group",
                "pid",
                "--n",
                "2",
                "4",
                "--max-n",
                "4",
                "--per-prompt",
                str(out),
                "--no-plot",
                "--quiet",
            ]
        )
        == 0
    )
    if suffix == ".csv":
        got = pa.csv.read_csv(out).to_pylist()
    elif suffix == ".parquet":
        got = pq.read_table(out).to_pylist()
    else:
        got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 2 * len(np.unique(ids))
    for row in got:
        v = rewards[ids == str(row["prompt"])]
        assert row["samples"] == v.size
        assert row["bon_gain"] == pytest.approx(brute_best(v, row["n"]) - v.mean(), abs=1e-12)
        assert (row["bon_mean_unbiased"] is None) == (v.size < row["n"])
    capsys.readouterr()


def test_per_prompt_needs_a_group_and_a_known_suffix(tmp_path, capsys):
    src = tmp_path / "r.csv"
    src.write_text("pid,r\na,1\na,2\n")
    for extra, msg in (
        (["--per-prompt", "x.csv"], "give --group"),
        (["--group", "pid", "--per-prompt", "x.xlsx"], ".csv, .parquet or .jsonl"),
    ):
        assert cli_main(["frontier", str(src), "--column", "r", *extra, "--no-plot"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err


def test_concentration_warning_fires_on_heavy_tails_only(tmp_path, capsys):
    rng = np.random.default_rng(11)
    ids = np.repeat(np.arange(1000), 8)
    for name, rewards, fires in (
        ("t2", rng.standard_t(2, size=ids.size), True),
        ("normal", rng.normal(size=ids.size), False),
    ):
        src = tmp_path / f"{name}.csv"
        src.write_text("pid,r\n" + "".join(f"{g},{r!r}\n" for g, r in zip(ids, rewards.tolist(), strict=True)))
        assert cli_main(["frontier", str(src), "--column", "r", "--group", "pid", "--max-n", "8", "--no-plot"]) == 0
        err = capsys.readouterr().err
        assert ("rests on few samples" in err) == fires, (name, err)
        if fires:
            assert "of 1000 prompts one response carries more than half" in err


def test_drop_missing_counts_and_leaves_out_the_rows(tmp_path, capsys):
    src = tmp_path / "m.csv"
    src.write_text("pid,r\na,1\na,\nb,2\nb,NaN\nb,3\na,NA\n")
    assert cli_main(["frontier", str(src), "--column", "r", "--group", "pid", "--no-plot", "--max-n", "2"]) == 2
    assert "empty" in capsys.readouterr().err
    s = read_samples(src, column="r", group="pid", drop_missing=True)
    assert s.dropped == 3 and s.rewards.tolist() == [1.0, 2.0, 3.0] and s.n_groups == 2
    assert (
        cli_main(
            [
                "frontier",
                str(src),
                "--column",
                "r",
                "--group",
                "pid",
                "--no-plot",
                "--max-n",
                "2",
                "--drop-missing",
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "left out 3 rows" in captured.err
    assert json.loads(captured.out)["provenance"]["dropped_rows"] == 3
    jl = tmp_path / "m.jsonl"
    jl.write_text('{"pid": "a", "r": 1}\n{"pid": "a", "r": null}\n{"pid": "b"}\n{"pid": "b", "r": 2}\n')
    s = read_samples(jl, column="r", group="pid", drop_missing=True)
    assert s.dropped == 2 and s.rewards.tolist() == [1.0, 2.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("pid,r\na,1\na,oops\n")
    with pytest.raises(ValueError, match="oops"):  # text that is not a number is not "missing"
        read_samples(bad, column="r", group="pid", drop_missing=True)


def test_dotted_nested_columns(tmp_path):
    rows = [{"meta": {"id": f"p{i % 3}", "scores": {"rm": float(i)}}} for i in range(9)]
    jl = tmp_path / "n.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pqf = tmp_path / "n.parquet"
    pq.write_table(pa.Table.from_pylist(rows), pqf)
    for path in (jl, pqf):
        s = read_samples(path, column="meta.scores.rm", group="meta.id")
        assert s.rewards.tolist() == [float(i) for i in range(9)]
        assert [s.ids[c] for c in s.groups] == [f"p{i % 3}" for i in range(9)]
        with pytest.raises(ValueError, match="is an object"):
            read_samples(path, column="meta.scores.rm", group="meta")


def test_json_schema_and_provenance(tmp_path, capsys):
    src = tmp_path / "r.csv"
    src.write_text("pid,r\na,1\na,2\nb,0\nb,5\n")
    assert cli_main(["frontier", str(src), "--column", "r", "--group", "pid", "--json", "--max-n", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 2
    prov = doc["provenance"]
    assert prov["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert prov["input"] == str(src.resolve()) and prov["column"] == "r" and prov["group"] == "pid"
    assert prov["options"]["max_n"] == 2 and prov["version"]
    assert isinstance(prov["warnings"], list)
    row = doc["rows"][1]
    assert row["opt_beta"] == pytest.approx(1 / row["opt_lam"])
