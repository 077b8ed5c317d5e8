"""The content-addressed executor: a chapter, its inputs and its parameters give a digest; a digest gives one
verified run.

A *run* is the result of executing one chapter once with papermill: its results file ``claims.json``, its
figures, the executed notebook, and a record ``run.json`` (the chapter, the digest, the parameters it ran with,
the run time and a SHA-256 of every file it holds). Runs live in a *store*, ``<store>/<chapter>/<digest>/``:

- :func:`content_hash` is the digest: SHA-256 over the chapter source, every file under ``src/`` (code and package
  data), ``data/``, ``requirements.txt`` and the parameters. Jupyter Book's own cache sees none of the library, so
  it is not used.
- :meth:`Store.get` returns a stored run only after checking it (:func:`verify`): a run whose record is missing or
  unreadable, or whose files do not match their checksums (a truncated ``claims.json``, say), is *corrupt*; it is
  removed and the chapter executes again.
- :meth:`Store.execute` returns the stored run of the digest, else one copied from a second, shared store
  (``LMALIGN_RUN_STORE``: the tests share one across their build folders), else executes the chapter in a process
  group of its own into a temporary folder and moves the checked run into the store with one rename. A failed or
  interrupted run leaves nothing in the store.

The build, ``python -m lmalign rerun``, the sweep and the staleness of ``python -m lmalign claims`` all go through
this module: the build installs runs from its store into ``outputs/``; ``rerun`` and the sweep execute into
folders of their own with :func:`execute_into`; ``claims`` recomputes the digest of the run a build installed from
the parameters its record holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmalign._atomic import atomic_write_text
from lmalign.book import paths

RUNNER = Path(__file__).with_name("run_chapter.py")  # one chapter's process: jupytext and papermill

RECORD = "run.json"
RECORD_VERSION = 1
STORE_ENV = "LMALIGN_RUN_STORE"  # a second store shared by several build folders (the test session's)
CHAPTER_TIMEOUT = 1800.0  # seconds; --timeout or LMALIGN_CHAPTER_TIMEOUT changes it


class BuildError(RuntimeError):
    """A chapter or the book could not be built; the message names the chapter and the cell."""


def log(msg: str) -> None:
    print(f"[build] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# the digest


def _hash_files(h, files) -> None:
    for f in files:
        h.update(str(f.name).encode())
        h.update(f.read_bytes())


def content_hash(root: Path, chapter: Path, parameters: dict) -> str:
    """SHA-256 over the chapter source, ``src/`` (code and package data), ``requirements.txt``, ``data/`` and
    the parameters (as sorted JSON)."""
    h = hashlib.sha256()
    h.update(Path(chapter).read_bytes())
    _hash_files(h, paths.source_files(Path(root) / "src"))
    _hash_files(h, sorted(p for p in (Path(root) / "data").rglob("*") if p.is_file()))
    req = Path(root) / "requirements.txt"
    if req.exists():
        h.update(req.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# process control: every chapter process is killed on a timeout, a signal, or the death of the build


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
STOPPING = threading.Event()  # set on SIGINT/SIGTERM: no run finishing now is stored or installed


def _kill(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and everything in its session (the papermill runner; its kernel, in a session of its own,
    exits within a second of its parent: ipykernel polls for it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_running_chapters() -> None:
    """Kill every chapter process group this process started (on a timeout, Ctrl-C or SIGTERM)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill(proc)


def chapter_timeout(value: float | None = None) -> float:
    """``value`` if given, else ``LMALIGN_CHAPTER_TIMEOUT`` seconds if set, else :data:`CHAPTER_TIMEOUT`; it must
    be a finite positive number of seconds (else ``BuildError`` naming where it came from)."""
    where = "the timeout" if value is not None else "LMALIGN_CHAPTER_TIMEOUT"
    text = repr(value) if value is not None else os.environ.get("LMALIGN_CHAPTER_TIMEOUT")
    if text is None:
        return CHAPTER_TIMEOUT
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise BuildError(f"{where} must be a finite positive number of seconds, got {text!r}")
    return seconds


