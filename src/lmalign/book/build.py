"""The book build: execute each chapter once through papermill, write the report, render with Jupyter Book.

1. Each ``notebooks/NN_name.md`` (MyST, jupytext header required) is converted with jupytext and executed by
   papermill in a subprocess, into a temporary folder; ``LMALIGN_OUTPUTS`` points the chapter's claims and
   figures there. Only a fully successful run (no failing cell, every check passed, every figure written)
   replaces the chapter's previous outputs, by one rename. A failure leaves them as they were and stops the
   build with a message naming the chapter and the cell.
2. A chapter is re-executed only when its content hash changes: its source, every file under ``src/``, the
   pinned requirements, ``data/`` and its papermill parameters. Up to ``jobs`` chapters run at once (each in
   its own kernel); every failing chapter is reported.
3. The reproduction report is generated from ``data/claims.yml`` and the results; the site sources are staged
   under ``_build/site`` with the executed notebooks in place of the MyST sources, and Jupyter Book renders
   them without executing, warnings as errors. An unchanged staged site is not rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lmalign.book import apidoc, paths, report
from lmalign.book.chapter import git, package_versions
from lmalign.book.figures import FIGURE_KEY
from lmalign.book.run_chapter import INJECTED, tidy_notebook

JUPYTEXT_MARKER = "format_name: myst"


class BuildError(RuntimeError):
    """A chapter or the book could not be built; the message names the chapter and the cell."""


@dataclass(frozen=True)
class BuildLayout:
    """Where a build reads and writes (all under the repository root unless given)."""

    root: Path
    build_dir: Path

    @property
    def outputs(self) -> Path:
        return self.build_dir / "outputs"

    @property
    def executed(self) -> Path:
        return self.build_dir / "executed"

    @property
    def site(self) -> Path:
        return self.build_dir / "site"

    @property
    def html(self) -> Path:
        return self.build_dir / "html"


def log(msg: str) -> None:
    print(f"[build] {msg}", file=sys.stderr, flush=True)


def chapters(root: Path) -> list[Path]:
    """Every chapter source ``notebooks/NN_name.md``, in order; one without the jupytext header is an
    error."""
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.md"))
    for path in found:
        head = path.read_text(encoding="utf-8")[:2000]
        if JUPYTEXT_MARKER not in head:
            raise BuildError(f"chapter {path.stem}: {path} has no jupytext header with '{JUPYTEXT_MARKER}'; "
                             "it would not be executed")
    return found


def check_toc(root: Path, names: list[str]) -> None:
    """Every chapter must be listed in ``_toc.yml`` (Jupyter Book would silently leave it out), and every
    chapter the toc lists must have its source ``notebooks/NN_name.md``."""
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    missing = [n for n in names if f"notebooks/{n}" not in toc]
    if missing:
        raise BuildError(f"chapter {missing[0]}: not listed in _toc.yml "
                         f"(add '- file: notebooks/{missing[0]}')")
    listed = re.findall(r"^\s*-?\s*file:\s*notebooks/([0-9A-Za-z_]+)\s*$", toc, flags=re.MULTILINE)
    absent = [n for n in listed if not (root / "notebooks" / f"{n}.md").is_file()]
    if absent:
        raise BuildError(f"chapter {absent[0]}: listed in _toc.yml, but notebooks/{absent[0]}.md "
                         "does not exist")


def _hash_files(h, files) -> None:
    for f in files:
        h.update(str(f.name).encode())
        h.update(f.read_bytes())


def content_hash(root: Path, chapter: Path, parameters: dict) -> str:
    """SHA-256 over the chapter source, ``src/`` (code and package data), ``requirements.txt``, ``data/`` and
    the parameters."""
    h = hashlib.sha256()
    h.update(chapter.read_bytes())
    _hash_files(h, paths.source_files(root / "src"))
    _hash_files(h, sorted(p for p in (root / "data").rglob("*") if p.is_file()))
    req = root / "requirements.txt"
    if req.exists():
        h.update(req.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True).encode())
    return h.hexdigest()


def _check_outputs(name: str, out_dir: Path) -> None:
    """Every check passed, every figure has its SVG and sidecar: else ``BuildError``."""
    results = out_dir / "claims.json"
    if not results.is_file():
        raise BuildError(f"chapter {name}: no claims.json was written "
                         "(did it create lmalign.book.chapter.Chapter?)")
    checks = json.loads(results.read_text())["checks"]
    failed = [c for c in checks if not c["passed"]]
    if failed:
        bad = failed[0]
        raise BuildError(f"chapter {name}: claim {bad['claim']} failed "
                         f"(error {bad['error']:.3e} > {bad['tolerance']:.1e})")
    for sidecar in (out_dir / "figures").glob("*.json") if (out_dir / "figures").exists() else []:
        if not sidecar.with_suffix(".svg").is_file():
            raise BuildError(f"chapter {name}: figure {sidecar.stem} has provenance but no SVG")


UNPUBLISHABLE = [
    (re.compile(r"\b[A-Z][A-Za-z]*Warning\b"), "a warning"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
    (re.compile(r"(?<![\w.])/(?:tmp|root|home|var/folders|private)/\S*"), "a machine path"),
    (re.compile(r"\bCheck\(claim="), "the repr of a claim check"),
]


def unpublishable(notebook: Path, root: Path) -> str | None:
    """The first output a reader should not see, described with its cell: a stream on stderr, a warning, a
    traceback, a path of the building machine or a raw ``Check`` repr; ``None`` when every output is clean."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    patterns = [(re.compile(re.escape(str(root))), "a path of the building machine"), *UNPUBLISHABLE]
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            where = f"cell {cell.get('execution_count')} (notebook cell index {index})"
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                return f"{where} writes to stderr: {output.get('text', '')[:200].strip()!r}"
            data = output.get("data", {})
            texts = [output.get("text", "")] + [data[k] for k in ("text/plain", "text/markdown")
                                                if k in data]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else str(text)
                for pattern, what in patterns:
                    found = pattern.search(text)
                    if found:
                        return f"{where} shows {what}: {text[max(0, found.start() - 60):found.end() + 60]!r}"
    return None


