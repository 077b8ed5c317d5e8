"""Bad inputs each get one clear line: exit code 2 at the command line, a ValueError in Python."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmalign.cli import main as cli_main
from lmalign.frontier import frontier, read_samples


def one_line(capsys, *parts):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for part in parts:
        assert part in err, (part, err)


def write_text(path, text):
    path.write_text(text)
    return path


def write_parquet(path, columns):
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: write_parquet(d / "l.parquet", {"g": [[1], [2]], "r": [0.1, 0.2]}), "is a list"),
        (lambda d: write_parquet(d / "s.parquet", {"g": [{"a": 1}, {"a": 2}], "r": [0.1, 0.2]}), "is an object"),
        (lambda d: write_text(d / "l.jsonl", '{"g": [1], "r": 0.1}\n{"g": [2], "r": 0.2}\n'), "is a list"),
        (lambda d: write_text(d / "s.jsonl", '{"g": {"a": 1}, "r": 0.1}\n{"g": {"a": 2}, "r": 0.2}\n'), "is an object"),
        (lambda d: write_text(d / "n.jsonl", '{"g": "a", "r": 0.1}\n{"g": null, "r": 0.2}\n'), "line 2"),
    ],
)
def test_list_struct_and_null_group_columns(tmp_path, make, message, capsys):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=message):
        read_samples(path, column="r", group="g")
    assert cli_main(["frontier", str(path), "--column", "r", "--group", "g", "--no-plot"]) == 2
    one_line(capsys, message)


def test_a_parquet_file_with_zero_columns(tmp_path, capsys):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({}), path)
    with pytest.raises(ValueError, match="no columns"):
        read_samples(path)
    assert cli_main(["frontier", str(path), "--no-plot"]) == 2
    one_line(capsys, "no columns")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_carriage_return_line_endings_are_read(tmp_path, suffix):
    path = tmp_path / f"cr{suffix}"
    rows = [("a", 1.0), ("a", 2.0), ("b", 0.5)]
    if suffix == ".csv":
        path.write_bytes(b"g,r\r" + b"".join(f"{g},{r}\r".encode() for g, r in rows))
    else:
        path.write_bytes(b"".join(json.dumps({"g": g, "r": r}).encode() + b"\r" for g, r in rows))
    s = read_samples(path, column="r", group="g")
    assert s.rewards.tolist() == [1.0, 2.0, 0.5] and s.n_groups == 2


def test_a_file_name_with_a_newline_is_one_line(tmp_path, capsys):
    path = tmp_path / "two\nlines.csv"
    path.write_text("r\n1\nx\n")
    with pytest.raises(ValueError) as info:
        read_samples(path)
    assert "\n" not in str(info.value) and "two\\nlines.csv" in str(info.value)
    assert cli_main(["frontier", str(path), "--no-plot"]) == 2
    one_line(capsys, "two\\nlines.csv", "not a number")
    assert cli_main(["frontier", str(tmp_path / "missing\nfile.csv"), "--no-plot"]) == 2
    one_line(capsys, "no such file")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(groups=np.array([None, "a", "a"], dtype=object)), "missing"),
        (dict(groups=[{"id": 1}, "a", "a"]), "dict"),
        (dict(n=4), "list of integers"),
        (dict(confidence="0.9", bootstrap=5, groups=["a", "a", "b"]), "confidence"),
        (dict(seed="3", bootstrap=5, groups=["a", "a", "b"]), "seed"),
    ],
)
def test_bad_python_arguments(kw, message):
    with pytest.raises(ValueError, match=message) as info:
        frontier([0.1, 0.2, 0.3], progress=False, **kw)
    assert "\n" not in str(info.value)
