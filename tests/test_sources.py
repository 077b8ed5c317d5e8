"""The MyST sources are free of the traps that leave raw TeX in a rendered page (fast; the browser test
checks the rendered pages themselves)."""

from pathlib import Path

import pytest

from lmalign.book.texcheck import check_file, check_text

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.md")) + sorted((ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_tex_traps(source):
    assert [str(t) for t in check_file(source)] == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("so $x = a\n- b$ holds\n", "list item or a quote"),
        ("so $x = a\n> b$ holds\n", "list item or a quote"),
        ("so $x = a\n2. b$ holds\n", "list item or a quote"),
        ("a text line\n$$\nx\n$$\n", "$$ right after a text line"),
        ("## Best-of-$N$\n", "math in a heading"),
        ("```{prf:theorem} The rate of $N$\n:label: thm-x\n\nbody\n```\n", "math in a directive title"),
        ("the slack $1 + $ of the bound\n", "a space just inside"),
        ("an open $x + y\n\nnext paragraph\n", "not closed"),
        ("```{prf:proof}\nbody\n```\n\nso $x = a\n+ b$ holds\n", "list item or a quote"),
    ],
)
def test_each_trap_is_found(text, message):
    assert any(message in t.message for t in check_text(text))


@pytest.mark.parametrize(
    "text",
    [
        "so $x = a$\n- a list item with $y$\n",
        "text\n\n$$\nx = 1\n$$\n\nmore\n",
        "```{prf:theorem} Closed form\n:label: thm-x\n\n$$\nx\n$$\n```\n",
        "```{code-cell} ipython3\nprint('$x')\n```\n",
        "a price of \\$5 and $x$\n",
        "`$not math` and $y$\n",
    ],
)
def test_clean_text_passes(text):
    assert check_text(text) == []


def test_no_chapter_defines_a_helper_another_chapter_defines():
    """A helper two chapters need lives in the library, once."""
    import re
    from collections import defaultdict

    where = defaultdict(set)
    for source in sorted((ROOT / "notebooks").glob("*.md")):
        for name in re.findall(r"^def ([A-Za-z_][A-Za-z0-9_]*)\(", source.read_text(encoding="utf-8"), re.MULTILINE):
            where[name].add(source.stem)
    assert {name: sorted(chs) for name, chs in where.items() if len(chs) > 1} == {}


@pytest.mark.parametrize("source", sorted((ROOT / "notebooks").glob("*.md")), ids=lambda p: p.name)
def test_code_lines_fit_the_page(source):
    """No code line in a chapter's code cells is wider than the 88 characters the page shows."""
    wide, inside = [], False
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```{code-cell}"):
            inside = True
        elif line.startswith("```"):
            inside = False
        elif inside and len(line) > 88:
            wide.append(number)
    assert wide == []