CHAPTER_TIMEOUT = 1800.0  # seconds; --timeout or LMALIGN_CHAPTER_TIMEOUT changes it
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def _kill(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and everything it started (the papermill runner and its kernel share its session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_running_chapters() -> None:
    """Kill every chapter process group this build started (on a timeout, Ctrl-C or SIGTERM)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill(proc)


def run_process(cmd: list[str], env: dict, cwd: Path, timeout: float, name: str) -> tuple[int, str, str]:
    """Run ``cmd`` in a session of its own; past ``timeout`` seconds kill the whole session and raise a
    ``BuildError`` naming the chapter. Returns ``(returncode, stdout, stderr)``."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        raise BuildError(f"chapter {name}: did not finish within the chapter timeout of {timeout:g} s; its "
                         "processes were stopped (raise the limit with --timeout or "
                         "LMALIGN_CHAPTER_TIMEOUT)") from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    return proc.returncode, out, err


def chapter_timeout() -> float:
    """``LMALIGN_CHAPTER_TIMEOUT`` seconds if set (a positive number), else :data:`CHAPTER_TIMEOUT`."""
    text = os.environ.get("LMALIGN_CHAPTER_TIMEOUT")
    if text is None:
        return CHAPTER_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BuildError(f"LMALIGN_CHAPTER_TIMEOUT must be a positive number of seconds, got {text!r}")
    return value


def execute_chapter(layout: BuildLayout, chapter: Path, parameters: dict, timeout: float | None = None) -> None:
    """Convert and execute one chapter into a temporary folder, then swap its outputs in atomically."""
    name = chapter.stem
    timeout = chapter_timeout() if timeout is None else timeout
    layout.outputs.mkdir(parents=True, exist_ok=True)
    layout.executed.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=layout.build_dir))
    try:
        src_nb = tmp / f"{name}.source.ipynb"
        run_nb = tmp / f"{name}.ipynb"
        # the chapter writes its claims and figures to <tmp>/<name>
        env = dict(os.environ, LMALIGN_OUTPUTS=str(tmp), LMALIGN_ROOT=str(layout.root), MPLBACKEND="Agg",
                   PYTHONHASHSEED="0")
        cmd = [sys.executable, "-m", "lmalign.book.run_chapter", str(chapter), str(src_nb), str(run_nb),
               json.dumps(parameters)]
        returncode, out, err = run_process(cmd, env=env, cwd=chapter.parent, timeout=timeout, name=name)
        if returncode != 0:
            detail = out.strip() or err.strip()[-3000:]
            raise BuildError(f"chapter {name}: {detail}")
        produced = tmp / name
        _check_outputs(name, produced)
        problem = unpublishable(run_nb, layout.root)
        if problem:
            raise BuildError(f"chapter {name}: {problem}")
        _install(layout, name, produced, run_nb, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _install(layout: BuildLayout, name: str, produced: Path, notebook: Path, tmp: Path) -> None:
    """Put checked outputs in place of the chapter's previous ones in one atomic rename.

    ``outputs/<name>`` is a symbolic link to a run folder in ``outputs/.<name>.runs/``; the new run is moved
    there, and a new link replaces the old one with ``os.replace``, so a reader sees either the old results
    or the new ones, never a mixture. Older run folders are then removed.
    """
    runs = layout.outputs / f".{name}.runs"
    runs.mkdir(exist_ok=True)
    run = Path(tempfile.mkdtemp(prefix="run.", dir=runs))
    run.rmdir()
    produced.rename(run)
    link = runs / "link.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(runs.name) / run.name, target_is_directory=True)
    final = layout.outputs / name
    if final.is_dir() and not final.is_symlink():  # a plain folder (an older layout): move it aside first
        final.rename(tmp / "previous")
    os.replace(link, final)
    for old in runs.iterdir():
        if old != run:
            shutil.rmtree(old, ignore_errors=True)
    os.replace(notebook, layout.executed / f"{name}.ipynb")


# Successful runs of this process by content hash, so that a second build folder (the tests build the book
# in several) reuses a chapter executed with identical inputs instead of executing it again.
_RUNS: dict[str, tuple[Path, Path]] = {}


def _reuse(layout: BuildLayout, name: str, digest: str) -> bool:
    """Copy the outputs of an identical run of this process into ``layout``; ``False`` if there is none."""
    outputs, notebook = _RUNS.get(digest, (None, None))
    if outputs is None or outputs.parent == layout.outputs:
        return False
    stamp = outputs.parent / f".{name}.hash"  # still the outputs of that run, not of a later one?
    if not (stamp.is_file() and stamp.read_text() == digest and notebook.is_file()):
        return False
    layout.executed.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=layout.build_dir))
    try:
        shutil.copytree(outputs, tmp / name)
        shutil.copy2(notebook, tmp / notebook.name)
        _check_outputs(name, tmp / name)
        _install(layout, name, tmp / name, tmp / notebook.name, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stamp_path(layout, name).write_text(digest)
    return True


def stamp_path(layout: BuildLayout, name: str) -> Path:
    return layout.outputs / f".{name}.hash"


def _run_one(layout: BuildLayout, chapter: Path, parameters: dict, digest: str) -> str | None:
    """Execute one chapter and stamp its hash; returns the failure message, or ``None`` on success."""
    name = chapter.stem
    stamp = stamp_path(layout, name)
    log(f"{name}: executing ...")
    start = time.monotonic()
    stamp.unlink(missing_ok=True)
    try:
        execute_chapter(layout, chapter, parameters)
    except BuildError as err:
        log(f"{name}: FAILED after {time.monotonic() - start:.1f} s")
        return str(err)
    stamp.write_text(digest)
    _RUNS[digest] = (layout.outputs / name, layout.executed / f"{name}.ipynb")
    seconds = time.monotonic() - start
    (layout.outputs / f".{name}.seconds").write_text(f"{seconds:.3f}\n")
    log(f"{name}: executed in {seconds:.1f} s")
    return None


def _last_seconds(layout: BuildLayout, name: str) -> float:
    """How long the chapter's last execution took (infinite when unknown, so that it starts early)."""
    try:
        return float((layout.outputs / f".{name}.seconds").read_text())
    except (OSError, ValueError):
        return float("inf")


TIMINGS = "timings.json"  # under the outputs folder: per-build run times, kept out of the published book


def write_timings(layout: BuildLayout, names: list[str]) -> Path:
    """Write ``outputs/timings.json``: each chapter's last execution time in seconds (``null`` when unknown).
    They vary from run to run, so the status page points here instead of showing them."""
    times = {name: _last_seconds(layout, name) for name in names}
    text = json.dumps({n: (None if t == float("inf") else t) for n, t in times.items()}, indent=1) + "\n"
    path = layout.outputs / TIMINGS
    path.write_text(text, encoding="utf-8")
    return path


def build_chapters(layout: BuildLayout, selected: list[str] | None, parameters: dict, force: bool,
                   jobs: int = 1) -> list[str]:
    """Execute the chapters whose hash changed, ``jobs`` at a time; returns the names of all chapters
    considered. Raises ``BuildError`` listing every failed chapter (the others keep their new outputs)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    found = chapters(layout.root)
    if selected:
        unknown = sorted(set(selected) - {c.stem for c in found})
        if unknown:
            raise BuildError(f"chapter {unknown[0]}: no notebooks/{unknown[0]}.md")
    layout.outputs.mkdir(parents=True, exist_ok=True)
    names, todo = [], []
    for chapter in found:
        name = chapter.stem
        if selected and name not in selected:
            continue
        names.append(name)
        digest = content_hash(layout.root, chapter, parameters)
        stamp = stamp_path(layout, name)
        executed = layout.executed / f"{name}.ipynb"
        if not force and stamp.is_file() and stamp.read_text() == digest and executed.is_file() \
                and (layout.outputs / name / "claims.json").is_file():
            log(f"{name}: unchanged, cached")
            _RUNS.setdefault(digest, (layout.outputs / name, executed))
        elif not force and _reuse(layout, name, digest):
            log(f"{name}: unchanged, reused an identical run of this process")
        else:
            todo.append((chapter, digest))
    todo.sort(key=lambda job: -_last_seconds(layout, job[0].stem))  # longest first: the best finish time
    with ThreadPoolExecutor(max_workers=min(jobs, max(1, len(todo)))) as pool:
        failures = [f for f in pool.map(lambda job: _run_one(layout, job[0], parameters, job[1]), todo) if f]
    write_timings(layout, names)
    if failures:
        raise BuildError("\n".join(failures))
    return names


DOWNLOADS = ("Download this chapter: {{download}}`the notebook (.ipynb) <downloads/{name}.ipynb>` or "
             "{{download}}`its MyST Markdown source (.md) <sources/{name}.md>`; rerun it with papermill "
             "as in [How to reproduce](../book/reproduce.md).")
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
            text = FIGURE_DIRECTIVE.format(chapter=chapter, name=figure["name"], alt=figure["alt"],
                                           caption=figure["caption"])
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


QUICK_BANNER = ("Quick build: every chapter ran with <code>quick=True</code> (small sizes), a check of the "
                "pipeline; the numbers on these pages are not the book's results.")


def _write_substitutions(config: Path, values: dict[str, str], quick: bool = False) -> None:
    """Add ``values`` to the staged ``_config.yml`` as MyST substitutions (``{{ check_C1 }}`` in a chapter);
    a quick build also gets :data:`QUICK_BANNER` as the announcement at the top of every page."""
    import yaml

    conf = yaml.safe_load(config.read_text(encoding="utf-8"))
    conf.setdefault("parse", {}).setdefault("myst_substitutions", {}).update(values)
    if quick:
        conf.setdefault("html", {})["announcement"] = QUICK_BANNER
    config.write_text(yaml.safe_dump(conf, sort_keys=True, allow_unicode=True), encoding="utf-8")


def build_info(root: Path, quick: bool) -> str:
    """One line for the report: the commit and its date, and whether the chapters ran with quick parameters."""
    commit = git(root, "rev-parse", "--short=12", "HEAD") or "unknown"
    date = git(root, "log", "-1", "--format=%cs") or "unknown"
    run = ("**quick parameters** (small sizes: a check of the pipeline, not the book's results)" if quick
           else "the chapters' full parameters")
    return f"Built from commit `{commit}` ({date}) with {run}."


STATUS_PACKAGES = ("lmalign", "numpy", "scipy", "sympy", "mpmath", "matplotlib", "papermill", "jupytext",
                   "jupyter-book", "sphinx-proof")


def claim_order(claim_id: str) -> tuple:
    """Sort key of a claim id in numeric order: ``C9`` before ``C10``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.findall(r"\d+|\D+", claim_id))


