"""The chapters' code budget: a chapter reads as statement, derivation, check summary and figure, with the
verification sweeps and plotting code folded (``hide-input``). Book-wide at most :data:`VISIBLE_BUDGET` visible
code lines, no visible cell longer than :data:`VISIBLE_CELL` lines and no cell at all longer than
:data:`ANY_CELL` lines, folded or not (a longer one splits into define, show one case, sweep and record).

A cell is folded when tagged ``hide-input`` or ``hide-cell`` and not shown when tagged ``remove-input`` or
``remove-cell``; its lines are those of its source without the trailing blank ones, as the page shows them.
"""

from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))

VISIBLE_BUDGET = 2000
VISIBLE_CELL = 20
ANY_CELL = 40
FOLDED = {"hide-input", "hide-cell"}
REMOVED = {"remove-input", "remove-cell"}


def code_cells(path: Path) -> list[tuple[str, int, bool]]:
    """``(where, lines, visible)`` for every code cell of the MyST notebook at ``path``; ``where`` is
    ``chapter:cell index``."""
    nb = jupytext.read(path)
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        lines = len(cell.source.rstrip().splitlines())
        out.append((f"{path.stem}:{i}", lines, not tags & (FOLDED | REMOVED)))
    return out


def measure(paths: list[Path]) -> dict:
    """Visible code lines in total, the visible cells over :data:`VISIBLE_CELL` lines and every cell over
    :data:`ANY_CELL` lines."""
    cells = [c for p in paths for c in code_cells(p)]
    return {
        "visible": sum(n for _, n, shown in cells if shown),
        "long_visible": [(w, n) for w, n, shown in cells if shown and n > VISIBLE_CELL],
        "long_any": [(w, n) for w, n, _ in cells if n > ANY_CELL],
    }


BOOK = measure(CHAPTERS)


def test_the_counter_reads_tags_and_lines(tmp_path):
    """On a small notebook with known cells: folded and removed cells are not visible, trailing blanks not
    counted, markdown not counted."""
    page = tmp_path / "99_x.md"
    body = "\n".join(f"x{i} = {i}" for i in range(ANY_CELL + 1))
    page.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\nkernelspec:\n"
        "  display_name: Python 3\n  language: python\n  name: python3\n---\n\n# T\n\nText.\n\n"
        f"```{{code-cell}} ipython3\na = 1\nb = 2\n\n\n```\n\n"
        f"```{{code-cell}} ipython3\n:tags: [hide-input]\n\n{body}\n```\n\n"
        f"```{{code-cell}} ipython3\n:tags: [remove-cell]\n\nc = 3\n```\n",
        encoding="utf-8",
    )
    got = measure([page])
    assert got["visible"] == 2
    assert got["long_visible"] == []
    assert got["long_any"] == [("99_x:2", ANY_CELL + 1)]


def test_visible_code_lines_book_wide():
    assert BOOK["visible"] <= VISIBLE_BUDGET, f"{BOOK['visible']} visible code lines"


def test_no_visible_cell_over_20_lines():
    assert BOOK["long_visible"] == []


def test_no_cell_over_40_lines_even_folded():
    assert BOOK["long_any"] == []
