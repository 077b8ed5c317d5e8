"""The reproduction report: every registered claim with its status and measured error from the last build.

A claim is ``pass`` when its chapter recorded at least one check, every check passed and the results are those
of the chapter's current inputs; ``fail`` when a check failed; ``stale`` when the results are older than the
chapter (its last run failed or was interrupted, or its source, the library, the data, the pins or the build
parameters changed since); and ``missing`` when its chapter has no results (not written yet, or not run).
Only ``pass`` is passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lmalign.book import claims, paths


@dataclass(frozen=True)
class ClaimStatus:
    id: str
    statement: str
    result: str
    chapter: str
    tolerance: float
    error: float | None
    checks: int
    status: str
    reason: str = ""  # why a claim is stale or missing; empty when it passed or failed
    margin: float | None = None  # smallest tolerance / error over the checks (None without checks)
    bound: str = ""  # the error bound the checks' tolerances come from ("" for the registry's constant)
    sweep_margin: float | None = None  # worst margin over the last sweep (sweep.json), None if not swept


STATUSES = ("pass", "fail", "stale", "corrupt", "missing")
ContentHash = Callable[[Path, Path, dict], str]  # (root, chapter source, parameters) -> digest: build.content_hash


def staleness(outputs: Path, chapter: str, root: Path, content_hash: ContentHash) -> str:
    """Why the results in ``outputs/<chapter>`` are not those of the chapter's current inputs under ``root``, or
    ``""`` when they are. They must be a run the build installed (``outputs/<chapter>`` links into a run folder
    whose record :mod:`lmalign.book.executor` wrote), its last execution must not have failed or been interrupted
    since (no ``outputs/.<chapter>.attempt``), and the digest of the chapter's current inputs with the parameters
    the record holds must be the record's digest."""
    from lmalign.book.executor import read_record

    if (outputs / f".{chapter}.attempt").exists():
        return (
            f"the last run of chapter {chapter} did not succeed (it failed or was interrupted); these are "
            "the results of an earlier run"
        )
    link = outputs / chapter
    try:
        record = read_record(link.resolve().parent) if link.is_symlink() else None
    except ValueError:
        record = None
    if record is None:
        return f"the results of chapter {chapter} were not installed by a build (they have no run record)"
    source = root / "notebooks" / f"{chapter}.md"
    if not source.is_file():
        return f"chapter {chapter} has no source notebooks/{chapter}.md any more"
    if content_hash(root, source, record["parameters"]) == record["digest"]:
        return ""
    return f"chapter {chapter} changed since its results were made (its source, src/, data/ or requirements.txt)"


