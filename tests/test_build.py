"""The build end to end: the HTML from a clean folder with quick parameters, caching, atomicity, faults.

These tests execute chapters through jupytext + papermill in temporary folders, exactly as ``make book`` does
(each chapter's own checks are in test_chapters.py).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import scratch_root

from lmalign.book import build, claims, executor, report, site

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


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


PIPELINE = "00_pipeline"  # the smallest chapter: the fault tests run copies of it


def _with_cell(text: str, code: str) -> str:
    return text + f"\n```{{code-cell}} ipython3\n{code}\n```\n"


def test_failures_stop_the_build_and_keep_good_outputs(tmp_path, scratch_build):
    good = (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()
    root = scratch_build({PIPELINE: good})
    out = tmp_path / "build"
    build.build(root=root, build_dir=out, quick=True, html=False)
    results = out / "outputs" / PIPELINE / "claims.json"
    figure = out / "outputs" / PIPELINE / "figures" / "cgf_slope.svg"
    executed = out / "executed" / f"{PIPELINE}.ipynb"
    before = (results.read_bytes(), figure.read_bytes(), executed.read_bytes())
    n_cells = len(nbformat.read(executed, as_version=4).cells)

    # a failing cell: the message names the chapter, the cell, its first source line and the exception
    source = root / "notebooks" / f"{PIPELINE}.md"
    source.write_text(_with_cell(good, 'raise RuntimeError("injected fault")'))
    with pytest.raises(build.BuildError) as err:
        build.build(root=root, build_dir=out, quick=True, html=False)
    msg = str(err.value)
    assert f"chapter {PIPELINE}" in msg and "RuntimeError: injected fault" in msg
    assert re.search(r"cell \d+ \(notebook cell index \d+\)", msg) and 'raise RuntimeError("injected' in msg
    assert (results.read_bytes(), figure.read_bytes(), executed.read_bytes()) == before

    # a failing claim: the cell that recorded it fails, and the registry's tolerance is quoted
    source.write_text(_with_cell(good, 'ch.claim("C0", 1.0, detail="injected")'))
    with pytest.raises(build.BuildError, match=rf"chapter {PIPELINE}: cell \d+ .*ClaimFailed.*C0"):
        build.build(root=root, build_dir=out, quick=True, html=False)
    assert (results.read_bytes(), figure.read_bytes(), executed.read_bytes()) == before
    assert not list((out / "runs" / PIPELINE).glob(".*")), "temporary run folder left behind"
    assert (out / "outputs" / f".{PIPELINE}.attempt").exists(), "a failed chapter must not look up to date"

    # back to the good source: the stored run of that digest is installed again, same results
    source.write_text(good)
    build.build(root=root, build_dir=out, quick=True, html=False)
    assert results.read_bytes() == before[0] and figure.read_bytes() == before[1]
    assert len(nbformat.read(executed, as_version=4).cells) == n_cells
    assert not (out / "outputs" / f".{PIPELINE}.attempt").exists()
    # the results are swapped in by replacing one link; no run of a failed attempt was stored
    assert (out / "outputs" / PIPELINE).is_symlink() and executed.is_symlink()
    assert len(list((out / "runs" / PIPELINE).iterdir())) == 1


def test_every_failing_chapter_is_reported_and_the_others_kept(tmp_path, scratch_build):
    good = (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()
    bad = _with_cell(good.replace('Chapter("00_pipeline"', 'Chapter("98_bad"'), "1 / 0")
    worse = _with_cell(good.replace('Chapter("00_pipeline"', 'Chapter("99_worse"'), "undefined_name")
    reg = yaml.safe_load((ROOT / "data" / "claims.yml").read_text())
    root = scratch_build({PIPELINE: good, "98_bad": bad, "99_worse": worse})
    for name in ("98_bad", "99_worse"):  # their C0 checks must belong to them
        reg["claims"][f"X{name}"] = dict(reg["claims"]["C0"], chapter=name)
    text = (root / "notebooks" / "98_bad.md").read_text().replace('ch.claim("C0"', 'ch.claim("X98_bad"')
    (root / "notebooks" / "98_bad.md").write_text(text)
    text = (root / "notebooks" / "99_worse.md").read_text().replace('ch.claim("C0"', 'ch.claim("X99_worse"')
    (root / "notebooks" / "99_worse.md").write_text(text)
    (root / "data" / "claims.yml").write_text(yaml.safe_dump(reg))
    out = tmp_path / "build"
    with pytest.raises(build.BuildError) as err:
        build.build(root=root, build_dir=out, quick=True, html=False, jobs=2)
    msg = str(err.value)
    assert "chapter 98_bad: cell" in msg and "ZeroDivisionError" in msg
    assert "chapter 99_worse: cell" in msg and "NameError" in msg
    assert (out / "outputs" / PIPELINE / "claims.json").is_file(), "the good chapter's outputs were not kept"
    assert not (out / "outputs" / "98_bad").exists() and not (out / "outputs" / "99_worse").exists()


def test_markdown_without_jupytext_header_is_an_error(tmp_path):
    root = scratch_root(tmp_path, {"01_plain": "# A chapter\n\n```{code-cell} ipython3\n1\n```\n"})
    with pytest.raises(build.BuildError, match="jupytext header"):
        build.build(root=root, build_dir=tmp_path / "b", html=False)


def test_every_chapter_is_in_the_toc(tmp_path):
    build.check_toc(ROOT, CHAPTERS)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "notebooks").mkdir()
    for name in ("01_a", "02_b"):
        (root / "notebooks" / f"{name}.md").write_text("")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: notebooks/01_a\n")
    build.check_toc(root, ["01_a"])
    with pytest.raises(build.BuildError, match="chapter 02_b: not listed in _toc.yml"):
        build.check_toc(root, ["01_a", "02_b"])
    (root / "notebooks" / "01_a.md").unlink()
    with pytest.raises(build.BuildError, match="chapter 01_a: listed in _toc.yml, but notebooks/01_a.md"):
        build.check_toc(root, [])


def test_content_hash_sees_every_input(tmp_path):
    root = scratch_root(tmp_path, {PIPELINE: (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()})
    chapter = root / "notebooks" / f"{PIPELINE}.md"
    base = build.content_hash(root, chapter, {"quick": True})
    assert build.content_hash(root, chapter, {"quick": True}) == base
    assert build.content_hash(root, chapter, {}) != base
    (root / "notebooks" / "README.txt").write_text("not an input")
    assert build.content_hash(root, chapter, {"quick": True}) == base
    changes = [chapter, root / "src" / "lmalign" / "law.py", root / "data" / "claims.yml"]
    for path in changes:
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert build.content_hash(root, chapter, {"quick": True}) != base, path
        path.write_bytes(original)
    (root / "data" / "new.csv").write_text("reward\n1\n")
    assert build.content_hash(root, chapter, {"quick": True}) != base


def test_identical_run_is_reused_in_another_build_folder(tmp_path, capsys, monkeypatch, scratch_build):
    root = scratch_build({PIPELINE: (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()})
    monkeypatch.setenv("LMALIGN_RUN_STORE", str(tmp_path / "shared"))  # a store both build folders see
    first = build.build(root=root, build_dir=tmp_path / "first", quick=True, html=False)
    second = build.build(root=root, build_dir=tmp_path / "second", quick=True, html=False)
    assert f"{PIPELINE}: unchanged, reused" in capsys.readouterr().err
    for rel in (
        f"outputs/{PIPELINE}/claims.json",
        f"outputs/{PIPELINE}/figures/cgf_slope.svg",
        f"executed/{PIPELINE}.ipynb",
    ):
        assert (first.build_dir / rel).read_bytes() == (second.build_dir / rel).read_bytes()
    assert build.installed(second, PIPELINE).digest == build.installed(first, PIPELINE).digest


def test_every_registered_claim_names_a_chapter_stem():
    for claim in claims.load_registry().values():
        assert claim.chapter[:2].isdigit()


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
            opaque = re.search(r'<g id="patch_1">\s*<path [^>]*style="fill: #ffffff"', text)
            assert opaque, f"{svg.name}: transparent background"
            prov = json.loads(svg.with_suffix(".json").read_text())
            assert prov["chapter"] == chapter and prov["cell"] and prov["commit"]
            assert prov["versions"]["numpy"] and prov["inputs"]["src/lmalign"]
        page = (quick_book.html / "notebooks" / f"{chapter}.html").read_text()
        assert 'id="fig-' in page and ">provenance<" in page


def test_binder_launches_the_myst_source(quick_book):
    for chapter in CHAPTERS:
        page = (quick_book.html / "notebooks" / f"{chapter}.html").read_text()
        binder = "mybinder.org/v2/gh/lmalign/asymptotics-companion/main?urlpath=tree/notebooks"
        assert f"{binder}/{chapter}.md" in page
        assert f"notebooks/{chapter}.ipynb" not in page.split("mybinder.org")[1][:300]


def _notebook_with(tmp_path: Path, *outputs) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.execution_count = 3
    cell.outputs = list(outputs)
    nb.cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    "output, what",
    [
        (nbformat.v4.new_output("stream", name="stderr", text="progress 10%\n"), "writes to stderr"),
        (nbformat.v4.new_output("stream", name="stdout", text="x.py:3: RuntimeWarning: overflow\n"), "a warning"),
        (nbformat.v4.new_output("stream", name="stdout", text="Traceback (most recent call last):\n"), "a traceback"),
        (
            nbformat.v4.new_output("execute_result", data={"text/plain": "'/tmp/tmpab12/outputs'"}, execution_count=3),
            "a machine path",
        ),
        (
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": "Check(claim='C1', error=0.0)"}, execution_count=3
            ),
            "claim check",
        ),
        (
            nbformat.v4.new_output(
                "execute_result",
                data={"text/plain": "[<matplotlib.lines.Line2D at 0x7f47c50f8510>]"},
                execution_count=3,
            ),
            "memory address",
        ),
    ],
)
def test_unpublishable_outputs_are_found(tmp_path, output, what):
    problem = build.unpublishable(_notebook_with(tmp_path, output), ROOT)
    assert problem is not None and what in problem and problem.startswith("cell 3 ")


def test_clean_outputs_pass(tmp_path):
    clean = nbformat.v4.new_output("stream", name="stdout", text="largest error 1e-16 (a warning-free line)\n")
    assert build.unpublishable(_notebook_with(tmp_path, clean), ROOT) is None


def test_a_repo_path_is_unpublishable(tmp_path):
    out = nbformat.v4.new_output("stream", name="stdout", text=f"read {ROOT / 'data' / 'claims.yml'}\n")
    assert "path of the building machine" in build.unpublishable(_notebook_with(tmp_path, out), ROOT)


def test_figures_become_numbered_myst_figures():
    meta = {"lmalign_figure": {"name": "cgf", "caption": r"The CGF $\kappa$.", "alt": "The CGF kappa."}}
    svg = nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "<SVG>"}, metadata=meta)
    caption = nbformat.v4.new_output("display_data", data={"text/markdown": "**Figure cgf.** ..."}, metadata=meta)
    other = nbformat.v4.new_output("stream", name="stdout", text="hello\n")
    out = site.book_outputs([other, svg, caption], "00_pipeline")
    assert len(out) == 2 and out[0] == other
    text = out[1]["data"]["text/markdown"]
    assert text.startswith(":::{figure} ../_static/figures/00_pipeline/cgf.svg\n:name: fig-cgf\n:alt: The CGF kappa.\n")
    assert r"The CGF $\kappa$. ([provenance](../_static/figures/00_pipeline/cgf.json))" in text


def test_a_chapter_past_its_timeout_is_stopped_with_its_kernel(tmp_path, monkeypatch, scratch_build):
    good = (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()
    marker = tmp_path / "kernel.pid"
    looping = _with_cell(
        good, f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    time.sleep(0.5)"
    )
    root = scratch_build({PIPELINE: looping})
    monkeypatch.setenv("LMALIGN_CHAPTER_TIMEOUT", "20")
    with pytest.raises(
        build.BuildError,
        match=r"chapter 00_pipeline: did not finish within the chapter timeout "
        r"of 20 s",
    ):
        build.build(root=root, build_dir=tmp_path / "build", quick=True, html=False)
    kernel = int(marker.read_text())
    with pytest.raises(ProcessLookupError):  # the kernel was killed with the chapter's process group
        for _ in range(50):
            os.kill(kernel, 0)
            time.sleep(0.1)
    assert not list((tmp_path / "build" / "runs" / PIPELINE).glob(".*")), "a temporary folder was left behind"


def test_a_second_build_in_the_same_folder_stops_with_one_line(tmp_path):
    layout = build.BuildLayout(root=ROOT, build_dir=tmp_path / "build")
    with build.exclusive(layout):
        with pytest.raises(build.BuildError, match="another build is running in"):
            build.build(root=ROOT, build_dir=tmp_path / "build", selected=[PIPELINE], quick=True, html=False)


def test_stale_temporary_folders_are_removed(tmp_path):
    stale = tmp_path / "build" / "runs" / PIPELINE / f".{PIPELINE}.abc123"
    stale.mkdir(parents=True)
    (stale / "half-written.ipynb").write_text("{")
    kept = tmp_path / "build" / "runs" / PIPELINE / ("0" * 64)
    kept.mkdir()
    with build.exclusive(build.BuildLayout(root=ROOT, build_dir=tmp_path / "build")):
        assert not stale.exists() and kept.exists()


def test_a_read_only_output_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        target = Path("/proc/lmalign-build")  # root may write anywhere else: /proc refuses everyone
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    with pytest.raises(build.BuildError, match=r"^cannot write .*lmalign-build|^cannot write .*ro"):
        build.build(root=ROOT, build_dir=target / "build", selected=[PIPELINE], quick=True, html=False)


def test_bad_timeout_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LMALIGN_CHAPTER_TIMEOUT", "soon")
    with pytest.raises(build.BuildError, match="LMALIGN_CHAPTER_TIMEOUT must be a finite positive number"):
        build.chapter_timeout()
    for bad in (float("nan"), float("inf"), -1.0, 0.0):
        with pytest.raises(build.BuildError, match="the timeout must be a finite positive number"):
            build.chapter_timeout(bad)


def test_claims_are_listed_in_numeric_order():
    ids = ["C10", "C9", "C1", "X98_bad", "C2", "C100"]
    assert sorted(ids, key=report.natural_key) == ["C1", "C2", "C9", "C10", "C100", "X98_bad"]


def _executed_notebook() -> nbformat.NotebookNode:
    """A notebook as papermill writes it: timestamps, paths, jupytext pairing, random ids, chunked streams."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
        jupytext={"formats": "md:myst"},
        papermill={"input_path": "/tmp/x/a.ipynb", "start_time": "2026-01-01T00:00:00", "parameters": {"quick": True}},
    )
    timing = {"papermill": {"start_time": "2026-01-01T00:00:00"}, "execution": {"iopub.status.busy": "..."}}
    cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("quick = False"),
        nbformat.v4.new_code_cell("quick = True"),
        nbformat.v4.new_code_cell("print(1); print(2)"),
    ]
    cells[1].metadata["tags"] = ["parameters"]
    cells[2].metadata["tags"] = ["injected-parameters"]
    cells[3].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1\n"),
        nbformat.v4.new_output("stream", name="stdout", text="2\n"),
        nbformat.v4.new_output("stream", name="stderr", text="e\n"),
        nbformat.v4.new_output("stream", name="stdout", text="3\n"),
    ]
    for cell in cells:
        cell.metadata.update(timing)
    nb.cells = cells
    return nb


