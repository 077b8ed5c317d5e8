"""Claims registry, recorded results and the generated report agree; missing is never pass."""

import json
import re
from pathlib import Path

import pytest

from lmalign import claims, report
from lmalign.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_registry_has_every_digest_claim():
    reg = claims.load_registry()
    for i in range(1, 21):
        assert f"C{i}" in reg
    for claim in reg.values():
        assert claim.tolerance > 0
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", claim.chapter)


def test_registered_chapters_exist_or_are_reported_missing(tmp_path):
    rows = report.statuses(outputs=tmp_path)
    assert all(r.status == "missing" and r.error is None for r in rows)
    existing = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md")}
    for r in rows:
        if r.chapter not in existing:
            assert r.status == "missing"


def test_recorder_statuses_and_report(tmp_path):
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path / "01_optimal_policy", registry=reg)
    rec.record("C1", 1e-15, detail="ok")
    with pytest.raises(claims.ClaimFailed, match="C2"):
        rec.record("C2", 1.0, detail="too large")
    with pytest.raises(ValueError, match="belongs to chapter"):
        rec.record("C4", 0.0)
    with pytest.raises(ValueError, match="not in the registry"):
        rec.record("C999", 0.0)
    rows = {r.id: r for r in report.statuses(outputs=tmp_path, registry=reg)}
    assert rows["C1"].status == "pass" and rows["C1"].error == 1e-15
    assert rows["C2"].status == "fail"
    assert rows["C3"].status == "missing"
    md = report.report_markdown(outputs=tmp_path)
    for cid in reg:
        assert f"| {cid} |" in md
    assert "**fail**" in md and "**missing**" in md
    saved = json.loads((tmp_path / "01_optimal_policy" / "claims.json").read_text())
    assert [c["claim"] for c in saved["checks"]] == ["C1", "C2"]


def test_nan_error_fails(tmp_path):
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path)
    with pytest.raises(claims.ClaimFailed):
        rec.record("C1", float("nan"))


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMALIGN_OUTPUTS", str(tmp_path))
    assert main(["claims", "--json"]) == 1  # everything missing
    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"missing"}
    assert main(["claims", "--allow-missing"]) == 0
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path / "01_optimal_policy")
    with pytest.raises(claims.ClaimFailed):
        rec.record("C1", 1.0)
    assert main(["claims", "--allow-missing"]) == 1  # a failure is never allowed
