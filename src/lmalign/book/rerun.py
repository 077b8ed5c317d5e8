"""Rerun one chapter with your own parameters: ``python -m lmalign rerun CHAPTER -p NAME VALUE ... [--out DIR]``.

Values are Python or YAML literals (``-p vocab_sizes "[3, 20]"``, ``-p seed 7``, ``-p quick true``), checked
against the chapter's ``parameters`` cell: an unknown name, or a value whose type differs from the default's
(an int is accepted where a float is expected), is one clear error naming the parameter. The executed notebook,
the figures and the claim checks go to a folder of their own (``runs/<chapter>-<n>`` by default), never to the
book's results; the command names it at the end.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

from lmalign.book import paths


class ParameterError(ValueError):
    """A parameter that the chapter does not have, or a value of the wrong type."""


def chapter_source(chapter: str) -> Path:
    """``notebooks/<chapter>.md`` of the repository; a ``ValueError`` naming the chapters when it is not one."""
    source = paths.repo_root() / "notebooks" / f"{chapter}.md"
    if not source.is_file():
        known = sorted(p.stem for p in (paths.repo_root() / "notebooks").glob("[0-9][0-9]_*.md"))
        raise ParameterError(f"no chapter {chapter!r}; the chapters are: {', '.join(known)}")
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


def parse_value(text: str):
    """A Python literal (``[3, 20]``, ``0.5``, ``True``, ``'a'``), or ``true``/``false``, or the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {"true": True, "false": False}.get(text.lower(), text)


def _compatible(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check(chapter_defaults: dict, given: dict) -> dict:
    """``given`` checked against the chapter's defaults: names must exist, types must match."""
    for name, value in given.items():
        if name not in chapter_defaults:
            raise ParameterError(f"parameter {name!r} is not a parameter of this chapter; it has: "
                                 f"{', '.join(chapter_defaults)}")
        default = chapter_defaults[name]
        if not _compatible(value, default):
            raise ParameterError(f"parameter {name!r} must be of type {type(default).__name__} like its default "
                                 f"{default!r}, got {value!r} ({type(value).__name__})")
    return given


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
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a parameter and its value (a Python or YAML literal); repeatable")
    p.add_argument("--out", help="folder for the executed notebook, figures and claims (default runs/CHAPTER-N)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before the run is stopped")
    args = p.parse_args(argv)
    try:
        source = chapter_source(args.chapter)
        given = check(defaults(source), {name: parse_value(value) for name, value in args.parameter})
        out = Path(args.out).resolve() if args.out else run_folder(args.chapter).resolve()
        if out.exists() and any(out.iterdir()):
            raise ParameterError(f"--out {out} exists and is not empty; choose a new folder")
    except ParameterError as err:
        print(f"python -m lmalign rerun: {err}", file=sys.stderr)
        return 2
    from lmalign.book.build import BuildError, run_process

    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LMALIGN_OUTPUTS=str(out), MPLBACKEND="Agg", PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "lmalign.book.run_chapter", str(source), str(out / f"{args.chapter}.source.ipynb"),
           str(out / f"{args.chapter}.ipynb"), json.dumps(given)]
    print(f"running {args.chapter} with {given or 'its default parameters'} ...", file=sys.stderr)
    try:
        code, stdout, stderr = run_process(cmd, env=env, cwd=source.parent, timeout=args.timeout,
                                           name=args.chapter)
    except BuildError as err:
        print(f"python -m lmalign rerun: {err}", file=sys.stderr)
        return 1
    (out / f"{args.chapter}.source.ipynb").unlink(missing_ok=True)
    if code != 0:
        print(f"python -m lmalign rerun: chapter {args.chapter}: {(stdout.strip() or stderr.strip()[-2000:])}",
              file=sys.stderr)
        print(f"partial outputs in {out}", file=sys.stderr)
        return 1
    print(f"executed notebook, figures and claims written to {out}")
    return 0
