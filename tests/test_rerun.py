"""``python -m lmalign rerun``: parameters of any type, checked against the chapter; outputs in a folder of their
own, never in the book's results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import lmalign_in_process

from lmalign.book import paths, rerun

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, **env):
    """``python -m lmalign rerun ARGS`` in the test's process (its own process: the next test)."""
    return lmalign_in_process(["rerun", *args], cwd=cwd, env=dict(os.environ, **env))


def test_a_wrong_parameter_is_one_line_from_the_command_s_own_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lmalign", "rerun", "00_pipeline", "-p", "levls", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 2 and "parameter 'levls' is not a parameter of this chapter" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_defaults_come_from_the_parameters_cell():
    d = rerun.defaults(ROOT / "notebooks" / "00_pipeline.md")
    assert d["levels"] == 5 and d["quick"] is False and isinstance(d["lambdas"], list)


@pytest.mark.parametrize(
    "args, message",
    [
        (["00_pipeline", "-p", "levls", "3"], "parameter 'levls' is not a parameter of this chapter"),
        (["00_pipeline", "-p", "levels", "[3, 4]"], "parameter 'levels' must be of type int like its default 5"),
        (["00_pipeline", "-p", "lambdas", "0.5"], "parameter 'lambdas' must be of type list"),
        (["99_nowhere"], "no chapter '99_nowhere'"),
    ],
)
def test_a_wrong_parameter_is_one_line_and_exit_2(tmp_path, args, message):
    proc = _run(args, tmp_path)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_values_are_literals():
    assert rerun.parse_value("[3, 20]") == [3, 20] and rerun.parse_value("0.5") == 0.5
    assert rerun.parse_value("true") is True and rerun.parse_value("abc") == "abc"
    assert rerun.check({"x": 1.0}, {"x": 2}) == {"x": 2}  # an int where a float is expected


def test_a_rerun_writes_its_own_folder_and_never_the_books(tmp_path, lmalign_command):
    book = paths.outputs_root()
    before = {p: p.read_bytes() for p in book.rglob("*") if p.is_file()} if book.is_dir() else {}
    proc = lmalign_command("rerun", "00_pipeline", "-p", "lambdas", "[-1.0, 1.0]", "-p", "quick", "True", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "runs" / "00_pipeline-1"
    assert f"written to {out}" in proc.stdout
    checks = json.loads((out / "00_pipeline" / "claims.json").read_text())["checks"]
    assert checks and all(c["passed"] for c in checks)
    assert (out / "00_pipeline.ipynb").is_file() and (out / "00_pipeline" / "figures" / "cgf_slope.svg").is_file()
    after = {p: p.read_bytes() for p in book.rglob("*") if p.is_file()} if book.is_dir() else {}
    assert after == before
    # a rerun's results, with other parameters and no build stamp, never count as the book's passes
    claims = subprocess.run(
        [sys.executable, "-m", "lmalign", "claims", "--allow-missing"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, LMALIGN_OUTPUTS=str(out)),
        timeout=600,
    )
    assert claims.returncode == 1 and "C0 (stale)" in claims.stderr


def test_a_chapter_run_by_hand_writes_in_its_working_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LMALIGN_OUTPUTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.chapter_output_dir("01_optimal_policy") == tmp_path.resolve() / "lmalign-outputs" / "01_optimal_policy"


# ---- hostile arguments: refused in one line before anything runs ----------------------------------------------


@pytest.mark.parametrize(
    "chapter",
    [
        "../../somewhere/evil",
        "../notebooks/00_pipeline",
        "/etc/passwd",
        "notebooks/00_pipeline",
        "00_pipeline.md",
        "99_nowhere",
    ],
)
def test_only_chapters_of_the_toc_by_name(tmp_path, chapter):
    evil = tmp_path / "somewhere" / "evil.md"
    evil.parent.mkdir()
    evil.write_text((ROOT / "notebooks" / "00_pipeline.md").read_text())
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    proc = _run([chapter, "--out", str(tmp_path / "out")], work)
    assert proc.returncode == 2 and "no chapter" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "somewhere" / "evil.ipynb").exists()


def test_the_toc_lists_the_chapters():
    chapters = rerun.toc_chapters(ROOT)
    assert "00_pipeline" in chapters and "06_best_of_n" in chapters
    assert all("/" not in c for c in chapters)


@pytest.mark.parametrize(
    "value, message",
    [
        ("+" * 100_000 + "1", "more than the limit of 10000"),
        ("+" * 9_000 + "1", "cannot be read as a literal"),  # MemoryError inside the parser
        ("~" * 5_000 + "1", "cannot be read as a literal"),  # RecursionError
        ("1" + "+1" * 4_000, "cannot be read as a literal"),
    ],
)
def test_oversized_or_deep_values_are_one_line(tmp_path, value, message):
    proc = _run(["00_pipeline", "-p", "seed", value, "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "parameter 'seed'" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("timeout", ["nan", "-1", "0", "inf", "abc"])
def test_the_timeout_is_a_finite_positive_number(tmp_path, timeout):
    proc = _run(["00_pipeline", "--timeout", timeout, "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2 and "--timeout" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "seed", "-1"], "parameter 'seed' = -1 is outside its range: int in [0, 2**32)"),
        (["-p", "levels", "1"], "parameter 'levels' = 1 is outside its range: int in [2, 8]"),
        (["-p", "figure_probs", "[0.5, 0.6]"], "parameter 'figure_probs' = [0.5, 0.6] is outside its range"),
        (["-p", "figure_probs", "[0.5, 0.5]"], "differs from that of figure_probs"),
    ],
)
def test_a_value_outside_its_range_is_one_line(tmp_path, args, message):
    proc = _run(["00_pipeline", *args, "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