def test_executed_notebooks_are_tidied_for_reproducible_builds():
    from lmalign.book.run_chapter import tidy_notebook

    nb = tidy_notebook(_executed_notebook(), "00_pipeline")
    assert [c.id for c in nb.cells] == ["00_pipeline-0", "00_pipeline-1", "00_pipeline-injected", "00_pipeline-2"]
    assert "jupytext" not in nb.metadata and nb.metadata["papermill"] == {"parameters": {"quick": True}}
    assert {"kernelspec", "language_info"} <= set(nb.metadata)
    assert all(set(c.metadata) <= {"tags"} for c in nb.cells)
    assert [(o.name, o.text) for o in nb.cells[3].outputs] == [
        ("stdout", "1\n2\n"),
        ("stderr", "e\n"),
        ("stdout", "3\n"),
    ]
    again = nbformat.writes(tidy_notebook(nbformat.reads(nbformat.writes(nb), as_version=4), "00_pipeline"))
    assert again == nbformat.writes(nb)


def test_the_download_notebook_drops_the_injected_cell(tmp_path):
    executed = tmp_path / "00_pipeline.ipynb"
    nbformat.write(_executed_notebook(), executed)
    site.download_notebook(executed, tmp_path / "download.ipynb")
    nb = nbformat.read(tmp_path / "download.ipynb", as_version=4)
    nbformat.validate(nb)
    assert [c.id for c in nb.cells] == ["00_pipeline-0", "00_pipeline-1", "00_pipeline-2"]
    assert nb.cells[2].outputs[0].text == "1\n2\n"
    text = (tmp_path / "download.ipynb").read_text()
    assert "/tmp/" not in text and "2026-01-01" not in text and "jupytext" not in text


