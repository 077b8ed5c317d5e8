"""Claims registry, recorded results and the generated report agree; missing is never pass."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import install_passing_run

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
        assert f"| {{ref}}`{cid} <{report.label(cid)}>` |" in md
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


@pytest.mark.parametrize(
    "entry, problem",
    [
        ("C1: {statement: s, result: R1, chapter: 01_x}", "lacks tolerance"),
        ("C1: {statement: s, result: R1, chapter: 01_x, tolerance: 0}", "tolerance must be positive"),
        ("C1: {result: R1, chapter: 01_x, tolerance: 1.0e-9}", "lacks statement"),
    ],
)
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
    rows = [
        [c.strip() for c in re.split(r"(?<!\\)\|", ln)]
        for ln in md.splitlines()
        if re.match(r"\| \{ref\}`[CE][\d.]+ <claim-[ce][\d-]+>` \|", ln)
    ]
    assert all(len(r) == 10 for r in rows), "a row broke the table"
    assert [re.search(r"`([CE][\d.]+) ", r[1]).group(1) for r in rows] == list(reg)
    c0 = rows[0]
    assert c0[3] == "[00_pipeline](../notebooks/00_pipeline.ipynb)"
    assert c0[4] == "3.00e-16" and c0[6] == f"{reg['C0'].tolerance / 3e-16:.3g}×" and c0[8] == "**pass**"
    assert c0[7] == "—"  # no sweep yet
    for row in rows[1:]:
        assert row[8] == "**missing**" and row[4] == "—"
        assert row[3].startswith("`"), "a chapter that has not run cannot be linked"
    assert f"**1 pass, 0 fail, 0 stale, 0 corrupt, {len(reg) - 1} missing** of {len(reg)} claims." in md
    n_ex = sum(1 for c in reg if c.startswith("E"))
    assert n_ex >= 24 and f"Of these, {n_ex} check the numbers" in md
    assert f"(exercises.md)): 0 pass, 0 fail, 0 stale, 0 corrupt, {n_ex} missing." in md
    assert "Built from commit `abc`." in md
    sections = re.findall(r"^\(claim-([ce][\d-]+)\)=\n### ([CE][\d.]+): (\w+)$", md, flags=re.MULTILINE)
    assert [s[1] for s in sections] == list(reg) and all(s[0] == report.label(s[1])[6:] for s in sections)
    assert sections[0][2] == "pass" and {s[2] for s in sections[1:]} == {"missing"}
    assert f"| 1 | 3.00e-16 | 1e-12 | {1e-12 / 3e-16:.3g}× | yes | ok |" in md


def test_check_lines_link_the_report(tmp_path):
    reg = claims.load_registry()
    rec = claims.ClaimRecorder("00_pipeline", tmp_path / "00_pipeline", registry=reg)
    rec.record("C0", 3e-16)
    rec.record("C0", 5e-16)
    subs = report.substitutions(tmp_path)
    assert set(subs) == {f"check_{c.replace('.', '_')}" for c in reg}
    assert subs["check_C0"] == (
        "**Check {ref}`C0 <claim-c0>`** (2 checks): largest error 5.0e-16, tolerance 1e-12: **pass**."
    )
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


def _installed(tmp_path: Path, root: Path, parameters: dict, chapter: str = "00_pipeline") -> Path:
    """Passing results installed as a build installs them (:func:`conftest.install_passing_run`); returns the
    outputs folder."""
    return install_passing_run(root, tmp_path / "build", parameters, chapter).outputs


def test_results_not_installed_or_older_than_the_chapter_are_stale(tmp_path):
    """A pass counts only for the outputs of a successful run of the chapter as it is now."""
    root, outputs = _scratch_chapter(tmp_path), tmp_path / "outputs"
    _passing_results(outputs)
    row = _row(outputs, root)
    assert row.status == "stale" and "not installed by a build" in row.reason  # no run record
    source = root / "notebooks" / "00_pipeline.md"
    for parameters in ({}, {"quick": True}, {"seed": 7}):  # the record says what the run's parameters were
        shutil.rmtree(tmp_path / "build", ignore_errors=True)
        outputs = _installed(tmp_path, root, parameters)
        assert _row(outputs, root).status == "pass", parameters
    (outputs / ".00_pipeline.attempt").write_text("a later run started")  # and failed, or was killed
    row = _row(outputs, root)
    assert row.status == "stale" and "did not succeed" in row.reason
    (outputs / ".00_pipeline.attempt").unlink()
    source.write_text(source.read_text() + "\n")  # the chapter changed, not rebuilt
    row = _row(outputs, root)
    assert row.status == "stale" and "changed since its results were made" in row.reason
    assert row.error == 0.0, "a stale claim still shows the error its outdated run measured"
    source.unlink()
    assert "no source" in _row(outputs, root).reason


def test_a_truncated_or_altered_results_file_is_corrupt(tmp_path, monkeypatch, capsys):
    """An unreadable claims.json, or one that does not match its run's checksum, is ``corrupt``: one line from
    ``claims``, exit 1, never a traceback."""
    root = _scratch_chapter(tmp_path)
    (root / "data").mkdir()
    (root / "data" / "claims.yml").write_text(
        "claims:\n  C0: {statement: s, result: Book, chapter: 00_pipeline, tolerance: 1.0e-12}\n"
    )
    outputs = _installed(tmp_path, root, {"quick": True})
    assert _row(outputs, root).status == "pass"
    results = outputs / "00_pipeline" / "claims.json"
    text = results.read_text()
    results.write_text(text[: len(text) // 2])  # truncated
    row = _row(outputs, root)
    assert row.status == "corrupt" and "claims.json" in row.reason and row.error is None
    code, out, err = _claims(monkeypatch, capsys, root, outputs, "--allow-missing")
    assert code == 1 and "C0     corrupt" in out and "C0 (corrupt)" in err and "Traceback" not in out + err
    results.write_text(text.replace('"ok"', '"OK"'))  # parses, but is not what the run wrote
    row = _row(outputs, root)
    assert row.status == "corrupt" and "checksum" in row.reason
    md = report.report_markdown(outputs=outputs, content_hash=build.content_hash)
    assert "### C0: corrupt" in md
    results.write_text(text)
    assert _row(outputs, root).status == "pass"


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
    md = report.report_markdown(outputs=outputs, content_hash=build.content_hash)  # no run record: stale
    assert "### C0: stale" in md and "**0 pass, 0 fail, 1 stale, 0 corrupt, " in md
    assert "Not passed: the results of chapter 00\\_pipeline were not installed by a build" in md
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
        "claims:\n  C0: {statement: s, result: Book, chapter: 00_pipeline, tolerance: 1.0e-12}\n"
    )
    outputs = _installed(tmp_path, root, {"quick": True})
    source = root / "notebooks" / "00_pipeline.md"
    assert _claims(monkeypatch, capsys, root, outputs)[0] == 0
    source.write_text(source.read_text() + "\n")
    code, out, err = _claims(monkeypatch, capsys, root, outputs)
    assert code == 1 and "C0     stale" in out and "stale C0: chapter 00_pipeline changed" in out
    assert "did not pass: C0 (stale)" in err
    code, out, _ = _claims(monkeypatch, capsys, root, outputs, "--json")
    assert code == 1 and json.loads(out)[0]["status"] == "stale"
    assert _claims(monkeypatch, capsys, root, outputs, "--allow-missing")[0] == 1, "stale is never allowed"
    assert "stale" in cli.claims_parser().format_help()


def test_claims_after_a_passing_build_and_a_failing_one(tmp_path, monkeypatch, capsys, scratch_build):
    """A chapter that built and passed, then fails to build: its claims are no longer reported as passed."""
    good = (ROOT / "notebooks" / "00_pipeline.md").read_text()
    root = scratch_build({"00_pipeline": good})
    source = root / "notebooks" / "00_pipeline.md"
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


def _registry_with_bound(tmp_path):
    path = tmp_path / "claims.yml"
    path.write_text(
        "claims:\n  C9: {statement: s, result: A6, chapter: 06_best_of_n, tolerance: 1.0e-6,\n"
        "       bound: '(log n)^2 / (lambda^2 n^2)'}\n  C10: {statement: s, result: A6, "
        "chapter: 06_best_of_n, tolerance: 1.0e-6}\n"
    )
    return claims.load_registry(path)


def test_a_tolerance_from_a_bound_is_recorded_with_its_margin(tmp_path):
    reg = _registry_with_bound(tmp_path)
    assert reg["C9"].bound == "(log n)^2 / (lambda^2 n^2)" and reg["C10"].bound == ""
    rec = claims.ClaimRecorder("06_best_of_n", tmp_path / "06_best_of_n", registry=reg)
    with pytest.raises(ValueError, match="pass tolerance="):
        rec.record("C9", 1e-7)  # a claim with a bound needs the bound's value
    with pytest.raises(ValueError, match="needs the bound it comes from"):
        rec.record("C10", 1e-7, tolerance=1e-3)  # an own tolerance needs a stated bound
    with pytest.raises(ValueError, match="finite positive"):
        rec.record("C9", 1e-7, tolerance=float("nan"))
    rec.record("C9", 2e-6, tolerance=1e-5)  # above the registry's 1e-6, inside the bound's value
    rec.record("C9", 1e-6, tolerance=4e-6)
    rec.record("C9", 5e-3, tolerance=1e-5, ablation=True)
    rec.record("C10", 5e-7)  # an old call: the registry's constant
    with pytest.raises(claims.ClaimFailed, match=r"bound \(log n\)\^2"):
        rec.record("C9", 2e-5, tolerance=1e-5)
    saved = json.loads((tmp_path / "06_best_of_n" / "claims.json").read_text())["checks"]
    assert [c["margin"] for c in saved] == pytest.approx([5.0, 4.0, 500.0, 2.0, 0.5])
    assert saved[0]["tolerance"] == 1e-5 and saved[0]["bound"] == "(log n)^2 / (lambda^2 n^2)"
    assert saved[3]["tolerance"] == 1e-6 and saved[3]["bound"] == ""


def test_the_report_shows_the_smallest_margin_and_the_sweep(tmp_path):
    reg = _registry_with_bound(tmp_path)
    rec = claims.ClaimRecorder("06_best_of_n", tmp_path / "06_best_of_n", registry=reg)
    rec.record("C9", 2e-6, tolerance=1e-5)
    rec.record("C9", 1e-6, tolerance=4e-6)
    (tmp_path / "sweep.json").write_text(json.dumps({"claims": {"C9": {"margin": 1.7}}}))
    rows = {r.id: r for r in report.statuses(outputs=tmp_path, registry=reg)}
    assert rows["C9"].margin == pytest.approx(4.0) and rows["C9"].sweep_margin == 1.7
    assert rows["C9"].error == 2e-6 and rows["C10"].sweep_margin is None
    line = report.check_line(rows["C9"])
    assert "smallest margin 4×" in line and "(log n)^2" in line
    (tmp_path / "sweep.json").write_text("{trunc")
    assert report.sweep_margins(tmp_path) == {}


def test_claims_text_is_in_natural_order_with_a_statement_column():
    """``python -m lmalign claims`` lists C5 before C35 (numbers read as numbers) and shows each statement."""

    def row(cid: str, statement: str) -> report.ClaimStatus:
        return report.ClaimStatus(
            id=cid,
            statement=statement,
            result="r",
            chapter="00_x",
            tolerance=1e-9,
            error=None,
            checks=0,
            status="missing",
        )

    rows = [row("C35", "thirty-five"), row("C5", "five " * 40), row("C6", "six"), row("C36", "thirty-six")]
    lines = report.as_text(rows).splitlines()
    assert [ln.split()[0] for ln in lines[1:5]] == ["C5", "C6", "C35", "C36"]
    assert lines[0].split()[-1] == "statement"
    assert lines[2].endswith("six") and lines[3].endswith("thirty-five")
    long = lines[1][lines[0].index("statement") :]
    assert long.endswith("...") and len(long) == report.STATEMENT_WIDTH


def test_claims_text_pairs_no_error_with_another_check_s_tolerance():
    """Where each check has its own tolerance (a bound at its parameters), the largest error of one check is not
    printed beside the tolerance of another (which read as a passing claim above its tolerance): the column
    says ``bound`` and the smallest margin is shown."""
    row = report.ClaimStatus(
        id="C55",
        statement="s",
        result="r",
        chapter="13_x",
        tolerance=4.3e-8,  # the tightest check's tolerance
        error=4.68e-8,  # the largest error, of a check with a looser tolerance
        checks=6,
        status="pass",
        margin=2.0,
        bound="2 x the second-order terms",
    )
    line = report.as_text([row]).splitlines()[1]
    assert line.split()[:5] == ["C55", "pass", "4.68e-08", "bound", "2×"], line
    constant = report.as_text([dataclasses.replace(row, bound="", margin=3.0)]).splitlines()[1]
    assert constant.split()[3:5] == ["4.3e-08", "3×"], constant


def test_a_check_that_ends_a_cell_shows_nothing():
    """A cell ending with ``ch.claim(...)`` displays no ``Check(...)`` repr (a build refuses one on a page)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.user_ns["check"] = claims.Check("C1", 0.0, 1.0, True, "detail")
    shell.user_ns["other"] = {"claim": "C1"}
    with capture_output() as shown:
        shell.run_cell("check")
    assert "C1" not in shown.stdout and shown.outputs == []
    with capture_output() as shown:  # the capture does see what a cell's last value displays
        shell.run_cell("other")
    assert "C1" in shown.stdout
