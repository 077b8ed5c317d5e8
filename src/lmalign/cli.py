"""The command line, ``python -m lmalign VERB`` (or the ``lmalign`` script): a table of verbs.

``frontier`` belongs to the library (:mod:`lmalign.frontier.cli`); ``build`` and ``claims`` to the book machinery
(:mod:`lmalign.book.cli`), which is loaded only when one of them is asked for.
"""

from __future__ import annotations

import importlib
import sys

# verb -> (module, function, one-line help); each function takes the remaining arguments and returns an exit code
VERBS = {
    "build": ("lmalign.book.cli", "build_main", "execute changed chapters, write the report, build the HTML book"),
    "claims": ("lmalign.book.cli", "claims_main", "every registered claim with its status from the last build"),
    "rerun": ("lmalign.book.rerun", "main", "rerun one chapter with your own parameters into a folder of its own"),
    "sweep": ("lmalign.book.sweep", "main", "run chapters at random draws of their parameters; worst margins"),
    "frontier": ("lmalign.frontier.cli", "main", "exact best-of-N and KL-constrained frontier for your reward samples"),
}


def usage() -> str:
    lines = ["usage: python -m lmalign {" + ",".join(VERBS) + "} ...", "", "verbs:"]
    lines += [f"  {verb:<9} {help_}" for verb, (_, _, help_) in VERBS.items()]
    lines.append("\n`python -m lmalign VERB --help` describes each verb's options.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"python -m lmalign: unknown verb {verb!r}; choose one of {', '.join(VERBS)}", file=sys.stderr)
        return 2
    module, function, _ = VERBS[verb]
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        print(
            f"python -m lmalign {verb}: {err.name or err} is not installed "
            f"(the book verbs need the 'book' extra: pip install 'lmalign[book]')",
            file=sys.stderr,
        )
        return 2
    return int(getattr(mod, function)(rest) or 0)