def corruption(outputs: Path, chapter: str) -> str:
    """Why the results of ``chapter`` under ``outputs`` cannot be read or trusted, or ``""``: an unreadable
    ``claims.json``, or, for a run a build installed, a file that does not match its recorded checksum."""
    from lmalign.book.executor import verify

    f = outputs / chapter / "claims.json"
    if not f.exists():
        return ""
    try:
        checks = json.loads(f.read_text(encoding="utf-8"))["checks"]
        if not isinstance(checks, list):
            raise ValueError("its checks are not a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"{f.name} of chapter {chapter} is unreadable ({type(err).__name__}: {err})"
    link = outputs / chapter
    if link.is_symlink() and (link.resolve().parent / "run.json").exists():
        problem = verify(link.resolve().parent)
        if problem:
            return f"the run of chapter {chapter} is corrupt: {problem}"
    return ""


def check_margin(check: dict) -> float:
    """``tolerance / error`` of a recorded check (``error / tolerance`` for an ablation), as recorded, or
    computed for results written before margins were recorded."""
    if "margin" in check:
        return float(check["margin"])
    return claims.margin(float(check["error"]), float(check["tolerance"]), check.get("kind") == "ablation")


def sweep_margins(outputs: Path) -> dict[str, float]:
    """``{claim: worst margin}`` from ``outputs/sweep.json`` (written by ``python -m lmalign sweep``); empty when
    there is none or it cannot be read."""
    try:
        data = json.loads((Path(outputs) / "sweep.json").read_text(encoding="utf-8"))
        return {str(k): float(v["margin"]) for k, v in data["claims"].items() if v.get("margin") is not None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def statuses(
    outputs: Path | None = None,
    registry: dict[str, claims.Claim] | None = None,
    root: Path | None = None,
    content_hash: ContentHash | None = None,
) -> list[ClaimStatus]:
    """Status of every registered claim from the ``claims.json`` files under ``outputs``. Given the build's
    ``content_hash``, results that are not those of the chapter's current inputs under ``root`` (the repository
    by default) are ``stale`` (:func:`staleness`), as ``python -m lmalign claims`` reports them."""
    outputs = Path(outputs) if outputs else paths.outputs_root()
    root = Path(root) if root else paths.repo_root()
    registry = registry if registry is not None else claims.load_registry()
    chapters = {claim.chapter for claim in registry.values()}
    corrupt = {ch: corruption(outputs, ch) for ch in sorted(chapters)}
    by_chapter = recorded_checks(outputs, [ch for ch in chapters if not corrupt[ch]])
    swept = sweep_margins(outputs)
    stale = {
        ch: staleness(outputs, ch, root, content_hash) if content_hash else ""
        for ch in sorted(chapters)
        if by_chapter.get(ch)
    }
    out = []
    for cid, claim in registry.items():
        recorded = [c for c in by_chapter.get(claim.chapter, []) if c["claim"] == cid]
        checks = [c for c in recorded if c.get("kind", "check") == "check"]
        reason, margin, tolerance = "", None, claim.tolerance
        if corrupt[claim.chapter]:
            status, error, reason = "corrupt", None, corrupt[claim.chapter]
        elif not checks:
            status, error = "missing", None
            reason = (
                f"chapter {claim.chapter} recorded no check of it"
                if by_chapter[claim.chapter]
                else f"chapter {claim.chapter} has no results (not written yet, or not run)"
            )
        else:
            error = max(float(c["error"]) for c in checks)
            tightest = min(checks, key=check_margin)
            margin, tolerance = check_margin(tightest), float(tightest["tolerance"])
            status = "pass" if all(c["passed"] for c in recorded) else "fail"
            if status == "pass" and stale[claim.chapter]:
                status, reason = "stale", stale[claim.chapter]
        out.append(
            ClaimStatus(
                id=cid,
                statement=claim.statement,
                result=claim.result,
                chapter=claim.chapter,
                tolerance=tolerance,
                error=error,
                checks=len(checks),
                status=status,
                reason=reason,
                margin=margin,
                bound=claim.bound,
                sweep_margin=swept.get(cid),
            )
        )
    return out


def as_json(rows: list[ClaimStatus]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=1)


STATEMENT_WIDTH = 60  # characters of a claim's statement in the text table; longer ones end with "..."


def natural_key(claim_id: str) -> tuple:
    """Sort key of a claim id with its numbers read as numbers: ``C5, C6, ..., C35`` (not ``C35, C36, C5``)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", claim_id))


def short_statement(statement: str, width: int = STATEMENT_WIDTH) -> str:
    """The statement on one line, cut to ``width`` characters (the last three ``...``) when longer."""
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def as_text(rows: list[ClaimStatus]) -> str:
    """The claims table of ``python -m lmalign claims``: one line per claim in natural order of the ids, with its
    status, largest error, tolerance (``bound`` when each check has its own, the value of a stated bound at the
    check's parameters, as in the report), smallest margin (tolerance / error), chapter and the start of its
    statement; then the summary and why any claim is stale."""
    rows = sorted(rows, key=lambda r: natural_key(r.id))
    chapter_width = max([len("chapter"), *(len(r.chapter) for r in rows)])
    lines = [
        f"{'claim':<6} {'status':<8} {'error':>10} {'tolerance':>10} {'margin':>9}  {'chapter':<{chapter_width}}  "
        "statement"
    ]
    for r in rows:
        err = "-" if r.error is None else f"{r.error:.2e}"
        tol = "bound" if r.bound else f"{r.tolerance:.1e}"
        lines.append(
            f"{r.id:<6} {r.status:<8} {err:>10} {tol:>10} {format_margin(r.margin):>9}  "
            f"{r.chapter:<{chapter_width}}  {short_statement(r.statement)}"
        )
    lines.append(f"{summary(rows)} of {len(rows)} claims")
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.status in ("stale", "corrupt"):
            reasons.setdefault((r.status, r.reason), []).append(r.id)
    for (status, reason), ids in reasons.items():
        lines.append(f"{status} {', '.join(ids)}: {reason}; rebuild with: python -m lmalign build")
    return "\n".join(lines)


def summary(rows: list[ClaimStatus]) -> str:
    """How many claims have each status: ``3 pass, 1 fail, 0 stale, 2 missing``."""
    return ", ".join(f"{sum(r.status == s for r in rows)} {s}" for s in STATUSES)


def escape(text: str) -> str:
    """``text`` as literal Markdown inside a table cell: punctuation that Markdown, MyST roles or the
    table syntax would interpret is backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]<>$|#!~])", r"\\\1", text)


def statement_markdown(text: str) -> str:
    """A registry statement as MyST: ``$...$`` spans are math and kept as they are, the text between them is
    escaped (:func:`escape`), so an ASCII formula such as ``D(phi||p) <= Delta`` is shown literally."""
    parts = re.split(r"(\$[^$]+\$)", text)
    return "".join(
        part if part.startswith("$") and part.endswith("$") and len(part) > 2 else escape(part) for part in parts
    )


def label(claim_id: str) -> str:
    """The report's label of a claim's section, ``claim-c1`` for ``C1``, ``claim-e1-2`` for the exercise check
    ``E1.2``."""
    return f"claim-{claim_id.lower().replace('.', '-')}"


def check_line(row: ClaimStatus) -> str:
    """One line for the chapter, under the result a claim verifies: its status, largest error and tolerance,
    linked to the claim's section of the report."""
    ref = f"{{ref}}`{row.id} <{label(row.id)}>`"
    if row.status == "missing":
        return f"**Check {ref}**: not run in this build."
    if row.status in ("stale", "corrupt"):
        return f"**Check {ref}**: **{row.status}**, not passed: {escape(row.reason)}."
    if row.bound:
        return (
            f"**Check {ref}** ({row.checks} check{'s' if row.checks != 1 else ''}): largest error "
            f"{row.error:.1e}, smallest margin {format_margin(row.margin)} under the tolerance of the bound "
            f"{escape(row.bound)}: **{row.status}**."
        )
    return (
        f"**Check {ref}** ({row.checks} check{'s' if row.checks != 1 else ''}): largest error "
        f"{row.error:.1e}, tolerance {row.tolerance:.0e}: **{row.status}**."
    )


def format_margin(margin: float | None) -> str:
    """``12.3×``, ``∞`` for an exact check, ``—`` for none."""
    if margin is None:
        return "—"
    return "∞" if margin == float("inf") else f"{margin:.3g}×"


def substitutions(outputs: Path | None = None, content_hash: ContentHash | None = None) -> dict[str, str]:
    """``{check_C1: check_line, ...}`` for every registered claim: MyST substitutions, so a chapter writes
    ``{{ check_C1 }}`` under the result that claim C1 verifies, ``{{ check_E1_2 }}`` for the exercise check
    ``E1.2`` (``content_hash``: see :func:`statuses`)."""
    return {f"check_{r.id.replace('.', '_')}": check_line(r) for r in statuses(outputs, content_hash=content_hash)}


def recorded_checks(outputs: Path, chapters) -> dict[str, list[dict]]:
    """``{chapter: the checks its claims.json records}`` (an empty list for a chapter that has not run)."""
    out = {}
    for chapter in chapters:
        f = outputs / chapter / "claims.json"
        out[chapter] = json.loads(f.read_text())["checks"] if f.is_file() else []
    return out


def report_markdown(outputs: Path | None = None, build_info: str = "", content_hash: ContentHash | None = None) -> str:
    """The "Reproduction report" page: a summary table, then one section per claim (label ``claim-cN``) with
    its statement, the result it belongs to and every check its chapter recorded; generated at every build
    (``content_hash``: see :func:`statuses`)."""
    rows = statuses(outputs, content_hash=content_hash)
    root = Path(outputs) if outputs else paths.outputs_root()
    ran = {r.chapter for r in rows if (root / r.chapter / "claims.json").is_file()}
    lines = [
        "# Reproduction report",
        "",
        "Generated by the build from `data/claims.yml` and the checks each chapter recorded when it ran. "
        "A claim passes when every check of it stayed within its tolerance; a claim whose chapter has not "
        "run is listed as **missing**, and one whose chapter changed since it ran, or whose last run failed, "
        "as **stale**: neither is passed. The error shown is the largest over the claim's "
        "checks; the margin is the smallest ratio of tolerance to error over them (above 1 passes), the "
        "tolerance being the registry's or, where the claim states an error bound, the bound's value at the "
        "chapter's parameters. The sweep margin is the worst margin over the random draws of the parameters of "
        "the last `python -m lmalign sweep`. `python -m lmalign claims` prints the same table.",
        "",
    ]
    if build_info:
        lines += [build_info, ""]
    exercises = [r for r in rows if r.id.startswith("E")]
    lines += [
        f"**{summary(rows)}** of {len(rows)} claims. Of these, {len(exercises)} check the numbers that exercises' "
        f"solutions state ([Exercises](exercises.md)): {summary(exercises)}.",
        "",
        "| claim | result | chapter | largest error | tolerance | margin | sweep margin | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        chapter = f"[{r.chapter}](../notebooks/{r.chapter}.ipynb)" if r.chapter in ran else f"`{r.chapter}`"
        err = "—" if r.error is None else f"{r.error:.2e}"
        tol = "bound" if r.bound else f"{r.tolerance:.0e}"
        lines.append(
            f"| {{ref}}`{r.id} <{label(r.id)}>` | {escape(r.result)} | {chapter} | {err} | "
            f"{tol} | {format_margin(r.margin)} | {format_margin(r.sweep_margin)} | **{r.status}** |"
        )
    registry = claims.load_registry()
    by_chapter = recorded_checks(root, {r.chapter for r in rows if r.status != "corrupt"})
    lines += ["", "## The claims one by one", ""]
    for r in rows:
        claim = registry[r.id]
        lines += [f"({label(r.id)})=", f"### {r.id}: {r.status}", "", statement_markdown(r.statement), ""]
        where = [f"Part of {escape(r.result)}"]
        if claim.theorems and r.chapter in ran:  # a chapter that has not run has no page to link into
            where.append("verifies " + ", ".join(f"{{prf:ref}}`{t}`" for t in claim.theorems))
        where.append(
            f"checked in chapter [{r.chapter}](../notebooks/{r.chapter}.ipynb)"
            if r.chapter in ran
            else f"checked in chapter `{r.chapter}` (not run)"
        )
        lines += ["; ".join(where) + ".", ""]
        if r.bound:
            lines += [f"Tolerance: the error bound {escape(r.bound)} at the chapter's parameters.", ""]
        if r.status in ("stale", "corrupt"):
            lines += [f"Not passed: {escape(r.reason)}.", ""]
        mine = [c for c in by_chapter.get(r.chapter, []) if c["claim"] == r.id]
        if mine:
            lines += ["| check | error | tolerance | margin | passed | detail |", "|---|---|---|---|---|---|"]
            for i, c in enumerate(mine, 1):
                kind = " (ablation: must exceed)" if c.get("kind") == "ablation" else ""
                lines.append(
                    f"| {i}{kind} | {float(c['error']):.2e} | {float(c['tolerance']):.0e} | "
                    f"{format_margin(check_margin(c))} | {'yes' if c['passed'] else '**no**'} | "
                    f"{escape(c['detail'])} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"
