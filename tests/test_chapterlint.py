"""ruff on the chapters' code cells (``lmalign.book.chapterlint``): cells found, formatted in place, findings
named by the chapter's own line numbers."""

from lmalign.book import chapterlint

CHAPTER = """---
jupytext:
  text_representation:
    format_name: myst
---

# A chapter

```{code-cell} ipython3
:tags: [parameters]

seed  =  3
```

Some text with a fence-like line: ``` is not a cell.

```{code-cell} ipython3
---
tags: [hide-input]
---
import os
x = [1,2]
```

```{code-cell} ipython3
for a, b in zip(x, x):
    print(a)
y = undefined_name
```
"""


def test_code_cells_are_the_sources_after_the_options():
    lines = CHAPTER.split("\n")
    cells = chapterlint.code_cells(lines)
    assert ["\n".join(lines[c.start : c.end]) for c in cells] == [
        "seed  =  3",
        "import os\nx = [1,2]",
        "for a, b in zip(x, x):\n    print(a)\ny = undefined_name",
    ]


def test_formatting_changes_only_code_and_is_idempotent():
    new = chapterlint.formatted(CHAPTER)
    assert "seed  =  3" in new, "the parameters cell keeps its table layout"
    assert "import os\n\nx = [1, 2]" in new
    back = new.replace("import os\n\nx = [1, 2]", "import os\nx = [1,2]")
    assert back == CHAPTER, "only the code cells may change"
    assert chapterlint.formatted(new) == new


def test_findings_name_the_chapter_line(tmp_path):
    path = tmp_path / "01_x.md"
    path.write_text(CHAPTER)
    found = chapterlint.lint(path)
    lines = CHAPTER.split("\n")
    undefined = next(i for i, ln in enumerate(lines, 1) if "undefined_name" in ln)
    unused = next(i for i, ln in enumerate(lines, 1) if ln == "import os")
    assert any(f":{undefined}: F821" in f for f in found), found
    assert any(f":{unused}: F401" in f for f in found), found
    assert any("B905" in f for f in found)
    assert chapterlint.main([str(path)]) == 1


def test_every_chapter_is_lint_clean_and_formatted():
    """``make lint`` runs this on the chapters: ruff finds nothing in their code cells, and ruff format would
    change none of them."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.md")):
        assert chapterlint.lint(path) == [], path.name
        text = path.read_text(encoding="utf-8")
        assert chapterlint.formatted(text) == text, f"{path.name}: code cells not formatted (make format)"
