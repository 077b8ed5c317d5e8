"""The build end to end: every chapter with quick parameters, the HTML from a clean folder, caching, faults.

These tests execute chapters through jupytext + papermill in temporary folders, exactly as ``make book`` does.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from lmalign import build, claims, report

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_with_quick_parameters(quick_book, chapter):
    results = json.loads((quick_book.outputs / chapter / "claims.json").read_text())
    assert results["checks"], f"{chapter} recorded no claim"
    assert all(c["passed"] for c in results["checks"])
    figs = list((quick_book.outputs / chapter / "figures").glob("*.svg"))
    assert figs, f"{chapter} made no figure"
    for svg in figs:
        assert svg.with_suffix(".json").is_file()
        assert svg.read_text().lstrip().startswith("<?xml")
    assert (quick_book.executed / f"{chapter}.ipynb").is_file()


def test_html_and_report(quick_book):
    html = quick_book.html
    assert (html / "index.html").is_file()
    for chapter in CHAPTERS:
        page = (html / "notebooks" / f"{chapter}.html").read_text()
        assert "<svg" in page or ".svg" in page
    rep = (html / "book" / "report.html").read_text()
    rows = report.statuses(outputs=quick_book.outputs)
    for row in rows:
        assert f">{row.id}<" in rep
    chapter_claims = [r for r in rows if r.chapter in CHAPTERS]
    assert chapter_claims and all(r.status == "pass" for r in chapter_claims)
    assert all(r.status == "missing" for r in rows if r.chapter not in CHAPTERS)


def test_unchanged_rebuild_is_cached(quick_book, capsys):
    stamps = {c: (quick_book.executed / f"{c}.ipynb").stat().st_mtime_ns for c in CHAPTERS}
    build.build(root=ROOT, build_dir=quick_book.build_dir, quick=True)
    err = capsys.readouterr().err
    for c in CHAPTERS:
        assert f"{c}: unchanged, cached" in err
        assert (quick_book.executed / f"{c}.ipynb").stat().st_mtime_ns == stamps[c]
    assert "html: unchanged, not rebuilt" in err


def _scratch_root(tmp_path: Path, chapter_text: str) -> Path:
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "notebooks" / "01_optimal_policy.md").write_text(chapter_text)
    return root


def test_failures_stop_the_build_and_keep_good_outputs(tmp_path):
    good = (ROOT / "notebooks" / "01_optimal_policy.md").read_text()
    root = _scratch_root(tmp_path, good)
    out = tmp_path / "build"
    build.build(root=root, build_dir=out, quick=True, html=False)
    results = out / "outputs" / "01_optimal_policy" / "claims.json"
    figure = out / "outputs" / "01_optimal_policy" / "figures" / "frontier.svg"
    before = (results.read_bytes(), figure.read_bytes())

    failing_cell = good + '\n```{code-cell} ipython3\nraise RuntimeError("injected fault")\n```\n'
    (root / "notebooks" / "01_optimal_policy.md").write_text(failing_cell)
    with pytest.raises(build.BuildError, match=r"01_optimal_policy.*cell.*injected fault"):
        build.build(root=root, build_dir=out, quick=True, html=False)
    assert (results.read_bytes(), figure.read_bytes()) == before

    failing_claim = good + '\n```{code-cell} ipython3\nch.claim("C1", 1.0, detail="injected")\n```\n'
    (root / "notebooks" / "01_optimal_policy.md").write_text(failing_claim)
    with pytest.raises(build.BuildError, match=r"01_optimal_policy.*cell.*ClaimFailed"):
        build.build(root=root, build_dir=out, quick=True, html=False)
    assert (results.read_bytes(), figure.read_bytes()) == before
    assert not list(out.glob(".01_optimal_policy.*")), "temporary run folder left behind"


def test_markdown_without_jupytext_header_is_an_error(tmp_path):
    root = _scratch_root(tmp_path, "# A chapter\n\n```{code-cell} ipython3\n1\n```\n")
    with pytest.raises(build.BuildError, match="jupytext header"):
        build.build(root=root, build_dir=tmp_path / "b", html=False)


def test_every_registered_claim_names_a_chapter_stem():
    for claim in claims.load_registry().values():
        assert claim.chapter[:2].isdigit()


def test_two_runs_give_identical_figures_and_claims(quick_book, tmp_path):
    """Deterministic output: the same chapter executed again gives byte-identical SVGs and the same claims."""
    chapter = CHAPTERS[0]
    again = build.BuildLayout(root=ROOT, build_dir=tmp_path)
    build.execute_chapter(again, ROOT / "notebooks" / f"{chapter}.md", {"quick": True})
    first, second = quick_book.outputs / chapter, again.outputs / chapter
    svgs = sorted(p.name for p in (first / "figures").glob("*.svg"))
    assert svgs == sorted(p.name for p in (second / "figures").glob("*.svg"))
    for name in svgs:
        assert (first / "figures" / name).read_bytes() == (second / "figures" / name).read_bytes(), name
    assert (first / "claims.json").read_bytes() == (second / "claims.json").read_bytes()


def test_math_is_served_from_the_book(quick_book):
    page = (quick_book.html / "notebooks" / f"{CHAPTERS[0]}.html").read_text()
    assert "cdn.jsdelivr.net/npm/mathjax" not in page
    assert "_static/mathjax/tex-chtml.js" in page
    assert (quick_book.html / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_chapter_pages_offer_notebook_and_myst_source(quick_book):
    for chapter in CHAPTERS:
        page = (quick_book.html / "notebooks" / f"{chapter}.html").read_text()
        for ext in ("ipynb", "md"):
            link = re.search(rf'href="\.\./(_downloads/[0-9a-f]+/{chapter}\.{ext})"', page)
            assert link, f"{chapter}: no .{ext} download"
            assert (quick_book.html / link.group(1)).is_file()
    sidecars = list((quick_book.html / "_static" / "figures").rglob("*.json"))
    assert sidecars and all(json.loads(s.read_text())["chapter"] for s in sidecars)


def test_figures_have_opaque_backgrounds_and_provenance(quick_book):
    for chapter in CHAPTERS:
        for svg in (quick_book.outputs / chapter / "figures").glob("*.svg"):
            text = svg.read_text()
            assert re.search(r'<g id="patch_1">\s*<path [^>]*style="fill: #ffffff"', text), f"{svg.name}: transparent"
            prov = json.loads(svg.with_suffix(".json").read_text())
            assert prov["chapter"] == chapter and prov["cell"] and prov["commit"] and prov["versions"]["numpy"]
        page = (quick_book.html / "notebooks" / f"{chapter}.html").read_text()
        assert "Made by chapter" in page and "at commit" in page


def test_binder_launches_the_myst_source(quick_book):
    for chapter in CHAPTERS:
        page = (quick_book.html / "notebooks" / f"{chapter}.html").read_text()
        assert f"mybinder.org/v2/gh/lmalign/asymptotics-companion/main?urlpath=tree/notebooks/{chapter}.md" in page
        assert f"notebooks/{chapter}.ipynb" not in page.split("mybinder.org")[1][:300]