def status_markdown(layout: BuildLayout, quick: bool) -> str:
    """The execution status page: each chapter's parameters and the claims it checked, the commit, and the
    versions of Python and the key packages the book was executed with; a link to the index of numbered
    results. Run times vary from build to build: they are in ``outputs/timings.json``, not on the page, so that
    two builds of the same sources publish the same page."""
    lines = ["# Execution status", "", build_info(layout.root, quick), "",
             "Every chapter was executed once by papermill in a fresh kernel, then rendered without executing "
             "again. How long each chapter took varies from run to run, so it is not shown here (two builds of "
             f"the same sources give the same book): the build writes it to `_build/outputs/{TIMINGS}`. The "
             "index of all numbered results is <a href=\"../prf-prf.html\">here</a>; the whole book as one "
             "PDF, made by `make pdf`, is <a href=\"../book.pdf\">book.pdf</a>.", "",
             "| chapter | parameters | claims checked |", "|---|---|---|"]
    for nb in sorted(layout.executed.glob("*.ipynb")):
        name = nb.stem
        results = layout.outputs / name / "claims.json"
        checks = json.loads(results.read_text())["checks"] if results.is_file() else []
        checked = sorted({c["claim"] for c in checks}, key=claim_order)
        claims = ", ".join(f"{{ref}}`{c} <{report.label(c)}>`" for c in checked) or "—"
        lines.append(f"| [{name}](../notebooks/{name}.ipynb) | {'quick' if quick else 'full'} | {claims} |")
    lines += ["", "| software | version |", "|---|---|",
              f"| Python | {sys.version.split()[0]} |"]
    lines += [f"| {pkg} | {v} |" for pkg, v in package_versions(STATUS_PACKAGES).items()]
    return "\n".join(lines) + "\n"


