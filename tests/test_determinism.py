"""Two clean builds of the same sources publish byte-identical files, and no path of the building machine.

The smallest chapter is built twice, each time by a fresh process (so the second build really executes it: the
build reuses identical runs only within one process) into a new build folder with a different path, through the
whole pipeline: jupytext, papermill, the report, staging and Jupyter Book. The book around it is cut down to the
pages that do not reference other chapters (the intro, the notation, the API reference and how to reproduce link
into every chapter or into the library's docstrings, so a one-chapter book cannot render them with warnings as
errors): a minimal intro and how-to page, the chapter, the report, the status page and the bibliography. Every
published file is compared byte for byte: the HTML tree (search index included), the notebook offered for
download, the chapter's figures and its claims file. Nothing is left out of the comparison.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "00_pipeline"  # the fastest chapter; it draws a figure and checks a claim
TOC = f"""format: jb-book
root: book/intro
chapters:
  - file: notebooks/{CHAPTER}
  - file: book/reproduce
  - file: book/report
  - file: book/status
  - file: book/bibliography
"""
INTRO = "# A one-chapter book\n\nThe determinism test builds this book twice {cite}`yang2024asymptotics`.\n"
REPRODUCE = "# How to reproduce\n\nThe chapter's download line links here.\n"
BUILD = "import sys; from lmalign.book import build; build.build(root=sys.argv[1], build_dir=sys.argv[2], quick=True)"


def _book_root(tmp: Path) -> Path:
    """A copy of the repository's book with one chapter (see the module docstring)."""
    root = tmp / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / f"{CHAPTER}.md", root / "notebooks")
    shutil.copy2(ROOT / "_config.yml", root)
    (root / "_toc.yml").write_text(TOC)
    shutil.copytree(ROOT / "book", root / "book")
    (root / "book" / "intro.md").write_text(INTRO)
    (root / "book" / "reproduce.md").write_text(REPRODUCE)
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return root