def run_process(cmd: list[str], env: dict, cwd: Path, timeout: float, name: str) -> tuple[int, str, str]:
    """Run ``cmd`` in a session of its own; past ``timeout`` seconds kill the whole session and raise a
    ``BuildError`` naming the chapter. The child is told this process's id (``LMALIGN_PARENT_PID``) so that it
    dies with it (:func:`lmalign.book.run_chapter.die_with_parent`). Returns ``(returncode, stdout, stderr)``."""
    env = dict(env, LMALIGN_PARENT_PID=str(os.getpid()))
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        raise BuildError(
            f"chapter {name}: did not finish within the chapter timeout of {timeout:g} s; its "
            "processes were stopped (raise the limit with --timeout or "
            "LMALIGN_CHAPTER_TIMEOUT)"
        ) from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if STOPPING.is_set():
        raise BuildError(f"chapter {name}: stopped by a signal")
    return proc.returncode, out, err


# ---------------------------------------------------------------------------------------------------------------
# checking what a run produced


def check_outputs(name: str, out_dir: Path) -> None:
    """Every check passed, every figure has its SVG and sidecar: else ``BuildError``."""
    results = out_dir / "claims.json"
    if not results.is_file():
        raise BuildError(f"chapter {name}: no claims.json was written (did it create lmalign.book.chapter.Chapter?)")
    checks = json.loads(results.read_text())["checks"]
    failed = [c for c in checks if not c["passed"]]
    if failed:
        bad = failed[0]
        raise BuildError(
            f"chapter {name}: claim {bad['claim']} failed (error {bad['error']:.3e} > {bad['tolerance']:.1e})"
        )
    for sidecar in (out_dir / "figures").glob("*.json") if (out_dir / "figures").exists() else []:
        if not sidecar.with_suffix(".svg").is_file():
            raise BuildError(f"chapter {name}: figure {sidecar.stem} has provenance but no SVG")


UNPUBLISHABLE = [
    (re.compile(r"\b[A-Z][A-Za-z]*Warning\b"), "a warning"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
    (re.compile(r"(?<![\w.])/(?:tmp|root|home|var/folders|private)/\S*"), "a machine path"),
    (re.compile(r"\bCheck\(claim="), "the repr of a claim check"),
    (re.compile(r"<[^<>\n]{1,200} at 0x[0-9a-fA-F]+>"), "an object's repr with its memory address"),
]


def unpublishable(notebook: Path, root: Path) -> str | None:
    """The first output a reader should not see, described with its cell: a stream on stderr, a warning, a
    traceback, a path of the building machine, a raw ``Check`` repr or an object's repr with its memory address
    (``<matplotlib.lines.Line2D at 0x7f...>``, which differs from run to run); ``None`` when every output is clean."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    patterns = [(re.compile(re.escape(str(root))), "a path of the building machine"), *UNPUBLISHABLE]
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            where = f"cell {cell.get('execution_count')} (notebook cell index {index})"
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                return f"{where} writes to stderr: {output.get('text', '')[:200].strip()!r}"
            data = output.get("data", {})
            texts = [output.get("text", "")] + [data[k] for k in ("text/plain", "text/markdown") if k in data]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else str(text)
                for pattern, what in patterns:
                    found = pattern.search(text)
                    if found:
                        return f"{where} shows {what}: {text[max(0, found.start() - 60) : found.end() + 60]!r}"
    return None


# ---------------------------------------------------------------------------------------------------------------
# runs and the store


@dataclass(frozen=True)
class Run:
    """One verified run of a chapter: ``folder`` holds ``outputs/`` (``claims.json``, ``figures/``), the executed
    notebook ``<chapter>.ipynb`` and the record ``run.json``."""

    chapter: str
    digest: str
    parameters: dict
    folder: Path
    seconds: float | None = None
    failure: str | None = None  # why an unchecked run failed (:func:`execute_into` with ``check=False``)

    @property
    def outputs(self) -> Path:
        return self.folder / "outputs"

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.chapter}.ipynb"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RECORD)


def write_record(
    folder: Path, chapter: str, digest: str, parameters: dict, seconds: float | None, failure: str | None = None
) -> None:
    """Write ``folder/run.json``: what the run is, and a SHA-256 of every other file in ``folder``."""
    record = {
        "version": RECORD_VERSION,
        "chapter": chapter,
        "digest": digest,
        "parameters": parameters,
        "seconds": None if seconds is None else round(seconds, 3),
        "files": {p.relative_to(folder).as_posix(): _sha256(p) for p in _files(folder)},
    }
    if failure is not None:
        record["failure"] = failure
    atomic_write_text(folder / RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")


def read_record(folder: Path) -> dict:
    """The record of the run in ``folder``; ``ValueError`` when it is missing or unreadable."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no {RECORD}") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{RECORD} is unreadable ({err})") from None
    keys = ("chapter", "digest", "parameters", "files")
    if not isinstance(record, dict) or any(k not in record for k in keys) or not isinstance(record["files"], dict):
        raise ValueError(f"{RECORD} lacks one of {', '.join(keys)}")
    return record


