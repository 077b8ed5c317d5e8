"""Prompt ids are text as written, in every format: ids that look like the same number are different prompts.

Each file is checked against an independent computation: the prompts formed by grouping the ids as strings in
Python, and for each prompt the expected best of two draws with replacement, ``sum_{i,j} max(r_i, r_j) / m^2``,
by brute force over all pairs."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmalign.cli import main as cli_main
from lmalign.frontier import RewardFileError, frontier, read_samples

# ids that a number parser merges: "007" = "7", "1.0" = "1", "1e3" = "1000", two 20-digit ids one apart
TEXT_IDS = ["007", "7", "1.0", "1", "1e3", "1000", "12345678901234567890", "12345678901234567891"]
# JSON numbers (no leading zeros in JSON): 1.0 and 1, 1e3 and 1000, two 21-digit integers one apart
JSON_NUMBER_IDS = ["1.0", "1", "1e3", "1000", "123456789012345678901", "123456789012345678902"]


def samples_of(ids: list[str]) -> tuple[list[str], list[float]]:
    """Three rewards per id, different for every id, so a merge of two ids changes the answer."""
    gid, rew = [], []
    for k, g in enumerate(ids):
        for j in range(3):
            gid.append(g)
            rew.append(round(0.37 * k + 0.11 * j * (k + 1), 2))
    return gid, rew


def independent_best_of_two(gid: list[str], rew: list[float]) -> tuple[int, float]:
    """(number of prompts, average over prompts of E max of two draws with replacement)."""
    groups: dict[str, list[float]] = {}
    for g, r in zip(gid, rew, strict=True):
        groups.setdefault(g, []).append(r)
    per = [np.mean(np.maximum.outer(np.array(v), np.array(v))) for v in groups.values()]
    return len(groups), float(np.mean(per))


def check(path, gid, rew, **kw):
    s = read_samples(path, column="reward", group="prompt", **kw)
    fr = frontier(s.rewards, groups=s.groups, n=[2], max_n=2, progress=False)
    count, best2 = independent_best_of_two(gid, rew)
    assert s.n_groups == fr.groups == count == len(set(gid))
    # one rounding per reward (rewards are scaled by a power of two) and per sum of at most 9 terms
    assert fr.bon_mean[0] == pytest.approx(best2, rel=0, abs=1e-14 * max(map(abs, rew)) * 9)
    # the partition is the one of the ids as strings
    codes = np.asarray(s.groups)
    for g in set(gid):
        rows = [i for i, x in enumerate(gid) if x == g]
        assert len(set(codes[rows].tolist())) == 1
    assert len(set(codes.tolist())) == count


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_delimited_ids_are_text(tmp_path, fmt):
    gid, rew = samples_of(TEXT_IDS)
    sep = "," if fmt == "csv" else "\t"
    path = tmp_path / f"r.{fmt}"
    path.write_text(f"prompt{sep}reward\n" + "".join(f"{g}{sep}{r}\n" for g, r in zip(gid, rew, strict=True)))
    check(path, gid, rew)


def test_jsonl_string_ids_are_text(tmp_path):
    gid, rew = samples_of(TEXT_IDS)
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"prompt": g, "reward": r}) + "\n" for g, r in zip(gid, rew, strict=True)))
    check(path, gid, rew)


def test_jsonl_bare_number_ids_are_kept_as_written(tmp_path):
    gid, rew = samples_of(JSON_NUMBER_IDS)
    path = tmp_path / "r.jsonl"
    path.write_text("".join(f'{{"prompt": {g}, "reward": {r}}}\n' for g, r in zip(gid, rew, strict=True)))
    check(path, gid, rew)


def test_parquet_string_and_integer_ids(tmp_path):
    gid, rew = samples_of(TEXT_IDS)
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"prompt": gid, "reward": rew}), path)
    check(path, gid, rew)
    # unsigned 64-bit integers keep all 20 digits; int64 and dictionary-encoded strings too
    big = [12345678901234567890 + k for k in range(4)]
    gid, rew = samples_of([str(b) for b in big])
    pq.write_table(pa.table({"prompt": pa.array([int(g) for g in gid], pa.uint64()), "reward": rew}), path)
    check(path, gid, rew)
    pq.write_table(pa.table({"prompt": pa.array(gid).dictionary_encode(), "reward": rew}), path)
    check(path, gid, rew)


def test_parquet_float_ids_are_refused(tmp_path, capsys):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"prompt": [1.0, 1.0, 2.0], "reward": [0.1, 0.2, 0.3]}), path)
    with pytest.raises(RewardFileError, match="floating-point"):
        read_samples(path, column="reward", group="prompt")
    assert cli_main(["frontier", str(path), "--column", "reward", "--group", "prompt", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "strings or integers" in err


def test_jsonl_ids_mixing_strings_and_numbers_are_refused(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"prompt": "7", "reward": 1}\n{"prompt": 7, "reward": 2}\n')
    with pytest.raises(RewardFileError, match="line 2: .*mixes strings and numbers"):
        read_samples(path, column="reward", group="prompt")
