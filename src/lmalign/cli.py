"""Command line: ``python -m lmalign build | claims | frontier``."""

from __future__ import annotations

import argparse
import importlib.util
import sys


def _build(args: argparse.Namespace) -> int:
    from lmalign.build import BuildError, build

    try:
        build(selected=args.chapters or None, quick=args.quick, force=args.force, clean=args.clean,
              html=not args.no_html, jobs=args.jobs)
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    return 0


def _claims(args: argparse.Namespace) -> int:
    from lmalign import report

    rows = report.statuses()
    print(report.as_json(rows) if args.json else report.as_text(rows))
    bad = [r for r in rows if r.status == "fail" or (r.status == "missing" and not args.allow_missing)]
    return 1 if bad else 0


def _frontier(argv: list[str]) -> int:
    """Hand the arguments to ``lmalign.frontier.main``; a clear error if that module is not installed."""
    if importlib.util.find_spec("lmalign.frontier") is None:
        print("python -m lmalign frontier: this installation has no lmalign.frontier module "
              "(src/lmalign/frontier.py), so the frontier command is not available", file=sys.stderr)
        return 2
    from lmalign import frontier

    return int(frontier.main(argv) or 0)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lmalign", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute changed chapters, write the report, build the HTML book")
    b.add_argument("--chapters", nargs="+", metavar="NN_name", help="only these chapters (notebook stems)")
    b.add_argument("--quick", action="store_true", help="run chapters with quick=True (small sizes)")
    b.add_argument("--force", action="store_true", help="re-execute chapters even if unchanged")
    b.add_argument("--clean", action="store_true", help="render the HTML from scratch")
    b.add_argument("--no-html", action="store_true", help="execute chapters only")
    b.add_argument("--jobs", type=_positive_int, default=2, help="chapters executed at once (default 2)")
    b.set_defaults(func=_build)
    c = sub.add_parser("claims", help="every registered claim with its status from the last build")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument("--allow-missing", action="store_true",
                   help="exit 0 when claims are only missing (chapter not written or not run), not failed")
    c.set_defaults(func=_claims)
    sub.add_parser("frontier", add_help=False,
                   help="exact best-of-N and KL-constrained frontier for your reward samples "
                        "(python -m lmalign frontier --help)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "frontier":
        return _frontier(argv[1:])
    args = parser().parse_args(argv)
    return args.func(args)