def test_status_page_sorts_claims_and_leaves_run_times_out(tmp_path):
    layout = build.BuildLayout(root=tmp_path, build_dir=tmp_path / "b")
    folder = layout.runs / "05_x" / ("a" * 64)
    (folder / "outputs").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "05_x.ipynb")
    checks = [{"claim": c, "passed": True} for c in ("C10", "C9", "C10", "C1")]
    (folder / "outputs" / "claims.json").write_text(json.dumps({"checks": checks}))
    executor.write_record(folder, "05_x", "a" * 64, {"quick": True}, 12.345)
    build.install(layout, executor.load_run(folder))
    page = site.status_markdown(layout)
    assert re.search(r"`C1 <claim-c1>`.*`C9 <claim-c9>`.*`C10 <claim-c10>`", page)
    assert "| quick |" in page and "with **quick parameters**" in page
    assert "12.3" not in page and "timings.json" in page
    assert json.loads(build.write_timings(layout, ["05_x", "06_y"]).read_text()) == {"05_x": 12.345, "06_y": None}


def test_random_uuids_of_embedded_plots_become_stable():
    from lmalign.book.run_chapter import tidy_notebook

    def notebook(doc: str, div: str) -> nbformat.NotebookNode:
        html = f'<div id="{div}"></div><script>render("{doc}", "{div}")</script>'
        cell = nbformat.v4.new_code_cell("show()")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": doc})]
        nb = nbformat.v4.new_notebook()
        nb.cells = [cell]
        return tidy_notebook(nb, "15_explorer")

    first = notebook("c31cbd20-3218-482f-b857-1a3a502d187d", "b61bbe2a-9a39-4517-9f49-da53b932da8f")
    second = notebook("0c6ed69a-20f6-43f9-9983-c858c7df1551", "a26906bb-26e6-4c05-be25-b631d56ff1eb")
    assert nbformat.writes(first) == nbformat.writes(second)
    data = first.cells[0].outputs[0].data
    doc, div = re.findall(r'render\("([^"]+)", "([^"]+)"\)', data["text/html"])[0]
    assert doc != div and f'id="{div}"' in data["text/html"] and data["text/plain"] == doc
    assert nbformat.writes(tidy_notebook(first, "15_explorer")) == nbformat.writes(second)


