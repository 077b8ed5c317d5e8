"""ruff on the chapters' code cells: ``python -m lmalign.book.chapterlint [--check | --fix | --lint] [CHAPTER ...]``.

ruff reads no Python in a MyST notebook, so each chapter is seen as the script jupytext makes of it (its code
cells in order, the Markdown as comments): ``ruff check`` lints that script, with names defined in one cell known
in the next. Formatting is per cell: ``ruff format`` formats each code cell's source, and ``--fix`` writes the
formatted cells back into the Markdown in place, leaving every other line of the chapter as it is (the cell
tagged ``parameters`` is left as written: its values and range comments are laid out for the reader);
``--check`` (``make lint``) fails on either; ``--lint`` lints without the formatting check. Chapter code
lines are at most :data:`LINE_LENGTH` characters, the width that fits the book's text column. Exit status 1 when
a check fails, with ruff's messages naming the chapter and the line of the Markdown file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lmalign.book import paths

LINE_LENGTH = 88
CELL_START = re.compile(r"^```\{code-cell\}[^\n]*$")
# ruff rules that do not apply to a notebook read as one script: imports in a later cell, a bare expression
# whose value the cell displays
IGNORED = ("E402", "B018")


@dataclass(frozen=True)
class Cell:
    """A code cell of a MyST chapter: its source lines ``[start, end)`` of the file (0-based) and the text of
    its options (tags)."""

    start: int
    end: int
    options: str = ""

    @property
    def is_parameters(self) -> bool:
        return bool(re.search(r"\bparameters\b", self.options))


def code_cells(lines: list[str]) -> list[Cell]:
    """The code cells of a MyST Markdown chapter, each as the range of its source lines (after the opening
    fence and the cell's options: ``:key: value`` lines, or a ``---``-delimited YAML block)."""
    cells, i = [], 0
    while i < len(lines):
        if CELL_START.match(lines[i]):
            j = i + 1
            if j < len(lines) and lines[j].strip() == "---":
                j += 1
                while j < len(lines) and lines[j].strip() != "---":
                    j += 1
                j += 1
            while j < len(lines) and re.match(r"^:[A-Za-z_-]+:", lines[j]):
                j += 1
            if j < len(lines) and lines[j].strip() == "" and j > i + 1:
                j += 1  # the blank line between the options and the source
            end = j
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            cells.append(Cell(j, end, "\n".join(lines[i + 1 : j])))
            i = end + 1
        else:
            i += 1
    return cells


def _ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    return str(found) if found.exists() else (shutil.which("ruff") or "ruff")


def _ruff_run(args: list[str], text: str) -> subprocess.CompletedProcess:
    return subprocess.run([_ruff(), *args], input=text, capture_output=True, text=True, cwd=paths.repo_root())


def format_cell(source: str) -> str:
    """``source`` with its imports sorted (ruff's isort rules) and formatted by ``ruff format``, at
    :data:`LINE_LENGTH`; a cell ruff cannot parse is returned as it is (the lint reports it)."""
    sort = _ruff_run(
        ["check", "--select", "I", "--fix-only", "--exit-zero", "--stdin-filename", "cell.py", "-"], source
    )
    sorted_source = sort.stdout if sort.returncode == 0 and sort.stdout else source
    proc = _ruff_run(["format", "--line-length", str(LINE_LENGTH), "--stdin-filename", "cell.py", "-"], sorted_source)
    return proc.stdout if proc.returncode == 0 else source


def formatted(text: str) -> str:
    """The chapter ``text`` with every code cell formatted (:func:`format_cell`), all else unchanged, except the
    ``parameters`` cell: it is a table of names, values and their ranges, one per line with the range beside
    it (:mod:`lmalign.book.parameters` reads it so), which the formatter would break into one element a line."""
    lines = text.split("\n")
    for cell in reversed([c for c in code_cells(lines) if not c.is_parameters]):
        source = "\n".join(lines[cell.start : cell.end]).rstrip("\n") + "\n"
        new = format_cell(source).rstrip("\n").split("\n")
        lines[cell.start : cell.end] = new if new != [""] else []
    return "\n".join(lines)


def script(text: str) -> tuple[str, list[int]]:
    """The chapter's code cells as one script, and for each script line the chapter line it came from
    (1-based)."""
    lines = text.split("\n")
    out, where = [], []
    for cell in code_cells(lines):
        out.append("# %%")
        where.append(cell.start)
        for k in range(cell.start, cell.end):
            out.append(lines[k])
            where.append(k + 1)
    return "\n".join(out) + "\n", where


def lint(path: Path) -> list[str]:
    """ruff's findings on the chapter's code, each naming the chapter's file and line."""
    code, where = script(path.read_text(encoding="utf-8"))
    proc = _ruff_run(
        [
            "check",
            "--line-length",
            str(LINE_LENGTH),
            "--ignore",
            ",".join(IGNORED),
            "--output-format",
            "concise",
            "--stdin-filename",
            f"{path.stem}.py",
            "-",
        ],
        code,
    )
    found = []
    root = paths.repo_root()
    name = path.relative_to(root) if path.resolve().is_relative_to(root) else path
    for line in proc.stdout.splitlines():
        m = re.match(r"^.*?\.py:(\d+):(\d+): (.*)$", line)
        if m:
            number = int(m.group(1))
            at = where[number - 1] if 0 < number <= len(where) else number
            found.append(f"{name}:{at}: {m.group(3)}")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lmalign.book.chapterlint", description=__doc__.split("\n\n")[0])
    p.add_argument("chapters", nargs="*", type=Path, help="chapter sources (default: notebooks/*.md)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail on lint findings or unformatted cells (default)")
    mode.add_argument("--fix", action="store_true", help="format the code cells in place, then lint")
    mode.add_argument("--lint", action="store_true", help="lint only, leave the formatting as it is")
    args = p.parse_args(argv)
    chapters = [c.resolve() for c in args.chapters] or sorted((paths.repo_root() / "notebooks").glob("[0-9][0-9]_*.md"))
    problems = []
    for path in chapters:
        text = path.read_text(encoding="utf-8")
        new = text if args.lint else formatted(text)
        if new != text:
            if args.fix:
                path.write_text(new, encoding="utf-8")
            else:
                problems.append(f"{path}: code cells are not formatted (make format)")
        problems += lint(path)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
