"""Verified over the parameter space: ``python -m lmalign sweep [CHAPTERS] --draws K --seed S``.

For each chapter (default: every chapter of ``_toc.yml``) and each draw ``i < K``, every parameter of the
chapter's ``parameters`` cell is drawn inside its range (:func:`lmalign.book.parameters.draw`, uniform or
log-uniform, random laws and chains within their constraints, small sizes where the range says
``sweep in``) from a generator seeded by ``S``, the chapter and ``i`` (so a failing draw is reproduced by
``--seed S`` alone), and the chapter runs into a scratch folder of its own (:func:`lmalign.book.rerun.run_into`).
Each claim's worst margin (``tolerance / error`` over its checks and draws, above 1 passes) is printed and
written, with every draw's parameters and outcome, to ``sweep.json`` in the book's outputs folder, which the
reproduction report reads. The exit status is 1 on any failed check, failed run, registered claim that a run
did not check, or chapter whose parameters cannot be drawn; a draw outside its range is an error of the
drawer, never a pass.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

from lmalign._atomic import atomic_write_text
from lmalign.book import claims, parameters, paths, rerun
from lmalign.book.cli import _positive_float, _positive_int


def unranged_parameters(chapter: str) -> list[str]:
    """The chapter's parameters whose range its ``parameters`` cell does not state."""
    return [name for name, (_, spec) in parameters.read(rerun.chapter_source(chapter)).items() if spec is None]


def draw_parameters(chapter: str, seed: int, index: int) -> dict:
    """The ``index``-th draw of the chapter's parameters for the sweep seeded by ``seed`` (reproducible)."""
    specs = rerun.specs(rerun.chapter_source(chapter))
    return parameters.draw(specs, random.Random(f"{seed}/{chapter}/{index}"))


def run_draw(chapter: str, given: dict, out: Path, timeout: float, registry: dict) -> dict:
    """Run one draw into ``out`` and summarise it: ``ok``, a one-line ``message`` when not, and the checks."""
    from lmalign.book.build import BuildError

    row: dict = {"parameters": given, "ok": False, "message": "", "checks": []}
    try:
        code, stdout, stderr = rerun.run_into(chapter, given, out, timeout)
    except BuildError as err:
        row["message"] = str(err)
        return row
    try:
        row["checks"] = json.loads((out / chapter / "claims.json").read_text(encoding="utf-8"))["checks"]
    except (OSError, ValueError, KeyError) as err:
        row["message"] = f"no readable claims.json ({type(err).__name__})"
    failed = [c for c in row["checks"] if not c.get("passed")]
    unchecked = sorted(
        cid
        for cid, c in registry.items()
        if c.chapter == chapter
        and not any(k["claim"] == cid and k.get("kind", "check") == "check" for k in row["checks"])
    )
    if code != 0:
        row["message"] = " ".join((stdout.strip() or stderr.strip()[-500:]).split())[:500]
    elif failed:
        row["message"] = "failed checks: " + ", ".join(
            f"{c['claim']} ({c['error']:.2e} vs {c['tolerance']:.1e})" for c in failed
        )
    elif unchecked:
        row["message"] = f"claims not checked in this run: {', '.join(unchecked)}"
    elif (shown := _unpublishable(out / f"{chapter}.ipynb")) is not None:
        row["message"] = f"the page would show what a build refuses: {shown}"
    elif not row["message"]:
        row["ok"] = True
    return row


def _unpublishable(notebook: Path) -> str | None:
    """What a build would refuse to publish in the executed ``notebook`` (a warning, stderr, a traceback: a
    sign that the chapter misbehaves at these parameters), ``None`` when clean or when there is no notebook."""
    from lmalign.book.executor import unpublishable

    return unpublishable(notebook, paths.repo_root()) if notebook.is_file() else None