def test_only_a_quick_build_gets_the_banner(tmp_path):
    config = tmp_path / "_config.yml"
    for quick in (False, True):
        config.write_text("title: t\nhtml:\n  use_repository_button: true\n", encoding="utf-8")
        site._write_substitutions(config, {"check_C1": "x"}, banner=quick)
        text = config.read_text(encoding="utf-8")
        assert ("announcement" in text) == quick and "use_repository_button" in text


def test_two_executions_give_identical_figures_and_claims(scratch_build, tmp_path):
    """Deterministic output: the same chapter executed twice gives byte-identical SVGs, claims and notebook."""
    root = scratch_build({PIPELINE: (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()})
    source = root / "notebooks" / f"{PIPELINE}.md"
    first = build.execute_into(root, source, {"quick": True}, tmp_path / "first")
    second = build.execute_into(root, source, {"quick": True}, tmp_path / "second")
    files = sorted(p.relative_to(first.folder) for p in first.folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second.folder) for p in second.folder.rglob("*") if p.is_file())
    assert any(f.suffix == ".svg" for f in files)
    for rel in files:
        if rel.name != "run.json":  # the record holds the run time
            assert (first.folder / rel).read_bytes() == (second.folder / rel).read_bytes(), rel
    assert executor.read_record(first.folder)["files"] == executor.read_record(second.folder)["files"]


