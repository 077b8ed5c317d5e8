"""The book's exercises, read from the chapters' sources, and the page that lists them by chapter and difficulty.

An exercise is a ``{exercise}`` block of a chapter (sphinx-exercise) with a ``:label:`` and its difficulty written
in its text as one to three stars, ``(Difficulty: ★★)``. Its number is its place in the chapter, as the book
prints it: the third exercise of chapter 4 is Exercise 4.3, and the chapter checks the numbers of its solution as
claim ``E4.3`` when it has any (``data/claims.yml``). The page is generated at every build, so an exercise added to
a chapter is listed without editing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lmalign.book import claims, report

BLOCK = re.compile(r"^```\{exercise\}[ \t]*(?P<title>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", flags=re.M | re.S)
LABEL = re.compile(r"^:label:[ \t]*(\S+)[ \t]*$", flags=re.M)
STARS = re.compile(r"Difficulty:\s*(★{1,3})(?!★)")
DIFFICULTY = {1: "★ routine", 2: "★★ moderate", 3: "★★★ harder"}


@dataclass(frozen=True)
class Exercise:
    """One exercise: its chapter (stem and number), place in the chapter, label, title and difficulty (1-3)."""

    chapter: str
    chapter_number: int
    number: int
    label: str
    title: str
    stars: int

    @property
    def claim(self) -> str:
        """The claim id under which the chapter checks the solution's numbers: ``E4.3``."""
        return f"E{self.chapter_number}.{self.number}"


def chapter_exercises(source: Path) -> list[Exercise]:
    """The exercises of one chapter's MyST source, in order. A ``ValueError`` names an exercise without a label
    or without a difficulty of one to three stars."""
    stem = source.stem
    found = []
    for k, block in enumerate(BLOCK.finditer(source.read_text(encoding="utf-8")), 1):
        label, stars = LABEL.search(block["body"]), STARS.search(block["body"])
        if label is None:
            raise ValueError(f"{stem}: exercise {k} ({block['title'].strip()!r}) has no :label:")
        if stars is None:
            raise ValueError(f"{stem}: exercise {k} ({label[1]}) states no difficulty (Difficulty: ★ to ★★★)")
        found.append(Exercise(stem, int(stem[:2]), k, label[1], block["title"].strip(), len(stars[1])))
    return found


def chapter_title(source: Path) -> str:
    """The title of a chapter: its first ``# `` heading (the file's stem if it has none)."""
    found = re.search(r"^# (.+)$", source.read_text(encoding="utf-8"), flags=re.M)
    return found[1].strip() if found else source.stem


def book_exercises(root: Path) -> list[Exercise]:
    """Every exercise of the book's chapters (``notebooks/NN_*.md`` under ``root``), by chapter."""
    return [e for path in sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.md")) for e in chapter_exercises(path)]


def index_markdown(root: Path) -> str:
    """The "Exercises" page: how many there are, one table per chapter (number, title linked to the exercise,
    difficulty, the claim checking its solution's numbers where there is one), then the exercises by difficulty."""
    found = book_exercises(root)
    registered = claims.load_registry()
    lines = [
        "# Exercises",
        "",
        f"The chapters end with {len(found)} exercises, each with a folded solution and a difficulty of one "
        "to three stars (routine, moderate, harder); the number is the one the chapter prints. "
        "Where a solution states a number or a formula, its chapter checks it against an independent route "
        "(sympy or 30-digit arithmetic) and the library, as a claim of the [reproduction report](report.md).",
        "",
    ]
    chapters: dict[str, list[Exercise]] = {}
    for e in found:
        chapters.setdefault(e.chapter, []).append(e)
    for chapter, items in chapters.items():
        title = chapter_title(Path(root) / "notebooks" / f"{chapter}.md")
        lines += [
            f"## Chapter {items[0].chapter_number}: [{title}](../notebooks/{chapter}.ipynb)",
            "",
            "| exercise | difficulty | solution checked |",
            "|---|---|---|",
        ]
        for e in items:
            checked = f"{{ref}}`{e.claim} <{report.label(e.claim)}>`" if e.claim in registered else "—"
            title = f"{{ref}}`{e.chapter_number}.{e.number} {e.title} <{e.label}>`"
            lines.append(f"| {title} | {'★' * e.stars} | {checked} |")
        lines.append("")
    lines += ["## By difficulty", ""]
    for stars, name in DIFFICULTY.items():
        these = [f"{{ref}}`{e.chapter_number}.{e.number} <{e.label}>`" for e in found if e.stars == stars]
        lines.append(f"- {name}: " + (", ".join(these) if these else "none"))
    return "\n".join(lines) + "\n"
