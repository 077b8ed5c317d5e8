"""The book build: every chapter executed once per content digest, the report written, the site rendered.

1. Each chapter ``notebooks/NN_name.md`` (MyST, jupytext header required) is run through the content-addressed
   executor (:mod:`lmalign.book.executor`): its digest covers the source, ``src/``, ``data/``, the pins and the
   parameters of the build's mode (:class:`~lmalign.book.layout.BuildMode`); a verified run of that digest in the
   build's store ``runs/`` is used as it is, else the chapter executes in a process group of its own. Up to
   ``jobs`` chapters run at once; every failing chapter is reported.
2. A run is installed by replacing one link each: ``outputs/<chapter>`` (claims, figures) and
   ``executed/<chapter>.ipynb`` point into ``runs/<chapter>/<digest>/``. A failed run installs nothing and leaves
   ``outputs/.<chapter>.attempt``, so that ``python -m lmalign claims`` calls the older results stale.
3. The site stage (:mod:`lmalign.book.site`) writes the report and renders the HTML with Jupyter Book, warnings
   as errors; an unchanged staged site is not rendered again.

SIGINT and SIGTERM kill the running chapters at once and nothing that was running is installed; a build killed
with SIGKILL takes its chapter processes with it (:func:`lmalign.book.run_chapter.die_with_parent`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from lmalign.book import paths
from lmalign.book.executor import STOPPING as _STOPPING
from lmalign.book.executor import (  # noqa: F401  (re-exported: the build's public names)
    BuildError,
    Run,
    Store,
    chapter_timeout,
    content_hash,
    execute_into,
    log,
    run_process,
    stop_running_chapters,
    unpublishable,
)
from lmalign.book.layout import BuildLayout, BuildMode
from lmalign.book.site import render, stage_site  # noqa: F401  (re-exported)

JUPYTEXT_MARKER = "format_name: myst"
TIMINGS = "timings.json"  # under the outputs folder: per-build run times, kept out of the published book


def chapters(root: Path) -> list[Path]:
    """Every chapter source ``notebooks/NN_name.md``, in order; one without the jupytext header is an
    error."""
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.md"))
    for path in found:
        head = path.read_text(encoding="utf-8")[:2000]
        if JUPYTEXT_MARKER not in head:
            raise BuildError(
                f"chapter {path.stem}: {path} has no jupytext header with '{JUPYTEXT_MARKER}'; it would not be executed"
            )
    return found


def check_toc(root: Path, names: list[str]) -> None:
    """Every chapter must be listed in ``_toc.yml`` (Jupyter Book would silently leave it out), and every
    chapter the toc lists must have its source ``notebooks/NN_name.md``."""
    toc_file = root / "_toc.yml"
    if not toc_file.is_file():
        raise BuildError(
            f"{root} is not a clone of the book (it has no _toc.yml); run the build in the repository's folder"
        )
    toc = toc_file.read_text(encoding="utf-8")
    missing = [n for n in names if f"notebooks/{n}" not in toc]
    if missing:
        raise BuildError(f"chapter {missing[0]}: not listed in _toc.yml (add '- file: notebooks/{missing[0]}')")
    listed = re.findall(r"^\s*-?\s*file:\s*notebooks/([0-9A-Za-z_]+)\s*$", toc, flags=re.MULTILINE)
    absent = [n for n in listed if not (root / "notebooks" / f"{n}.md").is_file()]
    if absent:
        raise BuildError(f"chapter {absent[0]}: listed in _toc.yml, but notebooks/{absent[0]}.md does not exist")


def attempt_marker(layout: BuildLayout, name: str) -> Path:
    """``outputs/.<name>.attempt``: there from the start of a chapter's execution until it is installed."""
    return layout.outputs / f".{name}.attempt"


def _replace_link(link: Path, target: str, tmp_dir: Path) -> None:
    """Point ``link`` at ``target`` (relative) by one rename; a plain folder or file there is moved aside."""
    new = tmp_dir / f".{link.name}.link"
    new.unlink(missing_ok=True)
    new.symlink_to(target)
    if link.exists() and not link.is_symlink():  # an older layout: a plain folder or file
        aside = tmp_dir / f".{link.name}.old"
        shutil.rmtree(aside, ignore_errors=True)
        link.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(new, link)


def install(layout: BuildLayout, run: Run) -> None:
    """Make ``run`` (a run of the build's store) the chapter's current results: ``outputs/<name>`` and
    ``executed/<name>.ipynb`` are replaced by links into it, each by one rename, and the attempt marker goes."""
    name = run.chapter
    layout.outputs.mkdir(parents=True, exist_ok=True)
    layout.executed.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(run.folder, layout.outputs)
    _replace_link(layout.outputs / name, f"{rel}/outputs", layout.outputs)
    rel = os.path.relpath(run.folder, layout.executed)
    _replace_link(layout.executed / f"{name}.ipynb", f"{rel}/{name}.ipynb", layout.executed)
    attempt_marker(layout, name).unlink(missing_ok=True)
    for old in (f".{name}.hash", f".{name}.seconds"):  # the stamps of an older layout
        (layout.outputs / old).unlink(missing_ok=True)
    shutil.rmtree(layout.outputs / f".{name}.runs", ignore_errors=True)


def installed(layout: BuildLayout, name: str) -> Run | None:
    """The run installed for chapter ``name``, if it is a verified run of the store."""
    from lmalign.book.executor import load_run

    link = layout.outputs / name
    if not link.is_symlink():
        return None
    try:
        return load_run(link.resolve().parent)
    except ValueError:
        return None


