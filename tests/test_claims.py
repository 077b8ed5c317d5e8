"""Claims registry, recorded results and the generated report agree; missing is never pass."""

import json
import re
import shutil
from pathlib import Path

import pytest

from lmalign.book import build, claims, cli, report

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
        assert f"| {{ref}}`{cid} <claim-{cid.lower()}>` |" in md
    assert "**fail**" in md and "**missing**" in md
    saved = json.loads((tmp_path / "01_optimal_policy" / "claims.json").read_text())
    assert [c["claim"] for c in saved["checks"]] == ["C1", "C2"]


def test_nan_error_fails(tmp_path):
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path)
    with pytest.raises(claims.ClaimFailed):
        rec.record("C1", float("nan"))


def test_pipeline_claim_is_a_book_claim():
    reg = claims.load_registry()
    assert reg["C0"].book and reg["C0"].chapter == "00_pipeline"
    assert not any(reg[f"C{i}"].book for i in range(1, 21))


@pytest.mark.parametrize("entry, problem", [
    ("C1: {statement: s, result: R1, chapter: 01_x}", "lacks tolerance"),
    ("C1: {statement: s, result: R1, chapter: 01_x, tolerance: 0}", "tolerance must be positive"),
    ("C1: {result: R1, chapter: 01_x, tolerance: 1.0e-9}", "lacks statement"),
])
def test_malformed_registry_entries_are_errors(tmp_path, entry, problem):
    path = tmp_path / "claims.yml"
    path.write_text(f"claims:\n  {entry}\n")
    with pytest.raises(ValueError, match=problem):
        claims.load_registry(path)


def test_report_matches_registry_and_results(tmp_path):
    """Every registered claim is one row of the summary and one labelled section, in registry order, with the
    status and the checks its chapter recorded."""
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("00_pipeline", tmp_path / "00_pipeline", registry=reg)
    rec.record("C0", 3e-16, detail="ok")
    md = report.report_markdown(outputs=tmp_path, build_info="Built from commit `abc`.")
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)] for ln in md.splitlines()
            if re.match(r"\| \{ref\}`C\d+ <claim-c\d+>` \|", ln)]
    assert all(len(r) == 9 for r in rows), "a row broke the table"
    assert [re.search(r"`(C\d+) ", r[1]).group(1) for r in rows] == list(reg)
    c0 = rows[0]
    assert c0[3] == "[00_pipeline](../notebooks/00_pipeline.ipynb)"
    assert c0[4] == "3.00e-16" and c0[6] == f"{reg['C0'].tolerance / 3e-16:.3g}×" and c0[7] == "**pass**"
    for row in rows[1:]:
        assert row[7] == "**missing**" and row[4] == "—"
        assert row[3].startswith("`"), "a chapter that has not run cannot be linked"
    assert f"**1 pass, 0 fail, 0 stale, {len(reg) - 1} missing** of {len(reg)} claims." in md
    assert "Built from commit `abc`." in md
    sections = re.findall(r"^\(claim-(c\d+)\)=\n### (C\d+): (\w+)$", md, flags=re.MULTILINE)
    assert [s[1] for s in sections] == list(reg) and all(s[0] == s[1].lower() for s in sections)
    assert sections[0][2] == "pass" and {s[2] for s in sections[1:]} == {"missing"}
    assert "| 1 | 3.00e-16 | 1e-12 | yes | ok |" in md


def test_check_lines_link_the_report(tmp_path):
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("00_pipeline", tmp_path / "00_pipeline", registry=reg)
    rec.record("C0", 3e-16)
    rec.record("C0", 5e-16)
    subs = report.substitutions(tmp_path)
    assert set(subs) == {f"check_{c}" for c in reg}
    assert subs["check_C0"] == ("**Check {ref}`C0 <claim-c0>`** (2 checks): largest error 5.0e-16, "
                                "tolerance 1e-12: **pass**.")
    assert subs["check_C1"] == "**Check {ref}`C1 <claim-c1>`**: not run in this build."


def test_statements_keep_math_and_escape_the_rest():
    assert report.statement_markdown("$D(q \\| p) \\le 1$ while a*b|c") == "$D(q \\| p) \\le 1$ while a\\*b\\|c"


