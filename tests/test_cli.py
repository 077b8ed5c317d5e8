"""The command line: ``python -m lmalign build | claims | frontier`` and their exit codes."""

import importlib.machinery
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from cli_runner import lmalign_in_process
from conftest import install_passing_run

import lmalign
import lmalign.frontier
from lmalign import cli
from lmalign.book import claims
from lmalign.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lmalign", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=600,
    )


def test_help_lists_the_commands():
    proc = lmalign_in_process(["--help"])
    assert proc.returncode == 0
    for command in ("build", "claims", "frontier"):
        assert command in proc.stdout


def test_unknown_command_and_bad_options_exit_2():
    assert lmalign_in_process(["nonsense"]).returncode == 2
    proc = lmalign_in_process(["build", "--jobs", "0"])
    assert proc.returncode == 2 and "--jobs" in proc.stderr


def test_claims_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMALIGN_OUTPUTS", str(tmp_path))
    assert main(["claims", "--json"]) == 1  # everything missing: never a pass
    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"missing"}
    assert [r["id"] for r in rows] == list(claims.load_registry())
    assert main(["claims", "--allow-missing"]) == 0
    assert "missing" in capsys.readouterr().out
    rec = claims.ClaimRecorder("00_pipeline", tmp_path / "00_pipeline")
    rec.record("C0", 0.0)
    assert main(["claims", "--allow-missing"]) == 1  # no run record: not the results of a build
    assert "C0 (stale)" in capsys.readouterr().err
    layout = install_passing_run(ROOT, tmp_path / "b", {})  # as a successful build leaves it
    monkeypatch.setenv("LMALIGN_OUTPUTS", str(layout.outputs))
    assert main(["claims", "--allow-missing"]) == 0
    assert main(["claims"]) == 1  # the strict check: other claims are still missing
    rec = claims.ClaimRecorder("01_optimal_policy", layout.outputs / "01_optimal_policy")
    with pytest.raises(claims.ClaimFailed):
        rec.record("C1", 1.0)
    assert main(["claims", "--allow-missing"]) == 1  # a failure is never allowed
    out = capsys.readouterr().out
    assert "1 pass, 1 fail" in out


def test_claims_json_in_a_subprocess(tmp_path):
    proc = _run(["claims", "--json"], LMALIGN_OUTPUTS=str(tmp_path))
    assert proc.returncode == 1
    assert len(json.loads(proc.stdout)) == len(claims.load_registry())


def test_frontier_dispatches_to_its_module(monkeypatch):
    calls = []
    fake = types.ModuleType("lmalign.frontier.cli")
    fake.__spec__ = importlib.machinery.ModuleSpec("lmalign.frontier.cli", None)
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "lmalign.frontier.cli", fake)
    monkeypatch.setattr(lmalign.frontier, "cli", fake, raising=False)
    assert main(["frontier", "rewards.csv", "--log-n", "5", "--help"]) == 0
    assert calls == [["rewards.csv", "--log-n", "5", "--help"]]


def test_a_verb_whose_module_is_missing_is_a_clear_error(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name="papermill")

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert main(["build", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "papermill is not installed" in err and "lmalign[book]" in err


def test_no_verb_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "build" in capsys.readouterr().err


def test_build_command_exit_codes(scratch_build):
    good = (ROOT / "notebooks" / "00_pipeline.md").read_text()
    root = scratch_build({"00_pipeline": good + '\n```{code-cell} ipython3\nassert 1 + 1 == 3, "arithmetic"\n```\n'})
    proc = _run(["build", "--quick", "--no-html"], LMALIGN_ROOT=str(root))
    assert proc.returncode == 1
    assert "build failed: chapter 00_pipeline: cell" in proc.stderr
    assert "AssertionError: arithmetic" in proc.stderr and "assert 1 + 1 == 3" in proc.stderr
    assert "[build] 00_pipeline: FAILED" in proc.stderr

    proc = _run(["build", "--chapters", "07_nowhere", "--no-html"], LMALIGN_ROOT=str(root))
    assert proc.returncode == 1 and "07_nowhere" in proc.stderr

    (root / "notebooks" / "00_pipeline.md").write_text((ROOT / "notebooks" / "00_pipeline.md").read_text())
    proc = _run(["build", "--quick", "--no-html"], LMALIGN_ROOT=str(root))
    assert proc.returncode == 0, proc.stderr
    assert "00_pipeline: executed in" in proc.stderr
    proc = _run(["build", "--quick", "--no-html"], LMALIGN_ROOT=str(root))
    assert proc.returncode == 0 and "00_pipeline: unchanged, cached" in proc.stderr
    proc = _run(["claims", "--allow-missing"], LMALIGN_ROOT=str(root))
    assert proc.returncode == 0 and "C0     pass" in proc.stdout