def _run_one(layout: BuildLayout, store: Store, chapter: Path, parameters: dict, force: bool) -> str | None:
    """Have the chapter's run (cached, reused or executed) and install it; the failure message, or ``None``."""
    name = chapter.stem
    start = time.monotonic()
    marker = attempt_marker(layout, name)
    try:
        digest = content_hash(layout.root, chapter, parameters)
        current = installed(layout, name)
        if not force and current is not None and current.digest == digest and not marker.exists():
            log(f"{name}: unchanged, cached")
            return None

        def starting() -> None:
            log(f"{name}: executing ...")
            marker.write_text(digest + "\n")

        run, how = store.execute(layout.root, chapter, parameters, force=force, before=starting)
        if _STOPPING.is_set():
            raise BuildError(f"chapter {name}: stopped by a signal")
        install(layout, run)
        store.prune(name, keep={digest} | _other_mode_digests(layout, chapter, parameters))
    except BuildError as err:
        log(f"{name}: FAILED after {time.monotonic() - start:.1f} s")
        return str(err)
    if how == "executed":
        log(f"{name}: executed in {time.monotonic() - start:.1f} s")
    else:
        log(f"{name}: unchanged, {'a stored run' if how == 'cached' else 'reused an identical run'}")
    return None


def _other_mode_digests(layout: BuildLayout, chapter: Path, parameters: dict) -> set[str]:
    """The digests of the chapter in the other build modes: a quick and a full run are both kept, so switching
    between ``--quick`` and a full build does not execute again what did not change."""
    return {content_hash(layout.root, chapter, m.parameters) for m in BuildMode if m.parameters != parameters}


def write_timings(layout: BuildLayout, names: list[str]) -> Path:
    """Write ``outputs/timings.json``: each installed chapter's execution time in seconds (``null`` when
    unknown). They vary from run to run, so the status page points here instead of showing them."""
    times = {}
    for name in names:
        run = installed(layout, name)
        times[name] = run.seconds if run is not None else None
    path = layout.outputs / TIMINGS
    path.write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")
    return path


def build_chapters(
    layout: BuildLayout, selected: list[str] | None, mode: BuildMode, force: bool, jobs: int = 1
) -> list[str]:
    """Have every (selected) chapter's run in ``mode``, ``jobs`` at a time; returns the names of all chapters
    considered. Raises ``BuildError`` listing every failed chapter (the others keep their new outputs)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    found = chapters(layout.root)
    if selected:
        unknown = sorted(set(selected) - {c.stem for c in found})
        if unknown:
            raise BuildError(f"chapter {unknown[0]}: no notebooks/{unknown[0]}.md")
    layout.outputs.mkdir(parents=True, exist_ok=True)
    todo = [c for c in found if not selected or c.stem in selected]
    names = [c.stem for c in todo]
    store = Store(layout.runs)

    def last_seconds(chapter: Path) -> float:
        run = installed(layout, chapter.stem)
        return run.seconds if run is not None and run.seconds is not None else float("inf")

    todo.sort(key=lambda c: -last_seconds(c))  # longest first: the best finish time
    with ThreadPoolExecutor(max_workers=min(jobs, max(1, len(todo)))) as pool:
        futures = [pool.submit(_run_one, layout, store, c, mode.parameters, force) for c in todo]
        failures = [f for f in (future.result() for future in futures) if f]
    write_timings(layout, names)
    if failures:
        raise BuildError("\n".join(failures))
    return names


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
        for folder in (layout.build_dir, layout.runs, *(layout.runs.glob("*") if layout.runs.is_dir() else [])):
            for stale in folder.glob(".[0-9a-f][0-9a-f]*.*") if folder.is_dir() else []:
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        lock.close()


@contextmanager
def stop_on_signals():
    """On SIGINT or SIGTERM: kill the running chapters at once (in the handler, before anything waits for
    them), let nothing that was running be installed, and stop with a ``BuildError``; previous outputs stay."""
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}

    def stop(signum, frame):
        _STOPPING.set()
        stop_running_chapters()
        raise KeyboardInterrupt

    for s in previous:
        signal.signal(s, stop)
    _STOPPING.clear()
    try:
        yield
    except KeyboardInterrupt:
        _STOPPING.set()
        stop_running_chapters()
        raise BuildError("interrupted: the running chapters were stopped; previous outputs are kept") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def build(
    root: Path | None = None,
    build_dir: Path | None = None,
    selected: list[str] | None = None,
    quick: bool = False,
    force: bool = False,
    clean: bool = False,
    html: bool = True,
    jobs: int = 2,
    mode: BuildMode | str | None = None,
) -> BuildLayout:
    """The whole build; raises ``BuildError`` naming the chapter and cell on any failure (a file system error
    such as a read-only or full output folder is one line naming the file). ``mode`` (``"full"`` or
    ``"quick"``) chooses the chapters' parameters; ``quick=True`` is the same as ``mode="quick"``."""
    root = Path(root).resolve() if root else paths.repo_root()
    layout = BuildLayout(root=root, build_dir=Path(build_dir).resolve() if build_dir else root / "_build")
    mode = BuildMode(mode) if mode is not None else (BuildMode.QUICK if quick else BuildMode.FULL)
    start = time.monotonic()
    try:
        with exclusive(layout), stop_on_signals():
            names = build_chapters(layout, selected, mode, force, jobs=jobs)
            if html:
                check_toc(layout.root, names)
                render(layout, stage_site(layout), clean)
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise BuildError(f"cannot write{where}: {err.strerror or err}") from None
    log(f"done in {time.monotonic() - start:.1f} s")
    return layout