def test_report_escapes_markdown_in_statements():
    text = "D(phi||p) <= Delta, e1 + l* e2 and l* (x), $y$ `z` [w] E_{phi}"
    escaped = report.escape(text)
    assert "\\|\\|" in escaped and "l\\* e2" in escaped and "\\$y\\$" in escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == text


def test_max_error_over_checks_is_reported(tmp_path):
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path / "01_optimal_policy", registry=reg)
    for err in (1e-14, 5e-12, 2e-13):
        rec.record("C1", err)
    row = next(r for r in report.statuses(outputs=tmp_path, registry=reg) if r.id == "C1")
    assert row.status == "pass" and row.error == 5e-12 and row.checks == 3


def test_ablations_must_exceed_the_tolerance_and_do_not_count_as_the_error(tmp_path):
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("01_optimal_policy", tmp_path / "01_optimal_policy", registry=reg)
    rec.record("C1", 1e-15)
    rec.record("C1", 0.5, ablation=True, detail="without the term")
    with pytest.raises(claims.ClaimFailed, match="cannot see the term"):
        rec.record("C1", 1e-14, ablation=True)
    row = next(r for r in report.statuses(outputs=tmp_path, registry=reg) if r.id == "C1")
    assert row.error == 1e-15 and row.checks == 1 and row.status == "fail"
    assert "| 2 (ablation: must exceed) | 5.00e-01 |" in report.report_markdown(outputs=tmp_path)


def _passing_results(outputs: Path, chapter: str = "00_pipeline", claim: str = "C0") -> None:
    claims.ClaimRecorder(chapter, outputs / chapter).record(claim, 0.0, detail="ok")


