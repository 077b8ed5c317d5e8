"""commit-msg hook: a subject of at most 72 characters, then a blank line and a body that says why.

Usage (pre-commit passes the message file): ``python .ci/commit_msg.py .git/COMMIT_EDITMSG``; exit 1 with one line
per problem. Comment lines (``#``) and a trailing ``git commit -v`` diff are ignored, as git ignores them.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_SUBJECT = 72


def problems(message: str) -> list[str]:
    """What is wrong with ``message``, as git would store it; empty when it is fine."""
    text = message.split("# ------------------------ >8 ------------------------", 1)[0]
    lines = [ln.rstrip() for ln in text.splitlines() if not ln.startswith("#")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or not lines[0].strip():
        return ["the message is empty or starts with a blank line"]
    out = []
    if len(lines[0]) > MAX_SUBJECT:
        out.append(f"the subject has {len(lines[0])} characters; at most {MAX_SUBJECT}")
    if len(lines) < 3 or lines[1] != "" or not any(ln.strip() for ln in lines[2:]):
        out.append("after the subject: a blank line, then a body that says why")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: commit_msg.py MESSAGE_FILE", file=sys.stderr)
        return 2
    found = problems(Path(argv[0]).read_text(encoding="utf-8"))
    for line in found:
        print(f"commit message: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