def stage_site(layout: BuildLayout, quick: bool = False) -> str:
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
    (site / "book" / "report.md").write_text(report.report_markdown(layout.outputs, build_info(layout.root, quick)),
                                             encoding="utf-8")
    _write_substitutions(site / "_config.yml", report.substitutions(layout.outputs), quick)
    (site / "book" / "api.md").write_text(apidoc.api_markdown(), encoding="utf-8")
    (site / "book" / "status.md").write_text(status_markdown(layout, quick), encoding="utf-8")
    h = hashlib.sha256()
    for f in sorted(p for p in site.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(site)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _binder_opens_myst(html: Path) -> None:
    """Point Binder launch links at the MyST source the repository holds (Binder opens it with jupytext)."""
    for page in (html / "notebooks").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = text.replace(f"urlpath=tree/notebooks/{page.stem}.ipynb",
                             f"urlpath=tree/notebooks/{page.stem}.md")
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
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(layout.site), "--builder", "html",
           "-W", "-n", "--all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=layout.site)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        causes = [ln for i, ln in enumerate(lines) if "WARNING" in ln or "ERROR" in ln
                  or (i > 0 and "treated as error" in lines[i - 1])]
        shown = "\n".join(causes[:15] or lines[-25:])
        raise BuildError(f"jupyter-book failed (warnings are errors):\n{shown}")
    built = layout.site / "_build" / "html"
    tmp_html = layout.build_dir / ".html.new"
    if tmp_html.exists():
        shutil.rmtree(tmp_html)
    shutil.copytree(built, tmp_html)
    _binder_opens_myst(tmp_html)
    if layout.html.exists():
        shutil.rmtree(layout.html)
    tmp_html.rename(layout.html)
    stamp.write_text(site_hash)
    log(f"html: built in {time.monotonic() - start:.1f} s -> {layout.html / 'index.html'}")


