"""The reading form of the pilot chapters (01, 06): code folded where it verifies or plots, no visible cell over
20 lines, no cell over 40 lines even folded, code lines of at most 88 characters."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PILOTS = ["01_optimal_policy", "06_best_of_n"]


def cells(chapter: str) -> list[tuple[list[str], list[str]]]:
    """(tags, code lines) of every code cell."""
    text = (ROOT / "notebooks" / f"{chapter}.md").read_text()
    out = []
    for body in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", text, flags=re.DOTALL):
        tags = []
        if body.startswith(":tags:"):
            head, body = body.split("\n", 1)
            tags = [t.strip() for t in head.split("[", 1)[1].rstrip("]").split(",")]
            body = body.lstrip("\n")
        out.append((tags, body.rstrip("\n").split("\n")))
    return out


@pytest.mark.parametrize("chapter", PILOTS)
def test_cells_are_short_and_narrow(chapter):
    for tags, lines in cells(chapter):
        assert len(lines) <= 40, (chapter, lines[0])
        if "hide-input" not in tags:
            assert len(lines) <= 20, (chapter, lines[0])
        assert all(len(line) <= 88 for line in lines), (chapter, max(lines, key=len))


@pytest.mark.parametrize("chapter", PILOTS)
def test_checks_and_figures_are_folded(chapter):
    for tags, lines in cells(chapter):
        code = "\n".join(lines)
        if "ch.figure(" in code or "ch.ablation(" in code:
            assert "hide-input" in tags, (chapter, lines[0])