def verify(folder: Path) -> str | None:
    """Why the run in ``folder`` cannot be trusted, or ``None``: its record must be readable, every file it lists
    must be there with the same SHA-256, nothing else may be there, and ``outputs/claims.json`` must parse."""
    try:
        record = read_record(folder)
    except ValueError as err:
        return str(err)
    present = {p.relative_to(folder).as_posix(): p for p in _files(folder)}
    listed = record["files"]
    for rel, digest in sorted(listed.items()):
        if rel not in present:
            return f"{rel} is missing"
        if _sha256(present[rel]) != digest:
            return f"{rel} does not match its checksum (truncated or changed)"
    extra = sorted(set(present) - set(listed))
    if extra:
        return f"{extra[0]} is not part of the run"
    try:
        json.loads((folder / "outputs" / "claims.json").read_text(encoding="utf-8"))["checks"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"outputs/claims.json is unreadable ({err})"
    return None


def _as_run(folder: Path, record: dict) -> Run:
    return Run(
        chapter=record["chapter"],
        digest=record["digest"],
        parameters=record["parameters"],
        folder=folder,
        seconds=record.get("seconds"),
        failure=record.get("failure"),
    )


def load_run(folder: Path) -> Run:
    """The verified run in ``folder``; ``ValueError`` saying why it is corrupt."""
    problem = verify(folder)
    if problem:
        raise ValueError(problem)
    return _as_run(folder, read_record(folder))


def execute_into(
    root: Path, chapter: Path, parameters: dict, target: Path, timeout: float | None = None, check: bool = True
) -> Run:
    """Execute ``chapter`` with ``parameters`` into the new folder ``target`` (which must not exist) and record
    it: convert with jupytext, run with papermill in a process group of its own (:func:`run_process`), then,
    with ``check``, require every claim to pass, every figure to be written and every output to be publishable.
    The run happens in a temporary folder beside ``target`` that is renamed to it only on success; on failure
    ``BuildError`` names the chapter and the cell, and ``target`` does not exist. With ``check=False`` (a
    reader's own run: ``rerun``, the sweep) a failing cell or claim raises nothing: what the chapter wrote is
    moved to ``target`` all the same and the returned run's ``failure`` says what went wrong; a timeout or a
    signal still raises."""
    root, chapter, target = Path(root), Path(chapter), Path(target)
    name = chapter.stem
    timeout = chapter_timeout(timeout)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    start = time.monotonic()
    try:
        work = tmp / "work"
        work.mkdir()
        env = dict(os.environ, LMALIGN_OUTPUTS=str(work), LMALIGN_ROOT=str(root), MPLBACKEND="Agg", PYTHONHASHSEED="0")
        run_nb = work / f"{name}.ipynb"
        cmd = [
            sys.executable,
            "-P",  # the runner by its path, its folder not on sys.path: it needs neither the library nor scipy
            str(RUNNER),
            str(chapter),
            str(work / f"{name}.source.ipynb"),
            str(run_nb),
            json.dumps(parameters),
        ]
        returncode, out, err = run_process(cmd, env=env, cwd=chapter.parent, timeout=timeout, name=name)
        (work / f"{name}.source.ipynb").unlink(missing_ok=True)
        problem = None
        if returncode != 0:
            problem = f"chapter {name}: {out.strip() or err.strip()[-3000:]}"
        else:
            try:
                if check:
                    check_outputs(name, work / name)
                    found = unpublishable(run_nb, root)
                    if found:
                        raise BuildError(f"chapter {name}: {found}")
            except BuildError as error:
                problem = str(error)
        if problem and check:
            raise BuildError(problem)
        run = tmp / "run"
        run.mkdir()
        if (work / name).is_dir():
            (work / name).rename(run / "outputs")
        else:
            (run / "outputs").mkdir()
        if run_nb.is_file():
            run_nb.rename(run / f"{name}.ipynb")
        digest = content_hash(root, chapter, parameters)
        write_record(run, name, digest, parameters, time.monotonic() - start, failure=problem)
        if STOPPING.is_set():
            raise BuildError(f"chapter {name}: stopped by a signal")
        run.rename(target)
        return _as_run(target, read_record(target))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Store:
    """Runs by chapter and digest under ``path`` (``<path>/<chapter>/<digest>/``)."""

    def __init__(self, path: Path, shared: Path | None = None):
        self.path = Path(path)
        env = os.environ.get(STORE_ENV)
        shared = Path(shared) if shared else (Path(env) if env else None)
        self.shared = shared if shared and shared.resolve() != self.path.resolve() else None

    def folder(self, chapter: str, digest: str) -> Path:
        return self.path / chapter / digest

    def get(self, chapter: str, digest: str) -> Run | None:
        """The verified run of ``digest``, or ``None``; a corrupt one is logged and removed."""
        return _get(self.folder(chapter, digest))

    def execute(
        self,
        root: Path,
        chapter: Path,
        parameters: dict,
        force: bool = False,
        timeout: float | None = None,
        before: Callable[[], None] | None = None,
    ) -> tuple[Run, str]:
        """The run of ``chapter`` with ``parameters`` and how it was had: ``"cached"`` (this store),
        ``"reused"`` (copied from the shared store) or ``"executed"`` (``before`` is called first). ``force``
        executes in any case."""
        name = Path(chapter).stem
        digest = content_hash(root, chapter, parameters)
        target = self.folder(name, digest)
        if not force:
            run = self.get(name, digest)
            if run is not None:
                return run, "cached"
            if self.shared is not None and _get(self.shared / name / digest) is not None:
                _copy_run(self.shared / name / digest, target)
                run = self.get(name, digest)
                if run is not None:
                    return run, "reused"
        shutil.rmtree(target, ignore_errors=True)
        if before is not None:
            before()
        run = execute_into(root, chapter, parameters, target, timeout=timeout)
        if self.shared is not None:
            _copy_run(target, self.shared / name / digest)
        return run, "executed"

    def prune(self, chapter: str, keep: set[str]) -> None:
        """Remove the chapter's runs whose digest is not in ``keep``."""
        for old in (self.path / chapter).iterdir() if (self.path / chapter).is_dir() else []:
            if old.name not in keep and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)


def _get(folder: Path) -> Run | None:
    if not folder.is_dir():
        return None
    problem = verify(folder)
    if problem:
        log(f"{folder.parent.name}: the stored run {folder.name[:12]} is corrupt ({problem}); it is removed")
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return _as_run(folder, read_record(folder))


def _copy_run(source: Path, target: Path) -> None:
    """Copy a run folder to ``target`` through a temporary folder and one rename (a run already there stays)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:12]}.", dir=target.parent))
    try:
        shutil.copytree(source, tmp / "run")
        try:
            (tmp / "run").rename(target)
        except OSError:  # another process stored the same run meanwhile
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
