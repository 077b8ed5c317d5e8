"""Every chapter, executed through jupytext + papermill with ``-p quick True`` by the session's quick book build
(a failing chapter stops that build with a message naming the chapter and its cell), checked one by one."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from lmalign.book import build, claims

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.md"))


def test_every_markdown_file_is_a_chapter():
    """The build picks up ``notebooks/NN_name.md`` with the jupytext header only: nothing may be skipped."""
    for source in SOURCES:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", source.stem), f"{source.name} is not named NN_name.md"
        head = source.read_text(encoding="utf-8")[:2000]
        assert build.JUPYTEXT_MARKER in head, f"{source.name} has no jupytext MyST header"
    assert [s.stem for s in SOURCES] == [c.stem for c in build.chapters(ROOT)]


@pytest.mark.parametrize("chapter", [s.stem for s in SOURCES])
def test_chapter_runs_with_quick_parameters(quick_book, chapter):
    layout = quick_book
    out = layout.outputs / chapter
    results = json.loads((out / "claims.json").read_text())
    assert results["chapter"] == chapter
    assert results["checks"], f"{chapter} recorded no claim check"
    failed = [c for c in results["checks"] if not c["passed"]]
    assert not failed, f"{chapter}: failed checks {failed}"
    registry = claims.load_registry()
    for check in results["checks"]:
        assert registry[check["claim"]].chapter == chapter
        # a claim with an error bound is checked against the bound's value at the run's parameters
        tolerance = check["tolerance"] if registry[check["claim"]].bound else registry[check["claim"]].tolerance
        if check["kind"] == "ablation":
            assert check["error"] > tolerance, f"{chapter}: an ablation of {check['claim']} passes its tolerance"
        else:
            assert check["error"] <= tolerance

    sidecars = sorted((out / "figures").glob("*.json"))
    assert sidecars, f"{chapter} made no figure"
    for sidecar in sidecars:
        prov = json.loads(sidecar.read_text())
        assert prov["chapter"] == chapter and prov["figure"] == sidecar.stem and prov["caption"]
        assert prov["parameters"].get("quick") is True, "Chapter(..., parameters=...) must record quick"
        assert prov["inputs"][f"notebooks/{chapter}.md"]
        svg = sidecar.with_suffix(".svg")
        assert svg.is_file(), f"figure {svg.name} has a sidecar but no SVG"
        assert svg.read_text().lstrip().startswith("<?xml"), f"{svg.name} is not SVG"
    assert sorted(p.stem for p in (out / "figures").glob("*.svg")) == [s.stem for s in sidecars]

    nb = nbformat.read(layout.executed / f"{chapter}.ipynb", as_version=4)
    shown = sum(
        "image/svg+xml" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert shown >= len(sidecars), f"{chapter}: {len(sidecars)} figures saved but {shown} displayed"
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
