"""The book's verbs of the command line: ``python -m lmalign build`` and ``python -m lmalign claims``."""

from __future__ import annotations

import argparse
import math
import sys


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    b = argparse.ArgumentParser(
        prog="python -m lmalign build", description="execute changed chapters, write the report, build the HTML book"
    )
    b.add_argument("--chapters", nargs="+", metavar="NN_name", help="only these chapters (notebook stems)")
    b.add_argument("--quick", action="store_true", help="run chapters with quick=True (small sizes)")
    b.add_argument("--force", action="store_true", help="re-execute chapters even if unchanged")
    b.add_argument("--clean", action="store_true", help="render the HTML from scratch")
    b.add_argument("--no-html", action="store_true", help="execute chapters only")
    b.add_argument("--jobs", type=_positive_int, default=2, help="chapters executed at once (default 2)")
    b.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="stop a chapter that runs longer (default 1800, or LMALIGN_CHAPTER_TIMEOUT)",
    )
    return b


def claims_parser() -> argparse.ArgumentParser:
    c = argparse.ArgumentParser(
        prog="python -m lmalign claims",
        description="every registered claim with its status from the last build: pass; fail (a check exceeded "
        "its tolerance); stale (the results are older than the chapter: its last run failed or was "
        "interrupted, or its source, src/, data/, the pins or the build parameters changed since); "
        "corrupt (its results file is unreadable or does not match its checksum); missing (the "
        "chapter has not run). Exits 1 unless every claim passed.",
    )
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 when claims are only missing (chapter not written or not run); a failed, "
        "stale or corrupt claim still exits 1",
    )
    return c


def build_main(argv: list[str]) -> int:
    """``python -m lmalign build``: exit 1 with the failing chapter and cell on any failure."""
    args = build_parser().parse_args(argv)
    import os

    from lmalign.book.build import BuildError, build

    if args.timeout is not None:
        os.environ["LMALIGN_CHAPTER_TIMEOUT"] = repr(args.timeout)
    try:
        build(
            selected=args.chapters or None,
            mode="quick" if args.quick else "full",
            force=args.force,
            clean=args.clean,
            html=not args.no_html,
            jobs=args.jobs,
        )
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    return 0


def claims_main(argv: list[str]) -> int:
    """``python -m lmalign claims``: exit 1 on a failed or stale claim, or a missing one without
    ``--allow-missing``; the claims that did not pass are named on stderr."""
    args = claims_parser().parse_args(argv)
    from lmalign.book import report
    from lmalign.book.build import content_hash

    rows = report.statuses(content_hash=content_hash)
    print(report.as_json(rows) if args.json else report.as_text(rows))
    bad = [
        r
        for r in rows
        if r.status in ("fail", "stale", "corrupt") or (r.status == "missing" and not args.allow_missing)
    ]
    if bad:
        named = ", ".join(f"{r.id} ({r.status})" for r in bad)
        print(f"python -m lmalign claims: {len(bad)} of {len(rows)} claims did not pass: {named}", file=sys.stderr)
    return 1 if bad else 0
