"""Rerun one chapter with your own parameters: ``python -m lmalign rerun CHAPTER -p NAME VALUE ... [--out DIR]``.

Only the chapters listed in ``_toc.yml`` run, named by their stem (no paths). Values are Python or YAML literals
(``-p vocab_sizes "[3, 20]"``, ``-p seed 7``, ``-p quick true``) of at most :data:`MAX_VALUE_CHARS` characters,
checked against the chapter's ``parameters`` cell: an unknown name, a value whose type differs from the
default's (an int is accepted where a float is expected) or a value outside the range written beside the
parameter (:mod:`lmalign.book.parameters`) is one clear error naming the parameter. The executed notebook,
the figures and the claim checks go to a folder of their own (``runs/<chapter>-<n>`` by default), never to the
book's results; the command names it at the end.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

from lmalign.book import parameters, paths
from lmalign.book.cli import _positive_float
from lmalign.book.parameters import ParameterError

MAX_VALUE_CHARS = 10_000  # longest accepted -p value: a parameter is a number, a short list or a small matrix
__all__ = [
    "ParameterError",
    "MAX_VALUE_CHARS",
    "chapter_source",
    "toc_chapters",
    "defaults",
    "specs",
    "parse_value",
    "check",
    "run_into",
    "main",
]


def toc_chapters(root: Path | None = None) -> list[str]:
    """The chapter stems listed in ``_toc.yml`` as ``notebooks/<stem>``, in book order."""
    import yaml

    root = Path(root) if root else paths.repo_root()
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and (m := re.fullmatch(r"notebooks/(\d\d_[A-Za-z0-9_]+)(\.md)?", f)):
                found.append(m.group(1))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    toc = root / "_toc.yml"
    walk(yaml.safe_load(toc.read_text(encoding="utf-8")) if toc.is_file() else None)
    return found


def chapter_source(chapter: str) -> Path:
    """``notebooks/<chapter>.md`` of the repository for a chapter listed in ``_toc.yml`` by its stem; a
    ``ParameterError`` naming the chapters otherwise (a path such as ``../x/evil`` is never a chapter)."""
    known = toc_chapters()
    if not isinstance(chapter, str) or chapter not in known:
        shown = chapter if len(str(chapter)) <= 80 else str(chapter)[:77] + "..."
        raise ParameterError(f"no chapter {shown!r}; the chapters are: {', '.join(known)}")
    source = paths.repo_root() / "notebooks" / f"{chapter}.md"
    if not source.is_file():
        raise ParameterError(f"chapter {chapter!r} is listed in _toc.yml but notebooks/{chapter}.md is missing")
    return source


def defaults(source: Path) -> dict:
    """The chapter's parameters and their default values, from its cell tagged ``parameters``."""
    text = source.read_text(encoding="utf-8")
    start = text.find(":tags: [parameters]")
    if start < 0:
        raise ParameterError(f"{source.name} has no cell tagged parameters")
    body = text[start:].split("\n", 1)[1].split("```", 1)[0]
    out = {}
    for node in ast.parse(body).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def specs(source: Path) -> dict:
    """``{name: Spec or None}``: the range written beside each parameter (:func:`lmalign.book.parameters.read`)."""
    return {name: spec for name, (_, spec) in parameters.read(source).items()}


def parse_value(text: str, name: str = "value"):
    """A Python literal (``[3, 20]``, ``0.5``, ``True``, ``'a'``), or ``true``/``false``, or the text itself.
    A text longer than :data:`MAX_VALUE_CHARS`, or one that ``ast.literal_eval`` cannot hold (too deep, too
    large), is a one-line ``ParameterError`` naming ``name``."""
    if len(text) > MAX_VALUE_CHARS:
        raise ParameterError(
            f"parameter {name!r}: the value has {len(text)} characters, more than the limit of {MAX_VALUE_CHARS}"
        )
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return {"true": True, "false": False}.get(text.lower(), text)
    except (MemoryError, RecursionError) as err:
        raise ParameterError(
            f"parameter {name!r}: the value cannot be read as a literal "
            f"({type(err).__name__}: nested or large beyond what Python can parse)"
        ) from None