def _build(root: Path, build_dir: Path) -> Path:
    """One clean build in a process of its own, with the library copied into ``root`` (both builds and their
    kernels import the same sources even if the working tree changes meanwhile); returns the build folder."""
    env = dict(os.environ, LMALIGN_ROOT=str(root), PYTHONPATH=str(root / "src"))
    env.pop("LMALIGN_OUTPUTS", None)
    proc = subprocess.run([sys.executable, "-c", BUILD, str(root), str(build_dir)], env=env, cwd=root,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{CHAPTER}: executing" in proc.stderr, "the chapter was not executed by this build"
    return build_dir


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("determinism")
    root = _book_root(tmp)
    return _build(root, tmp / "first"), _build(root, tmp / "second-build-folder")


def published(build_dir: Path) -> dict[str, Path]:
    """Every published file of a build by its path relative to the build folder: the HTML tree, the notebooks
    offered for download, the chapter's figures and its claims file."""
    files = [p for p in (build_dir / "html").rglob("*") if p.is_file()]
    files += sorted((build_dir / "site" / "notebooks" / "downloads").glob("*.ipynb"))
    files += [p for p in (build_dir / "outputs" / CHAPTER / "figures").iterdir() if p.is_file()]
    files.append(build_dir / "outputs" / CHAPTER / "claims.json")
    return {p.relative_to(build_dir).as_posix(): p for p in sorted(files)}


def first_difference(a: bytes, b: bytes) -> str:
    """Where two different files first differ: the line number and both lines (cut around the difference)."""
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            col = next(i for i, (p, q) in enumerate(zip(x + b"\0", y + b"\1", strict=False)) if p != q)
            cut = slice(max(0, col - 80), col + 80)
            return f"line {number}: {x[cut]!r} != {y[cut]!r}"
    return f"one file is a prefix of the other ({len(a)} and {len(b)} bytes)"


def test_two_clean_builds_publish_identical_bytes(two_builds):
    first, second = (published(b) for b in two_builds)
    assert set(first) == set(second), f"published files differ: {sorted(set(first) ^ set(second))[:10]}"
    assert any(k.endswith(f"notebooks/{CHAPTER}.html") for k in first)
    assert any(k.endswith("searchindex.js") for k in first) and any(k.endswith(".svg") for k in first)
    differing = [k for k in first if first[k].read_bytes() != second[k].read_bytes()]
    if differing:
        k = differing[0]
        pytest.fail(f"{len(differing)} of {len(first)} published files differ, first {k}, "
                    f"{first_difference(first[k].read_bytes(), second[k].read_bytes())}; all: {differing[:20]}")


def machine_paths(build_dir: Path, root: Path) -> list[re.Pattern]:
    """What a path of the building machine looks like: the build folder, the sources, the home folder, a
    temporary folder, a kernel's temporary file name."""
    home = Path.home()
    named = [build_dir, build_dir.resolve(), root, root.resolve()] + ([home] if len(home.parts) > 1 else [])
    return [re.compile(re.escape(str(p)).encode()) for p in named] + [
        re.compile(rb"(?<![\w.])/tmp/"), re.compile(rb"ipykernel_\d"), re.compile(rb"/private/var/folders")]


def test_no_machine_path_is_published(two_builds):
    for build_dir in two_builds:
        root = build_dir.parent / "repo"
        patterns = machine_paths(build_dir, root)
        files = [p for k, p in published(build_dir).items() if not k.endswith((".woff", ".woff2", ".png"))]
        files += list((build_dir / "site" / "notebooks").glob("*.ipynb"))  # the staged notebooks too
        assert len(files) > 20
        for path in files:
            data = path.read_bytes()
            for pattern in patterns:
                found = pattern.search(data)
                assert not found, (f"{path.relative_to(build_dir)} shows a machine path: "
                                   f"{data[max(0, found.start() - 80):found.end() + 80]!r}")


def test_the_download_notebook_is_clean(two_builds):
    path = two_builds[0] / "site" / "notebooks" / "downloads" / f"{CHAPTER}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert set(nb.metadata) >= {"kernelspec", "language_info"}
    assert "jupytext" not in nb.metadata, "jupytext pairing metadata makes JupyterLab fail (InconsistentPath)"
    assert set(nb.metadata.get("papermill", {})) <= {"parameters"}, "papermill paths or times left in"
    assert all(cell.id.startswith(f"{CHAPTER}-") for cell in nb.cells), "cell ids are not stable"
    assert len({cell.id for cell in nb.cells}) == len(nb.cells)
    for cell in nb.cells:
        assert "injected-parameters" not in cell.metadata.get("tags", [])
        assert not {"papermill", "execution"} & set(cell.metadata), cell.metadata
        streams = [(o.output_type, o.get("name")) for o in cell.get("outputs", [])]
        pairs = zip(streams, streams[1:], strict=False)
        assert all(a != b or a[0] != "stream" for a, b in pairs), "streams not merged"
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs), "the executed outputs are missing"
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", path.read_text()), "a timestamp is left in"


def test_status_page_has_no_run_times_and_sorts_claims(two_builds):
    page = (two_builds[0] / "html" / "book" / "status.html").read_text()
    assert "timings.json" in page
    timings = two_builds[0] / "outputs" / "timings.json"
    assert CHAPTER in timings.read_text()


def test_no_build_date_is_published(two_builds):
    """The theme's "Last updated on <date>" footer would make builds on different days differ."""
    pages = [p for k, p in published(two_builds[0]).items() if k.endswith(".html")]
    assert len(pages) > 5
    for page in pages:
        assert "Last updated on" not in page.read_text(encoding="utf-8"), page.name


def test_a_quick_build_says_so_on_every_page(two_builds):
    """Both builds ran with ``--quick``: every page carries the banner, so quick numbers never pass for the book's."""
    pages = [p for k, p in published(two_builds[0]).items() if k.endswith(".html") and "_static" not in k]
    assert len(pages) > 5
    for page in pages:
        if "http-equiv=\"Refresh\"" not in page.read_text(encoding="utf-8"):  # a redirect, not a page
            assert "Quick build: every chapter ran with" in page.read_text(encoding="utf-8"), page.name
