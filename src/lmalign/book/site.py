"""The site stage: the book's sources and the installed runs staged under ``_build/site``, then rendered by Jupyter
Book without executing anything, warnings as errors.

Each executed notebook is staged with a download line after its title and its figures as numbered MyST figures;
the notebook readers download is the executed chapter without the book's markup; the report, the status page and
the API page are generated. An unchanged staged site (same hash) is not rendered again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lmalign.book import apidoc, exercise_index, report
from lmalign.book.chapter import git, package_versions
from lmalign.book.executor import BuildError, log, read_record
from lmalign.book.figures import FIGURE_KEY
from lmalign.book.layout import BuildLayout, BuildMode
from lmalign.book.run_chapter import INJECTED, tidy_notebook

DOWNLOADS = (
    "Download this chapter: {{download}}`the notebook (.ipynb) <downloads/{name}.ipynb>` or "
    "{{download}}`its MyST Markdown source (.md) <sources/{name}.md>`; rerun it with papermill "
    "as in [How to reproduce](../book/reproduce.md)."
)
FIGURE_DIRECTIVE = """:::{{figure}} ../_static/figures/{chapter}/{name}.svg
:name: fig-{name}
:alt: {alt}

{caption} ([provenance](../_static/figures/{chapter}/{name}.json))
:::
"""


def book_outputs(outputs: list, chapter: str) -> list:
    """A code cell's outputs as the book shows them: each figure of ``Chapter.figure`` (an SVG output and a
    caption output, both marked with ``FIGURE_KEY``) becomes one numbered MyST figure labelled ``fig-<name>``
    (rendered from Markdown: ``nb_render_markdown_format: myst``); other outputs are kept as they are."""
    import nbformat

    out = []
    for output in outputs:
        figure = output.get("metadata", {}).get(FIGURE_KEY)
        if figure is None:
            out.append(output)
        elif "image/svg+xml" in output.get("data", {}):
            text = FIGURE_DIRECTIVE.format(
                chapter=chapter, name=figure["name"], alt=figure["alt"], caption=figure["caption"]
            )
            out.append(nbformat.v4.new_output("display_data", data={"text/markdown": text}))
    return out


def _published_notebook(executed: Path):
    """The executed notebook as the book publishes it (:func:`~lmalign.book.run_chapter.tidy_notebook`: stable
    cell ids, no timestamps, paths or jupytext pairing) without papermill's cell of injected parameters, which
    repeats the parameters cell (the report and the status page say how the book was built)."""
    import nbformat

    nb = tidy_notebook(nbformat.read(executed, as_version=4), executed.stem)
    nb.cells = [c for c in nb.cells if INJECTED not in c.metadata.get("tags", [])]
    return nb


def download_notebook(executed: Path, target: Path) -> None:
    """Write the notebook readers download: the executed chapter with its outputs (:func:`_published_notebook`),
    validated."""
    import nbformat

    nb = _published_notebook(executed)
    nbformat.validate(nb)
    nbformat.write(nb, target)


def _stage_notebook(executed: Path, target: Path) -> None:
    """Stage an executed notebook for rendering (:func:`_published_notebook`): a download line after its title
    cell, its figures as numbered figures (:func:`book_outputs`)."""
    import nbformat

    nb = _published_notebook(executed)
    cell = nbformat.v4.new_markdown_cell(DOWNLOADS.format(name=executed.stem))
    cell.metadata["tags"] = ["downloads"]
    cell.id = "chapter-downloads"  # fixed, so an unchanged chapter stages byte-identically
    nb.cells.insert(1, cell)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = book_outputs(c.outputs, executed.stem)
    nbformat.write(nb, target)


QUICK_BANNER = (
    "Quick build: every chapter ran with <code>quick=True</code> (small sizes), a check of the "
    "pipeline; the numbers on these pages are not the book's results."
)


def chapter_modes(layout: BuildLayout) -> dict[str, str]:
    """``{chapter: "full" | "quick" | "own parameters"}`` for every installed run, from the parameters its
    record holds (:class:`~lmalign.book.layout.BuildMode`)."""
    out = {}
    for nb in sorted(layout.executed.glob("*.ipynb")):
        try:
            parameters = read_record(nb.resolve().parent)["parameters"]
        except ValueError:
            parameters = None
        mode = BuildMode.of(parameters) if isinstance(parameters, dict) else None
        out[nb.stem] = mode.value if mode else "own parameters"
    return out


def _write_substitutions(config: Path, values: dict[str, str], banner: bool = False) -> None:
    """Add ``values`` to the staged ``_config.yml`` as MyST substitutions (``{{ check_C1 }}`` in a chapter);
    with ``banner`` (a chapter ran quick) :data:`QUICK_BANNER` is the announcement at the top of every page."""
    import yaml

    conf = yaml.safe_load(config.read_text(encoding="utf-8"))
    conf.setdefault("parse", {}).setdefault("myst_substitutions", {}).update(values)
    if banner:
        conf.setdefault("html", {})["announcement"] = QUICK_BANNER
    config.write_text(yaml.safe_dump(conf, sort_keys=True, allow_unicode=True), encoding="utf-8")


def build_info(root: Path, modes: dict[str, str]) -> str:
    """One line for the report: the commit and its date, and the parameters the chapters ran with."""
    commit = git(root, "rev-parse", "--short=12", "HEAD") or "unknown"
    date = git(root, "log", "-1", "--format=%cs") or "unknown"
    kinds = sorted(set(modes.values()))
    if len(kinds) == 1 and kinds[0] in {m.value for m in BuildMode}:
        run = BuildMode(kinds[0]).description
    else:
        run = "parameters that differ by chapter (see the execution status page)"
    return f"Built from commit `{commit}` ({date}) with {run}."


STATUS_PACKAGES = (
    "lmalign",
    "numpy",
    "scipy",
    "sympy",
    "mpmath",
    "matplotlib",
    "papermill",
    "jupytext",
    "jupyter-book",
    "sphinx-proof",
)


def status_markdown(layout: BuildLayout) -> str:
    """The execution status page: each chapter's parameters and the claims it checked, the commit, and the
    versions of Python and the key packages the book was executed with; a link to the index of numbered
    results. Run times vary from build to build: they are in ``outputs/timings.json``, not on the page, so that
    two builds of the same sources publish the same page."""
    modes = chapter_modes(layout)
    lines = [
        "# Execution status",
        "",
        build_info(layout.root, modes),
        "",
        "Every chapter was executed once by papermill in a fresh kernel, then rendered without executing "
        "again. How long each chapter took varies from run to run, so it is not shown here (two builds of "
        "the same sources give the same book): the build writes it to `_build/outputs/timings.json`. The "
        'index of all numbered results is <a href="../prf-prf.html">here</a>; the whole book as one '
        'PDF, made by `make pdf`, is <a href="../book.pdf">book.pdf</a>.',
        "",
        "| chapter | parameters | claims checked |",
        "|---|---|---|",
    ]
    for name, mode in modes.items():
        results = layout.outputs / name / "claims.json"
        checks = json.loads(results.read_text())["checks"] if results.is_file() else []
        checked = sorted({c["claim"] for c in checks}, key=report.natural_key)
        claims = ", ".join(f"{{ref}}`{c} <{report.label(c)}>`" for c in checked) or "—"
        lines.append(f"| [{name}](../notebooks/{name}.ipynb) | {mode} | {claims} |")
    lines += ["", "| software | version |", "|---|---|", f"| Python | {sys.version.split()[0]} |"]
    lines += [f"| {pkg} | {v} |" for pkg, v in package_versions(STATUS_PACKAGES).items()]
    return "\n".join(lines) + "\n"


def stage_site(layout: BuildLayout) -> str:
    """Copy the book sources and executed notebooks into ``_build/site``; returns a hash of the staged
    tree."""
    site = layout.site
    if site.exists():
        shutil.rmtree(site)
    (site / "notebooks").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(layout.root / name, site / name)
    shutil.copytree(layout.root / "book", site / "book")
    (site / "notebooks" / "sources").mkdir()
    for nb in sorted(layout.executed.glob("*.ipynb")):
        source = layout.root / "notebooks" / f"{nb.stem}.md"
        if source.is_file():
            shutil.copy2(source, site / "notebooks" / "sources" / source.name)
            _stage_notebook(nb, site / "notebooks" / nb.name)
            (site / "notebooks" / "downloads").mkdir(exist_ok=True)
            download_notebook(nb, site / "notebooks" / "downloads" / nb.name)
            src = layout.outputs / nb.stem / "figures"
            if src.is_dir():
                shutil.copytree(src, site / "_static" / "figures" / nb.stem)
    modes = chapter_modes(layout)
    (site / "book" / "report.md").write_text(
        report.report_markdown(layout.outputs, build_info(layout.root, modes)), encoding="utf-8"
    )
    _write_substitutions(
        site / "_config.yml", report.substitutions(layout.outputs), banner=BuildMode.QUICK.value in modes.values()
    )
    (site / "book" / "api.md").write_text(apidoc.api_markdown(), encoding="utf-8")
    (site / "book" / "exercises.md").write_text(exercise_index.index_markdown(layout.root), encoding="utf-8")
    (site / "book" / "status.md").write_text(status_markdown(layout), encoding="utf-8")
    h = hashlib.sha256()
    for f in sorted(p for p in site.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(site)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", flags=re.S)


def first_inline_scripts(text: str) -> str:
    """``text`` (an HTML page) with only the first of identical inline ``<script>`` blocks kept."""
    seen: set[str] = set()

    def first_only(match: re.Match) -> str:
        if match.group(1) in seen:
            return ""
        seen.add(match.group(1))
        return match.group(0)

    return INLINE_SCRIPT.sub(first_only, text)


def _drop_repeated_inline_scripts(html: Path) -> None:
    """Keep the first of identical inline ``<script>`` blocks on each page (:func:`first_inline_scripts`):
    Sphinx 7.4 adds an inline script registered after the builder started (sphinx-thebe's
    ``const THEBE_JS_URL``) twice, and the second declaration stops with ``SyntaxError: Identifier ... has
    already been declared``."""
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = first_inline_scripts(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _binder_opens_myst(html: Path) -> None:
    """Point Binder launch links at the MyST source the repository holds (Binder opens it with jupytext)."""
    for page in (html / "notebooks").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = text.replace(f"urlpath=tree/notebooks/{page.stem}.ipynb", f"urlpath=tree/notebooks/{page.stem}.md")
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def render(layout: BuildLayout, site_hash: str, clean: bool) -> None:
    """Run Jupyter Book on the staged site (warnings are errors); skipped when nothing changed."""
    stamp = layout.build_dir / ".site.hash"
    unchanged = stamp.is_file() and stamp.read_text() == site_hash
    if not clean and unchanged and (layout.html / "index.html").is_file():
        log("html: unchanged, not rebuilt")
        return
    start = time.monotonic()
    stamp.unlink(missing_ok=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb) if jb.exists() else "jupyter-book",
        "build",
        str(layout.site),
        "--builder",
        "html",
        "-W",
        "-n",
        "--all",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=layout.site)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        causes = [
            ln
            for i, ln in enumerate(lines)
            if "WARNING" in ln or "ERROR" in ln or (i > 0 and "treated as error" in lines[i - 1])
        ]
        shown = "\n".join(causes[:15] or lines[-25:])
        raise BuildError(f"jupyter-book failed (warnings are errors):\n{shown}")
    built = layout.site / "_build" / "html"
    tmp_html = layout.build_dir / ".html.new"
    if tmp_html.exists():
        shutil.rmtree(tmp_html)
    shutil.copytree(built, tmp_html)
    (tmp_html / ".buildinfo").unlink(missing_ok=True)  # Sphinx's own incremental-build hash, not published
    _binder_opens_myst(tmp_html)
    _drop_repeated_inline_scripts(tmp_html)
    if layout.html.exists():
        shutil.rmtree(layout.html)
    tmp_html.rename(layout.html)
    stamp.write_text(site_hash)
    log(f"html: built in {time.monotonic() - start:.1f} s -> {layout.html / 'index.html'}")