def _compatible(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check(chapter_defaults: dict, given: dict, ranges: dict | None = None) -> dict:
    """``given`` checked against the chapter's defaults: names must exist, types must match, and each value must
    lie in its range (``ranges``: ``{name: Spec or None}`` from :func:`specs`; a list's length tied to another
    parameter is checked against the given or the default value of it)."""
    for name, value in given.items():
        if name not in chapter_defaults:
            raise ParameterError(
                f"parameter {name!r} is not a parameter of this chapter; it has: {', '.join(chapter_defaults)}"
            )
        default = chapter_defaults[name]
        if not _compatible(value, default):
            raise ParameterError(
                f"parameter {name!r} must be of type {type(default).__name__} like its default "
                f"{default!r}, got {_short(value)} ({type(value).__name__})"
            )
    if ranges:
        merged = {**chapter_defaults, **given}
        parameters.validate(
            {name: merged[name] for name in chapter_defaults if name in ranges},
            {name: ranges.get(name) for name in given} | _tied(ranges, given),
        )
    return given


def _tied(ranges: dict, given: dict) -> dict:
    """The ranges of the parameters whose length is tied to a given one (they must still agree with it)."""
    return {n: s for n, s in ranges.items() if s is not None and s.same_length in given}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def run_into(chapter: str, given: dict, out: Path, timeout: float) -> tuple[int, str, str]:
    """Execute ``chapter`` with the parameters ``given`` into the folder ``out`` through the executor
    (:func:`lmalign.book.executor.execute_into`, unchecked: a reader's own run keeps what a failing chapter
    wrote): the executed notebook ``<chapter>.ipynb``, its figures and ``claims.json`` under ``<chapter>/``, and
    the run's record ``run.json``. Returns ``(returncode, message, "")``: 0 and ``""``, or 1 and what failed;
    past ``timeout`` seconds a ``BuildError``. The one place where ``rerun`` and ``sweep`` start a chapter."""
    import shutil

    from lmalign.book.executor import execute_into

    source = chapter_source(chapter)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f".{chapter}.run"
    shutil.rmtree(target, ignore_errors=True)
    run = execute_into(paths.repo_root(), source, given, target, timeout=timeout, check=False)
    try:
        if run.notebook.is_file():
            run.notebook.replace(out / f"{chapter}.ipynb")
        shutil.rmtree(out / chapter, ignore_errors=True)
        run.outputs.rename(out / chapter)
        (run.folder / "run.json").replace(out / "run.json")
    finally:
        shutil.rmtree(target, ignore_errors=True)
    failure = run.failure or ""
    prefix = f"chapter {chapter}: "
    return (1 if failure else 0), failure[len(prefix) :] if failure.startswith(prefix) else failure, ""


def run_folder(chapter: str) -> Path:
    """``runs/<chapter>-<n>`` in the working folder, ``n`` the first free number."""
    base = Path.cwd() / "runs"
    for n in range(1, 100_000):
        folder = base / f"{chapter}-{n}"
        if not folder.exists():
            return folder
    raise ParameterError(f"no free run folder under {base}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lmalign rerun", description=__doc__.split("\n\n")[0])
    p.add_argument("chapter", help="chapter stem, e.g. 01_optimal_policy")
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter and its value (a Python or YAML literal); repeatable",
    )
    p.add_argument("--out", help="folder for the executed notebook, figures and claims (default runs/CHAPTER-N)")
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=1800.0,
        metavar="SECONDS",
        help="seconds before the run is stopped (a finite positive number; default 1800)",
    )
    args = p.parse_args(argv)
    try:
        source = chapter_source(args.chapter)
        given = check(
            defaults(source), {name: parse_value(value, name) for name, value in args.parameter}, specs(source)
        )
        out = Path(args.out).resolve() if args.out else run_folder(args.chapter).resolve()
        if out.exists() and any(out.iterdir()):
            raise ParameterError(f"--out {out} exists and is not empty; choose a new folder")
    except ParameterError as err:
        print(f"python -m lmalign rerun: {err}", file=sys.stderr)
        return 2
    from lmalign.book.build import BuildError

    print(f"running {args.chapter} with {given or 'its default parameters'} ...", file=sys.stderr)
    try:
        code, stdout, stderr = run_into(args.chapter, given, out, args.timeout)
    except BuildError as err:
        print(f"python -m lmalign rerun: {err}", file=sys.stderr)
        return 1
    if code != 0:
        print(
            f"python -m lmalign rerun: chapter {args.chapter}: {(stdout.strip() or stderr.strip()[-2000:])}",
            file=sys.stderr,
        )
        print(f"partial outputs in {out}", file=sys.stderr)
        return 1
    print(f"executed notebook, figures and claims written to {out}")
    return 0
