"""The ``frontier`` command on real files: formats, standard input, bad inputs and the plot file."""

import csv
import io
import json
import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import lmalign_in_process

from lmalign.cli import main as cli_main
from lmalign.frontier import RewardFileError, example_file, read_rewards, read_samples

COMMAND = [sys.executable, "-m", "lmalign", "frontier"]


def run(args, **kw):
    """``python -m lmalign frontier ARGS``: in the test's process, or in its own where the test limits that
    process (``preexec_fn``)."""
    if "preexec_fn" in kw:
        return subprocess.run(COMMAND + [str(a) for a in args], capture_output=True, text=True, check=False, **kw)
    return lmalign_in_process(["frontier", *args], **kw)


def one_line_error(result, *parts):
    """Exit code 2 and exactly one line on stderr, containing every part and no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


ROWS = [("q1", 'says "hi", then\nleaves', 0.5), ("q1", "plain", 1.5), ("q2", "a,b,c", -2.0), ("q2", "", 3.25)]


def test_rfc4180_csv_as_the_csv_module_writes_it(tmp_path):
    path = tmp_path / "quoted.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)  # quotes fields with commas, quotes and newlines; \r\n line ends
        w.writerow(["prompt_id", "response", "reward"])
        w.writerows(ROWS)
    s = read_samples(path, column="reward", group="prompt_id")
    np.testing.assert_array_equal(s.rewards, [r for _, _, r in ROWS])
    assert s.n_groups == 2 and s.groups.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "parquet"])
def test_other_formats(tmp_path, fmt):
    table = pa.table(
        {"prompt_id": [p for p, _, _ in ROWS], "response": [t for _, t, _ in ROWS], "reward": [r for _, _, r in ROWS]}
    )
    path = tmp_path / f"r.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()), encoding="utf-8")
    else:
        text = "prompt_id\tresponse\treward\n" + "".join(f"{p}\t{t.replace(chr(10), ' ')}\t{r}\n" for p, t, r in ROWS)
        path.write_text(text, encoding="utf-8")
    s = read_samples(path, column="reward", group="prompt_id")
    np.testing.assert_array_equal(s.rewards, [r for _, _, r in ROWS])
    assert s.groups.tolist() == [0, 0, 1, 1]
    renamed = tmp_path / "no_suffix"
    renamed.write_bytes(path.read_bytes())  # the format is recognised from the content too
    np.testing.assert_array_equal(read_samples(renamed, column="reward").rewards, s.rewards)


def test_standard_input_and_one_reward_per_line(tmp_path):
    result = run(["-", "--max-n", "4", "--json"], input="# scores\n1\n2\n\n3.5\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["samples"] == 3 and not (tmp_path / "frontier.svg").exists()
    csv_text = example_file().read_text()
    result = run(["-", "--column", "reward", "--group", "prompt_id", "--max-n", "2", "--json"], input=csv_text)
    assert json.loads(result.stdout)["groups"] == 400


def test_a_field_beyond_the_csv_module_limit_is_read(tmp_path):
    """The csv module stops at 131,072 characters per field; long responses are common, so they are read."""
    long = "x, " * 100_000
    path = tmp_path / "long.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt_id", "response", "reward"])
        w.writerows([("a", long, 1.0), ("a", "short", 2.0), ("b", long + "\n" + long, 0.5)])
    assert read_rewards(path, column="reward").tolist() == [1.0, 2.0, 0.5]
    with path.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["b", long, "oops"])
    with pytest.raises(RewardFileError, match=r"line 6: column 'reward' 'oops' is not a number"):
        read_rewards(path, column="reward")


def test_a_million_rows_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    rewards = np.round(rng.normal(size=1_000_000), 6)
    path = tmp_path / "big.csv"
    body = io.StringIO()
    np.savetxt(body, np.column_stack([np.arange(rewards.size) // 100, rewards]), fmt=["%d", "%.6f"], delimiter=",")
    path.write_text("prompt_id,reward\n" + body.getvalue())
    s = read_samples(path, column="reward", group="prompt_id")
    np.testing.assert_array_equal(s.rewards, rewards)
    assert s.n_groups == 10_000


# -- bad inputs: one line on stderr naming the file, exit code 2 -------------------------------------------------------
@pytest.mark.parametrize(
    "name, data, parts",
    [
        ("bin.csv", b"reward\n1\n\x00\x01\x02\n", ["bin.csv, line 3", "binary data"]),
        ("utf16.csv", "reward\n1\n2\n".encode("utf-16"), ["utf16.csv", "UTF-16"]),
        ("utf16le.csv", "reward\n1\n2\n".encode("utf-16-le"), ["utf16le.csv, line 1", "UTF-16"]),
        ("latin1.csv", "reward,name\n1,caf\xe9\n".encode("latin-1"), ["latin1.csv, line 2", "not UTF-8"]),
        ("cols.csv", b"a,reward\n1,2\n2,3,4\n", ["cols.csv, line 3", "3 fields, the header has 2"]),
        ("bad.jsonl", b'{"reward": 1}\n{"reward": \n', ["bad.jsonl, line 2", "not JSON"]),
        ("nan.jsonl", b'{"reward": 1}\n{"reward": "x"}\n', ["nan.jsonl, line 2", "not a number"]),
        ("fake.parquet", b"PAR1 this is not parquet", ["fake.parquet", "not a readable Parquet file"]),
    ],
)
def test_bad_files(tmp_path, name, data, parts):
    path = tmp_path / name
    path.write_bytes(data)
    one_line_error(run([path, "--column", "reward", "--no-plot"]), *parts)


def test_unreadable_huge_and_sparse_files(tmp_path):
    one_line_error(run([tmp_path / "missing.csv"]), "missing.csv: no such file")
    one_line_error(run([tmp_path]), "no Parquet files")  # a folder is a dataset: here, one without Parquet files
    one_line_error(run(["/proc/self/mem"]), "/proc/self/mem", "cannot read")
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:
        fh.write(b"reward\n1\n")
        fh.truncate(3 << 30)  # a sparse 3 GiB file: nothing is read
    one_line_error(run([huge]), "huge.csv", "GiB")
    sparse = tmp_path / "sparse.csv"
    with sparse.open("wb") as fh:
        fh.write(b"reward\n1\n")
        fh.truncate(64 << 20)
    one_line_error(run([sparse]), "sparse.csv, line 3", "NUL")


def test_a_refused_file_is_not_read_through(tmp_path, monkeypatch):
    """The provenance hash reads the whole file: it comes after the file is accepted, so refusing a 3 GiB file
    reads none of it."""
    from lmalign.frontier import files

    hashed = []
    monkeypatch.setattr(files, "_sha256", lambda *args: hashed.append(args[0]) or "0" * 64)
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:
        fh.write(b"reward\n1\n")
        fh.truncate(3 << 30)
    with pytest.raises(files.RewardFileError, match="GiB"):
        files.read_samples(huge)
    assert hashed == []
    small = tmp_path / "small.csv"
    small.write_text("reward\n1\n2\n")
    assert files.read_samples(small).sha256 == "0" * 64 and hashed == [str(small)]


def test_nulls_in_parquet_name_the_row(tmp_path):
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"reward": [1.0, None, 2.0]}), path)
    one_line_error(run([path, "--no-plot"]), "r.parquet, row 2", "empty")


@pytest.mark.parametrize(
    "args, parts",
    [
        (["--max-n", "1000000000"], ["--max-n 1000000000", "between 1 and"]),
        (["--all", "--max-n", "100000"], ["--all"]),
        (["--bootstrap", "10"], ["--group"]),
        (["--column", "score"], ["no column 'score'"]),
        (["--group", "prompt"], ["no group column 'prompt'"]),
    ],
)
def test_bad_options(args, parts):
    one_line_error(
        run(
            [example_file(), "--column", "reward", "--no-plot"] + args
            if "--column" not in args
            else [example_file(), "--no-plot"] + args
        ),
        *parts,
    )


# -- the plot file ---------------------------------------------------------------------------------------------------
def test_plot_only_when_asked_and_table_first(tmp_path):
    ex = example_file()
    result = run([ex, "--column", "reward", "--max-n", "4", "--json"], cwd=tmp_path)
    assert result.returncode == 0 and not (tmp_path / "frontier.svg").exists()
    result = run([ex, "--column", "reward", "--max-n", "4", "--json", "--out", "f.png"], cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    result = run([ex, "--column", "reward", "--max-n", "4"], cwd=tmp_path)
    svg = (tmp_path / "frontier.svg").read_bytes()
    assert result.returncode == 0 and svg.startswith(b"<?xml")
    assert (tmp_path / "frontier.svg").stat().st_mode & 0o044 == 0o044  # readable as any plot would be
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("where", ["dir", "/proc/frontier.svg", "/sys/frontier.svg", "full"])
def test_failed_plot_writes_are_errors_and_keep_the_old_file(tmp_path, where):
    old = tmp_path / "frontier.svg"
    old.write_text("previous plot")
    kw = {}
    if where == "dir":
        out = tmp_path / "plots.svg"
        out.mkdir()
    elif where == "full":
        out = old

        def limit():  # a disk that is full after 10 kB: the write fails with EFBIG instead of a signal
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))

        kw["preexec_fn"] = limit
    else:
        out = where
    result = run([example_file(), "--column", "reward", "--group", "prompt_id", "--max-n", "4", "--out", out], **kw)
    line = one_line_error(result, "--out", str(out))
    if where != "dir":  # the table is printed before the plot is written
        assert "KL(BoN||p)" in result.stdout and "cannot write" in line
    assert old.read_text() == "previous plot"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_in_process_errors_have_no_traceback(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfereward")
    assert cli_main(["frontier", str(path), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.csv" in err
    assert os.path.exists(path)
