"""``python -m lmalign sweep``: reproducible draws inside the ranges, worst margins, and a non-zero exit on any
failed check, failed run or unchecked claim."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lmalign.book import claims, parameters, report, rerun, sweep

ROOT = Path(__file__).resolve().parents[1]


def test_draws_are_reproducible_and_differ_between_draws():
    a, b = sweep.draw_parameters("00_pipeline", 7, 0), sweep.draw_parameters("00_pipeline", 7, 0)
    assert a == b and a != sweep.draw_parameters("00_pipeline", 7, 1) != sweep.draw_parameters("00_pipeline", 8, 0)
    specs = rerun.specs(ROOT / "notebooks" / "00_pipeline.md")
    assert set(a) == set(specs)  # every parameter is drawn, not only the seed
    parameters.validate(a, specs)


def _fake_run(checks_by_draw, code=0, stderr=None):
    """A stand-in for rerun.run_into that writes the given checks as the chapter's claims.json (and, with
    ``stderr``, an executed notebook whose one cell wrote it)."""
    calls = []

    def run_into(chapter, given, out, timeout):
        checks = checks_by_draw[len(calls)]
        calls.append(given)
        (out / chapter).mkdir(parents=True, exist_ok=True)
        (out / chapter / "claims.json").write_text(json.dumps({"chapter": chapter, "checks": checks}))
        if stderr is not None:
            cell = nbformat.v4.new_code_cell("x = 0 / 0", execution_count=1)
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=stderr)]
            nbformat.write(nbformat.v4.new_notebook(cells=[cell]), out / f"{chapter}.ipynb")
        return code, "" if code == 0 else "cell 3 failed with ClaimFailed: C0", ""

    return run_into, calls


def _check(error, tolerance=1e-12, kind="check", claim="C0"):
    passed = error > tolerance if kind == "ablation" else error <= tolerance
    return {
        "claim": claim,
        "error": error,
        "tolerance": tolerance,
        "passed": passed,
        "detail": "",
        "kind": kind,
        "margin": claims.margin(error, tolerance, kind == "ablation"),
    }


def test_worst_margin_over_draws_and_the_report_reads_it(tmp_path, monkeypatch):
    run_into, calls = _fake_run([[_check(1e-14)], [_check(4e-13), _check(1e-15)]])
    monkeypatch.setattr(rerun, "run_into", run_into)
    result = sweep.sweep(["00_pipeline"], 2, 3, tmp_path / "s", 60.0, tmp_path / "out" / "sweep.json", log=str)
    assert not result["failures"] and len(calls) == 2
    assert result["claims"]["C0"]["margin"] == pytest.approx(2.5) and result["claims"]["C0"]["draw"] == 1
    assert report.sweep_margins(tmp_path / "out") == {"C0": pytest.approx(2.5)}
    assert "C0" in sweep.as_text(result) and "2.5" in sweep.as_text(result)


@pytest.mark.parametrize(
    "checks, code, message",
    [
        ([[_check(1e-11)]], 1, "cell 3 failed"),  # a failed run
        ([[_check(1e-11)]], 0, "failed checks: C0"),  # a failed check in a run that exited 0
        ([[]], 0, "claims not checked in this run: C0"),  # a registered claim that the run did not check
    ],
)
def test_any_failure_is_a_failure(tmp_path, monkeypatch, checks, code, message):
    run_into, _ = _fake_run(checks, code)
    monkeypatch.setattr(rerun, "run_into", run_into)
    result = sweep.sweep(["00_pipeline"], 1, 0, tmp_path, 60.0, None, log=str)
    assert len(result["failures"]) == 1 and message in result["failures"][0]


@pytest.mark.parametrize(("stderr", "failures"), [("RuntimeWarning: invalid value in divide", 1), (None, 0)])
def test_a_draw_whose_page_shows_a_warning_fails(tmp_path, monkeypatch, stderr, failures):
    """Passing checks are not enough: a warning on the page at these parameters is what a build refuses."""
    run_into, _ = _fake_run([[_check(0.0)]], stderr=stderr)
    monkeypatch.setattr(rerun, "run_into", run_into)
    result = sweep.sweep(["00_pipeline"], 1, 0, tmp_path, 60.0, None, log=str)
    assert len(result["failures"]) == failures
    if failures:
        assert "writes to stderr" in result["failures"][0] and "RuntimeWarning" in result["failures"][0]


def test_a_chapter_whose_parameters_cannot_be_drawn_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(rerun, "specs", lambda source: {"seed": None})
    run_into, calls = _fake_run([[_check(0.0)]])
    monkeypatch.setattr(rerun, "run_into", run_into)
    result = sweep.sweep(["00_pipeline"], 1, 0, tmp_path, 60.0, None, log=str)
    assert not calls and "cannot draw" in result["failures"][0]


def test_unknown_chapters_are_refused(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lmalign", "sweep", "../x/evil", "--draws", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no chapter" in proc.stderr


def test_a_real_sweep_of_the_pipeline_chapter(tmp_path, lmalign_command):
    summary = tmp_path / "sweep.json"
    proc = lmalign_command(
        "sweep",
        "00_pipeline",
        "--draws",
        "2",
        "--seed",
        "5",
        "--scratch",
        str(tmp_path / "runs"),
        "--summary",
        str(summary),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(summary.read_text())
    assert [r["parameters"] for r in data["chapters"]["00_pipeline"]] == [
        sweep.draw_parameters("00_pipeline", 5, i) for i in range(2)
    ]
    assert data["claims"]["C0"]["margin"] > 1 and data["claims"]["C0"]["checks"] == 2
