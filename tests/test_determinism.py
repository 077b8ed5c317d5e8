"""Two clean builds of the whole book, with its full parameters, publish byte-identical files and no path of the
building machine.

The first build is the reference: the folder ``LMALIGN_REFERENCE_BUILD`` names (CI points it at its own
``make book-clean`` and ``make pdf``, so the book is not built a third time), or else a clean build made here. The
second is made here from an empty folder with another path, by a process of its own and with no shared store of
runs, so every chapter really executes again, through the whole pipeline: jupytext, papermill, the report, staging,
Jupyter Book and, when the reference has it, the PDF. Every published file is compared byte for byte: the HTML tree
(search index and PDF included), the notebooks offered for download, the figures and the claims files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lmalign.book.browser import available

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "00_pipeline"  # the chapter whose download notebook is inspected
MODE = os.environ.get("LMALIGN_DETERMINISM_MODE", "full")  # "quick" for a faster local check
BUILD = (
    "import sys; from lmalign.book import build; "
    "build.build(root=sys.argv[1], build_dir=sys.argv[2], mode=sys.argv[3], clean=True)"
)
PDF = "import sys; from pathlib import Path; from lmalign.book import pdf; pdf.make_pdf(Path(sys.argv[1]))"


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LMALIGN_OUTPUTS", "LMALIGN_RUN_STORE")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _build(build_dir: Path, pdf: bool) -> Path:
    proc = _run(BUILD, str(ROOT), str(build_dir), MODE)
    assert f"{CHAPTER}: executing" in proc.stderr, "the chapter was not executed by this build"
    if pdf:
        _run(PDF, str(build_dir))
    return build_dir


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("determinism")
    given = os.environ.get("LMALIGN_REFERENCE_BUILD")
    reference = Path(given).resolve() if given else _build(tmp / "reference", pdf=available())
    if not (reference / "html" / "index.html").is_file():
        pytest.fail(f"LMALIGN_REFERENCE_BUILD={given}: no built book there")
    return reference, _build(tmp / "second-build-folder", pdf=(reference / "html" / "book.pdf").is_file())


def published(build_dir: Path) -> dict[str, Path]:
    """Every published file of a build by its path relative to the build folder: the HTML tree, the notebooks
    offered for download, the chapter's figures and its claims file."""
    files = {p.relative_to(build_dir).as_posix(): p for p in (build_dir / "html").rglob("*") if p.is_file()}
    for p in sorted((build_dir / "site" / "notebooks" / "downloads").glob("*.ipynb")):
        files[p.relative_to(build_dir).as_posix()] = p
    for link in sorted((build_dir / "outputs").iterdir()):  # each chapter's installed results
        if link.is_dir() and not link.name.startswith("."):
            for p in sorted(link.rglob("*")):
                if p.is_file():
                    files[f"outputs/{link.name}/{p.relative_to(link).as_posix()}"] = p
    return dict(sorted(files.items()))


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
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
    for chapter in chapters:
        assert f"html/notebooks/{chapter}.html" in first and f"outputs/{chapter}/claims.json" in first, chapter
    assert set(first) == set(second), f"published files differ: {sorted(set(first) ^ set(second))[:10]}"
    assert any(k.endswith(f"notebooks/{CHAPTER}.html") for k in first)
    assert any(k.endswith("searchindex.js") for k in first) and any(k.endswith(".svg") for k in first)
    differing = [k for k in first if first[k].read_bytes() != second[k].read_bytes()]
    if differing:
        k = differing[0]
        pytest.fail(
            f"{len(differing)} of {len(first)} published files differ, first {k}, "
            f"{first_difference(first[k].read_bytes(), second[k].read_bytes())}; all: {differing[:20]}"
        )


def machine_paths(build_dir: Path, root: Path) -> list[re.Pattern]:
    """What a path of the building machine looks like: the build folder, the sources, the home folder, a
    temporary folder, a kernel's temporary file name."""
    home = Path.home()
    named = [build_dir, build_dir.resolve(), root, root.resolve()] + ([home] if len(home.parts) > 1 else [])
    return [re.compile(re.escape(str(p)).encode()) for p in named] + [
        re.compile(rb"(?<![\w.])/tmp/"),
        re.compile(rb"ipykernel_\d"),
        re.compile(rb"/private/var/folders"),
    ]


def test_no_machine_path_is_published(two_builds):
    for build_dir in two_builds:
        patterns = machine_paths(build_dir, ROOT)
        files = [p for k, p in published(build_dir).items() if not k.endswith((".woff", ".woff2", ".png"))]
        files += list((build_dir / "site" / "notebooks").glob("*.ipynb"))  # the staged notebooks too
        assert len(files) > 20
        for path in files:
            data = path.read_bytes()
            for pattern in patterns:
                found = pattern.search(data)
                assert not found, (
                    f"{path.relative_to(build_dir)} shows a machine path: "
                    f"{data[max(0, found.start() - 80) : found.end() + 80]!r}"
                )


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
    timings = two_builds[1] / "outputs" / "timings.json"
    assert CHAPTER in timings.read_text()


def test_no_build_date_is_published(two_builds):
    """The theme's "Last updated on <date>" footer would make builds on different days differ."""
    pages = [p for k, p in published(two_builds[0]).items() if k.endswith(".html")]
    assert len(pages) > 5
    for page in pages:
        assert "Last updated on" not in page.read_text(encoding="utf-8"), page.name