def test_a_build_records_the_parameters_it_ran_with(quick_book):
    for chapter in CHAPTERS:
        run = build.installed(quick_book, chapter)
        assert run is not None and run.parameters == {"quick": True}, chapter
        assert run.digest == build.content_hash(ROOT, ROOT / "notebooks" / f"{chapter}.md", {"quick": True})


def test_a_quick_build_says_so_on_every_page(quick_book):
    """Every page of a quick build carries the banner, so quick numbers never pass for the book's."""
    pages = [p for p in sorted(quick_book.html.rglob("*.html")) if "_static" not in p.parts]
    assert len(pages) > len(CHAPTERS)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if 'http-equiv="Refresh"' not in text:  # a redirect, not a page
            assert "Quick build: every chapter ran with" in text, page


def test_a_corrupt_run_is_executed_again(scratch_build, tmp_path, capsys):
    """A results file truncated after the build is detected by its checksum; the next build executes the
    chapter again instead of calling it unchanged."""
    root = scratch_build({PIPELINE: (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()})
    layout = build.build(root=root, build_dir=tmp_path / "b", quick=True, html=False)
    results = layout.outputs / PIPELINE / "claims.json"
    good = results.read_bytes()
    results.write_bytes(good[: len(good) // 3])
    capsys.readouterr()
    build.build(root=root, build_dir=tmp_path / "b", quick=True, html=False)
    err = capsys.readouterr().err
    assert "is corrupt" in err and f"{PIPELINE}: executed in" in err and "unchanged" not in err
    assert results.read_bytes() == good


COMPUTING = (
    "import os, numpy as np\n"
    "open({marker!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}}')\n"
    "while True:\n"
    "    np.linalg.eigvals(np.random.default_rng(0).random((120, 120)))"
)
BUILD_CODE = (
    "import sys; from lmalign.book import build; "
    "build.build(root=sys.argv[1], build_dir=sys.argv[2], quick=True, html=False)"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it only waits for its parent to reap it
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _computing_build(scratch_build, tmp_path) -> tuple[subprocess.Popen, list[int], Path, bytes]:
    """A scratch book built once, then its chapter changed to compute forever and built again in a process of
    its own; returns that process, the kernel's and the runner's process ids, the build folder and the results
    of the first build."""
    good = (ROOT / "notebooks" / f"{PIPELINE}.md").read_text()
    root = scratch_build({PIPELINE: good})
    out = tmp_path / "build"
    build.build(root=root, build_dir=out, quick=True, html=False)
    before = (out / "outputs" / PIPELINE / "claims.json").read_bytes()
    marker = tmp_path / "pids"
    (root / "notebooks" / f"{PIPELINE}.md").write_text(_with_cell(good, COMPUTING.format(marker=str(marker))))
    env = {k: v for k, v in os.environ.items() if k != "LMALIGN_RUN_STORE"}
    proc = subprocess.Popen(
        [sys.executable, "-c", BUILD_CODE, str(root), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not marker.is_file() or len(marker.read_text().split()) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the chapter did not start computing"
        time.sleep(0.1)
    time.sleep(0.5)  # computing, not starting
    return proc, [int(x) for x in marker.read_text().split()], out, before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_computing_chapter_at_once(scratch_build, tmp_path, signum):
    proc, (kernel, runner), out, before = _computing_build(scratch_build, tmp_path)
    sent = time.monotonic()
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 1, "the build must fail: it was interrupted"
    assert took < 5, f"the build took {took:.1f} s to stop after the signal"
    assert _gone_within([runner, kernel], 5), "a chapter process outlived the build"
    assert (out / "outputs" / PIPELINE / "claims.json").read_bytes() == before, "previous outputs were replaced"
    assert (out / "outputs" / f".{PIPELINE}.attempt").exists(), "an interrupted chapter must look stale"


def test_a_build_killed_with_sigkill_leaves_no_chapter_process(scratch_build, tmp_path):
    proc, (kernel, runner), out, before = _computing_build(scratch_build, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert _gone_within([runner, kernel], 10), "the chapter's runner or kernel outlived a killed build"
    assert (out / "outputs" / PIPELINE / "claims.json").read_bytes() == before


def test_an_inline_script_repeated_on_a_page_is_kept_once():
    page = (
        '<head><script>const A = 1;</script><script src="x.js"></script><script>const A = 1;</script>'
        "<script>const B = 2;</script></head>"
    )
    assert site.first_inline_scripts(page) == (
        '<head><script>const A = 1;</script><script src="x.js"></script><script>const B = 2;</script></head>'
    )