def worst_margins(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """``{claim: {margin, ablation_margin, chapter, draw, checks}}``: the smallest margin of the claim's checks
    (and of its ablations) over every draw, and the draw where it occurred."""
    out: dict[str, dict] = {}
    for chapter, rows in runs.items():
        for i, row in enumerate(rows):
            for c in row["checks"]:
                entry = out.setdefault(
                    c["claim"], {"margin": None, "ablation_margin": None, "chapter": chapter, "draw": None, "checks": 0}
                )
                m = float(
                    c.get(
                        "margin", claims.margin(float(c["error"]), float(c["tolerance"]), c.get("kind") == "ablation")
                    )
                )
                key = "ablation_margin" if c.get("kind") == "ablation" else "margin"
                if key == "margin":
                    entry["checks"] += 1
                if entry[key] is None or m < entry[key]:
                    entry[key] = m
                    if key == "margin":
                        entry["draw"] = i
    return out


def sweep(
    chapters: list[str], draws: int, seed: int, scratch: Path, timeout: float, summary: Path | None = None, log=print
) -> dict:
    """Run the sweep; returns (and writes to ``summary``) ``{seed, draws, chapters: {chapter: [draw rows]},
    claims: worst_margins, failures: [one line each]}``."""
    registry = claims.load_registry()
    runs: dict[str, list[dict]] = {}
    failures: list[str] = []
    for chapter in chapters:
        runs[chapter] = []
        for i in range(draws):
            try:
                given = draw_parameters(chapter, seed, i)
            except parameters.ParameterError as err:
                failures.append(f"{chapter}: cannot draw its parameters: {err}")
                log(f"{chapter}: cannot draw its parameters: {err}")
                break
            log(f"{chapter} draw {i}: {json.dumps(given)[:300]}")
            row = run_draw(chapter, given, scratch / f"{chapter}-{i}", timeout, registry)
            row["draw"] = i
            runs[chapter].append(row)
            if not row["ok"]:
                failures.append(f"{chapter} draw {i}: {row['message']}")
                log(f"  FAILED: {row['message']}")
    result = {"seed": seed, "draws": draws, "chapters": runs, "claims": worst_margins(runs), "failures": failures}
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(summary, json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    return result


def as_text(result: dict) -> str:
    lines = [f"{'claim':<6} {'worst margin':>12} {'ablation':>10} {'checks':>7}  chapter (draw)"]
    for cid, e in sorted(result["claims"].items(), key=lambda kv: (kv[1]["chapter"], kv[0])):
        m = "-" if e["margin"] is None else f"{e['margin']:.3g}"
        a = "-" if e["ablation_margin"] is None else f"{e['ablation_margin']:.3g}"
        lines.append(f"{cid:<6} {m:>12} {a:>10} {e['checks']:>7}  {e['chapter']} ({e['draw']})")
    runs = sum(len(r) for r in result["chapters"].values())
    lines.append(
        f"{runs} runs of {len(result['chapters'])} chapters, seed {result['seed']}: {len(result['failures'])} failures"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lmalign sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapter stems (default: every chapter)")
    p.add_argument("--draws", type=_positive_int, default=2, help="random draws per chapter (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=1800.0,
        metavar="SECONDS",
        help="seconds before one run is stopped (default 1800)",
    )
    p.add_argument("--scratch", help="folder for the runs (default: a new temporary folder, kept)")
    p.add_argument("--summary", help="JSON summary (default <outputs>/sweep.json, which the report reads)")
    p.add_argument(
        "--ranged",
        action="store_true",
        help="only the chapters whose every parameter states its range; the others are named as not "
        "swept (never counted as passed)",
    )
    args = p.parse_args(argv)
    try:
        chapters = args.chapters or rerun.toc_chapters()
        for chapter in chapters:
            rerun.chapter_source(chapter)
    except parameters.ParameterError as err:
        print(f"python -m lmalign sweep: {err}", file=sys.stderr)
        return 2
    if args.ranged:
        unranged = [c for c in chapters if unranged_parameters(c)]
        for chapter in unranged:
            print(
                f"python -m lmalign sweep: not swept: {chapter} (no range for "
                f"{', '.join(unranged_parameters(chapter))})",
                file=sys.stderr,
            )
        chapters = [c for c in chapters if c not in unranged]
    scratch = Path(args.scratch).resolve() if args.scratch else Path(tempfile.mkdtemp(prefix="lmalign-sweep-"))
    scratch.mkdir(parents=True, exist_ok=True)
    summary = Path(args.summary).resolve() if args.summary else paths.outputs_root() / "sweep.json"

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = sweep(chapters, args.draws, args.seed, scratch, args.timeout, summary, log)
    print(as_text(result))
    print(f"runs in {scratch}; summary in {summary}")
    for line in result["failures"]:
        print(f"python -m lmalign sweep: {line}", file=sys.stderr)
    return 1 if result["failures"] else 0
