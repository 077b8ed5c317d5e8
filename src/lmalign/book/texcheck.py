"""Source checks for the traps that leave raw TeX in a rendered MyST page, run before a chapter is built.

Each finding names the file, the line and the trap:

- an inline ``$...$`` span that wraps onto a line starting with ``- ``, ``+ ``, ``* ``, ``> `` or ``1. ``: Markdown
  reads that line as a list item or a quote and the span is broken;
- a ``$$`` display right after a text line (it must follow a blank line, or a directive's opening or options);
- math in a heading or a directive title: the sidebar, page titles and search results show it as raw TeX;
- an inline span left open at the end of a paragraph;
- an inline span with a space just inside a delimiter (``$x $`` or ``$ x$``), which is not math.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BLOCK_START = re.compile(r"^\s*(?:[-+*>]\s|\d+[.)]\s)")
FENCE = re.compile(r"^(\s*)(`{3,}|:{3,})(.*)$")


@dataclass(frozen=True)
class Trap:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _inline_dollars(line: str) -> int:
    """The number of single ``$`` delimiters on ``line`` (``$$`` and ``\\$`` excluded, code spans skipped)."""
    line = re.sub(r"`[^`]*`", "", line)
    line = line.replace("\\$", "").replace("$$", "")
    return line.count("$")


def check_text(text: str, path: str = "<text>") -> list[Trap]:
    """Every trap in the MyST Markdown ``text`` (code cells and literal code blocks are skipped)."""
    traps: list[Trap] = []
    lines = text.splitlines()
    fence: str | None = None  # the fence of the literal block we are in, if any
    directives: list[str] = []  # fences of the directive blocks we are in (their bodies are Markdown)
    in_math = False  # inside an inline $...$ span that started on an earlier line
    in_display = False
    prev = ""
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence is not None:
            if m and m.group(2).startswith(fence[0]) and len(m.group(2)) >= len(fence) and not m.group(3).strip():
                fence = None
            prev = line
            continue
        if m:
            info = m.group(3).strip()
            if (
                not info
                and directives
                and m.group(2)[0] == directives[-1][0]
                and len(m.group(2)) >= len(directives[-1])
            ):
                directives.pop()  # the end of a directive
                prev, in_math = "", False
                continue
            if info.startswith("{") and not info.startswith(("{code-cell}", "{code}", "{math}")):
                title = info.split("}", 1)[1] if "}" in info else ""
                if "$" in title:
                    traps.append(Trap(path, number, "math in a directive title (shown as raw TeX in titles)"))
                directives.append(m.group(2))
                prev, in_math = "", False
                continue
            fence = m.group(2)  # code, a code cell, a math block or a plain literal block
            prev, in_math = line, False
            continue
        stripped = line.strip()
        if stripped.startswith("$$") or stripped.endswith("$$"):
            opening = not in_display
            if opening and prev.strip() and not prev.strip().startswith(":") and not FENCE.match(prev):
                traps.append(Trap(path, number, "$$ right after a text line (needs a blank line before it)"))
            if stripped == "$$" or not (stripped.startswith("$$") and stripped.endswith("$$") and len(stripped) > 4):
                in_display = not in_display
            prev = line
            continue
        if in_display:
            prev = line
            continue
        if re.match(r"^#{1,6}\s", line) and "$" in line:
            traps.append(Trap(path, number, "math in a heading (shown as raw TeX in titles and navigation)"))
        if in_math and BLOCK_START.match(line):
            traps.append(
                Trap(
                    path, number, "an inline math span wraps onto a line that Markdown reads as a list item or a quote"
                )
            )
        outside = re.sub(r"`[^`]*`", "", line).replace("\\$", "").replace("$$", "")
        for span in re.findall(r"\$[^$]*\$", outside if not in_math else ""):
            if len(span) > 2 and (span[1].isspace() or span[-2].isspace()):
                traps.append(Trap(path, number, f"a space just inside the math delimiters of {span[:30]!r}"))
        if not stripped:
            if in_math:
                traps.append(Trap(path, number - 1, "an inline math span is not closed in its paragraph"))
            in_math = False
        elif _inline_dollars(line) % 2:
            in_math = not in_math
        prev = line
    return traps


def check_file(path: str | Path) -> list[Trap]:
    """:func:`check_text` of a file."""
    path = Path(path)
    return check_text(path.read_text(encoding="utf-8"), str(path))