@contextmanager
def exclusive(layout: BuildLayout):
    """Hold the build folder's lock for the duration: a second build in the same checkout stops at once with
    one line, instead of racing this one. Temporary folders left by a killed build are removed first."""
    layout.build_dir.mkdir(parents=True, exist_ok=True)
    lock = open(layout.build_dir / ".lock", "a+")  # noqa: SIM115 (held open for the duration)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build is running in {layout.build_dir}; wait for it to finish") from None
        for stale in layout.build_dir.glob(".[0-9][0-9]_*.*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        lock.close()


@contextmanager
def stop_on_signals():
    """Turn SIGTERM into ``KeyboardInterrupt`` and, on either, kill the running chapters before unwinding, so no
    runner or kernel outlives the build (previous outputs stay in place: nothing was installed)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None

    def terminate(signum, frame):
        raise KeyboardInterrupt

    if main:
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except KeyboardInterrupt:
        stop_running_chapters()
        raise BuildError("interrupted: the running chapters were stopped; previous outputs are kept") from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def build(root: Path | None = None, build_dir: Path | None = None, selected: list[str] | None = None,
          quick: bool = False, force: bool = False, clean: bool = False, html: bool = True,
          jobs: int = 2) -> BuildLayout:
    """The whole build; raises ``BuildError`` naming the chapter and cell on any failure (a file system error
    such as a read-only or full output folder is one line naming the file)."""
    root = Path(root).resolve() if root else paths.repo_root()
    layout = BuildLayout(root=root, build_dir=Path(build_dir).resolve() if build_dir else root / "_build")
    parameters = {"quick": True} if quick else {}
    start = time.monotonic()
    try:
        with exclusive(layout), stop_on_signals():
            names = build_chapters(layout, selected, parameters, force, jobs=jobs)
            if html:
                check_toc(layout.root, names)
                render(layout, stage_site(layout, quick), clean)
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise BuildError(f"cannot write{where}: {err.strerror or err}") from None
    log(f"done in {time.monotonic() - start:.1f} s")
    return layout