def _scratch_chapter(tmp_path: Path, chapter: str = "00_pipeline") -> Path:
    """A repository root holding only one chapter's source (enough for its content hash)."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / f"{chapter}.md").write_bytes((ROOT / "notebooks" / f"{chapter}.md").read_bytes())
    return root


def _row(outputs: Path, root: Path, claim: str = "C0") -> report.ClaimStatus:
    rows = report.statuses(outputs=outputs, root=root, content_hash=build.content_hash)
    return next(r for r in rows if r.id == claim)


def test_results_without_a_stamp_or_older_than_the_chapter_are_stale(tmp_path):
    """A pass counts only for the outputs of a successful run of the chapter as it is now."""
    root, outputs = _scratch_chapter(tmp_path), tmp_path / "outputs"
    _passing_results(outputs)
    row = _row(outputs, root)
    assert row.status == "stale" and "did not succeed" in row.reason  # no stamp: the last run failed
    source = root / "notebooks" / "00_pipeline.md"
    for parameters in report.BUILD_PARAMETERS:  # a build with or without --quick
        (outputs / ".00_pipeline.hash").write_text(build.content_hash(root, source, parameters))
        assert _row(outputs, root).status == "pass"
    source.write_text(source.read_text() + "\n")  # the chapter changed, not rebuilt
    row = _row(outputs, root)
    assert row.status == "stale" and "changed since its results were made" in row.reason
    assert row.error == 0.0, "a stale claim still shows the error its outdated run measured"
    (outputs / ".00_pipeline.hash").write_text(build.content_hash(root, source, {"quick": False}))
    assert _row(outputs, root).status == "stale", "parameters the build never uses cannot match"
    source.unlink()
    assert "no source" in _row(outputs, root).reason


def test_a_failed_check_stays_a_failure_and_missing_stays_missing(tmp_path):
    root, outputs = _scratch_chapter(tmp_path, "01_optimal_policy"), tmp_path / "outputs"
    rec = claims.ClaimRecorder("01_optimal_policy", outputs / "01_optimal_policy")
    with pytest.raises(claims.ClaimFailed):
        rec.record("C1", 1.0)
    rows = {r.id: r for r in report.statuses(outputs=outputs, root=root, content_hash=build.content_hash)}
    assert rows["C1"].status == "fail" and rows["C2"].status == "missing" and rows["C0"].status == "missing"


def test_stale_is_shown_in_the_report_and_the_check_lines(tmp_path):
    root, outputs = _scratch_chapter(tmp_path), tmp_path / "outputs"
    _passing_results(outputs)
    assert "### C0: pass" in report.report_markdown(outputs=outputs), "no content hash given: no freshness check"
    md = report.report_markdown(outputs=outputs, content_hash=build.content_hash)  # no stamp: stale
    assert "### C0: stale" in md and "**0 pass, 0 fail, 1 stale, " in md
    assert "Not passed: the last run of chapter 00\\_pipeline did not succeed" in md
    line = report.check_line(_row(outputs, root))
    assert "**stale**, not passed" in line and "pass**" not in line


def _claims(monkeypatch, capsys, root: Path, outputs: Path, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("LMALIGN_ROOT", str(root))
    monkeypatch.setenv("LMALIGN_OUTPUTS", str(outputs))
    code = cli.claims_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_claims_exits_1_and_names_a_stale_claim(tmp_path, monkeypatch, capsys):
    root, outputs = _scratch_chapter(tmp_path), tmp_path / "outputs"
    (root / "data").mkdir()
    (root / "data" / "claims.yml").write_text(
        "claims:\n  C0: {statement: s, result: Book, chapter: 00_pipeline, tolerance: 1.0e-12}\n")
    _passing_results(outputs)
    source = root / "notebooks" / "00_pipeline.md"
    (outputs / ".00_pipeline.hash").write_text(build.content_hash(root, source, {"quick": True}))
    assert _claims(monkeypatch, capsys, root, outputs)[0] == 0
    source.write_text(source.read_text() + "\n")
    code, out, err = _claims(monkeypatch, capsys, root, outputs)
    assert code == 1 and "C0     stale" in out and "stale C0: chapter 00_pipeline changed" in out
    assert "did not pass: C0 (stale)" in err
    code, out, _ = _claims(monkeypatch, capsys, root, outputs, "--json")
    assert code == 1 and json.loads(out)[0]["status"] == "stale"
    assert _claims(monkeypatch, capsys, root, outputs, "--allow-missing")[0] == 1, "stale is never allowed"
    assert "stale" in cli.claims_parser().format_help()


@pytest.mark.slow
def test_claims_after_a_passing_build_and_a_failing_one(tmp_path, monkeypatch, capsys):
    """A chapter that built and passed, then fails to build: its claims are no longer reported as passed."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "notebooks").mkdir()
    source = root / "notebooks" / "00_pipeline.md"
    good = (ROOT / "notebooks" / "00_pipeline.md").read_text()
    source.write_text(good)
    layout = build.build(root=root, build_dir=tmp_path / "build", selected=["00_pipeline"], quick=True, html=False)
    code, out, _ = _claims(monkeypatch, capsys, root, layout.outputs, "--allow-missing")
    assert code == 0 and "C0     pass" in out
    source.write_text(good + '\n```{code-cell} ipython3\nraise RuntimeError("injected fault")\n```\n')
    with pytest.raises(build.BuildError, match="injected fault"):
        build.build(root=root, build_dir=tmp_path / "build", selected=["00_pipeline"], quick=True, html=False)
    assert (layout.outputs / "00_pipeline" / "claims.json").is_file(), "the earlier results are kept"
    code, out, err = _claims(monkeypatch, capsys, root, layout.outputs, "--allow-missing")
    assert code == 1 and "C0     stale" in out and "C0 (stale)" in err
    assert "the last run of chapter 00_pipeline did not succeed" in out


def test_claims_text_is_in_natural_order_with_a_statement_column():
    """``python -m lmalign claims`` lists C5 before C35 (numbers read as numbers) and shows each statement."""
    def row(cid: str, statement: str) -> report.ClaimStatus:
        return report.ClaimStatus(id=cid, statement=statement, result="r", chapter="00_x", tolerance=1e-9,
                                  error=None, checks=0, status="missing")

    rows = [row("C35", "thirty-five"), row("C5", "five " * 40), row("C6", "six"), row("C36", "thirty-six")]
    lines = report.as_text(rows).splitlines()
    assert [ln.split()[0] for ln in lines[1:5]] == ["C5", "C6", "C35", "C36"]
    assert lines[0].split()[-1] == "statement"
    assert lines[2].endswith("six") and lines[3].endswith("thirty-five")
    long = lines[1][lines[0].index("statement"):]
    assert long.endswith("...") and len(long) == report.STATEMENT_WIDTH
