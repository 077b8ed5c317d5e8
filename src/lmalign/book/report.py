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


STATUSES = ("pass", "fail", "stale", "missing")
# The parameter sets ``python -m lmalign build`` executes chapters with (``--quick`` or not): the hash stamp of a
# chapter's outputs is the content hash of its inputs with one of them.
BUILD_PARAMETERS: tuple[dict, ...] = ({}, {"quick": True})
ContentHash = Callable[[Path, Path, dict], str]  # (root, chapter source, parameters) -> digest: build.content_hash


def run_parameters(outputs: Path, chapter: str) -> list[dict]:
    """The parameter sets the chapter's last build may have used: those papermill recorded in the executed
    notebook beside ``outputs`` (``executed/<chapter>.ipynb``), then :data:`BUILD_PARAMETERS`."""
    found: list[dict] = []
    try:
        notebook = json.loads((outputs.parent / "executed" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
        recorded = notebook["metadata"]["papermill"]["parameters"]
        if isinstance(recorded, dict):
            found.append(recorded)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return found + [p for p in BUILD_PARAMETERS if p not in found]


def staleness(outputs: Path, chapter: str, root: Path, content_hash: ContentHash) -> str:
    """Why the results in ``outputs/<chapter>`` are not those of the chapter's current inputs under ``root``, or
    ``""`` when they are: the build's hash stamp ``outputs/.<chapter>.hash``, written only after a successful
    run, must equal the chapter's ``content_hash`` with the parameters of that run (:func:`run_parameters`)."""
    stamp = outputs / f".{chapter}.hash"
    if not stamp.is_file():
        return (f"the last run of chapter {chapter} did not succeed (it failed or was interrupted); these are "
                "the results of an earlier run")
    source = root / "notebooks" / f"{chapter}.md"
    if not source.is_file():
        return f"chapter {chapter} has no source notebooks/{chapter}.md any more"
    digest = stamp.read_text(encoding="utf-8").strip()
    if any(content_hash(root, source, parameters) == digest for parameters in run_parameters(outputs, chapter)):
        return ""
    return (f"chapter {chapter} changed since its results were made (its source, src/, data/, "
            "requirements.txt or the build parameters)")


def statuses(outputs: Path | None = None, registry: dict[str, claims.Claim] | None = None,
             root: Path | None = None, content_hash: ContentHash | None = None) -> list[ClaimStatus]:
    """Status of every registered claim from the ``claims.json`` files under ``outputs``. Given the build's
    ``content_hash``, results that are not those of the chapter's current inputs under ``root`` (the repository
    by default) are ``stale`` (:func:`staleness`), as ``python -m lmalign claims`` reports them."""
    outputs = Path(outputs) if outputs else paths.outputs_root()
    root = Path(root) if root else paths.repo_root()
    registry = registry if registry is not None else claims.load_registry()
    chapters = {claim.chapter for claim in registry.values()}
    by_chapter = recorded_checks(outputs, chapters)
    stale = {ch: staleness(outputs, ch, root, content_hash) if content_hash else ""
             for ch in sorted(chapters) if by_chapter[ch]}
    out = []
    for cid, claim in registry.items():
        recorded = [c for c in by_chapter[claim.chapter] if c["claim"] == cid]
        checks = [c for c in recorded if c.get("kind", "check") == "check"]
        reason = ""
        if not checks:
            status, error = "missing", None
            reason = (f"chapter {claim.chapter} recorded no check of it" if by_chapter[claim.chapter]
                      else f"chapter {claim.chapter} has no results (not written yet, or not run)")
        else:
            error = max(float(c["error"]) for c in checks)
            status = "pass" if all(c["passed"] for c in recorded) else "fail"
            if status == "pass" and stale[claim.chapter]:
                status, reason = "stale", stale[claim.chapter]
        out.append(ClaimStatus(id=cid, statement=claim.statement, result=claim.result, chapter=claim.chapter,
                               tolerance=claim.tolerance, error=error, checks=len(checks), status=status,
                               reason=reason))
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
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def as_text(rows: list[ClaimStatus]) -> str:
    """The claims table of ``python -m lmalign claims``: one line per claim in natural order of the ids, with its
    status, largest error, tolerance, chapter and the start of its statement; then the summary and why any claim
    is stale."""
    rows = sorted(rows, key=lambda r: natural_key(r.id))
    chapter_width = max([len("chapter"), *(len(r.chapter) for r in rows)])
    lines = [f"{'claim':<6} {'status':<8} {'error':>10} {'tolerance':>10}  {'chapter':<{chapter_width}}  statement"]
    for r in rows:
        err = "-" if r.error is None else f"{r.error:.2e}"
        lines.append(f"{r.id:<6} {r.status:<8} {err:>10} {r.tolerance:>10.1e}  {r.chapter:<{chapter_width}}  "
                     f"{short_statement(r.statement)}")
    lines.append(f"{summary(rows)} of {len(rows)} claims")
    stale = {}
    for r in rows:
        if r.status == "stale":
            stale.setdefault(r.reason, []).append(r.id)
    for reason, ids in stale.items():
        lines.append(f"stale {', '.join(ids)}: {reason}; rebuild with: python -m lmalign build")
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
    return "".join(part if part.startswith("$") and part.endswith("$") and len(part) > 2 else escape(part)
                   for part in parts)


def label(claim_id: str) -> str:
    """The report's label of a claim's section, ``claim-c1`` for ``C1``."""
    return f"claim-{claim_id.lower()}"


def check_line(row: ClaimStatus) -> str:
    """One line for the chapter, under the result a claim verifies: its status, largest error and tolerance,
    linked to the claim's section of the report."""
    ref = f"{{ref}}`{row.id} <{label(row.id)}>`"
    if row.status == "missing":
        return f"**Check {ref}**: not run in this build."
    if row.status == "stale":
        return f"**Check {ref}**: **stale**, not passed: {escape(row.reason)}."
    return (f"**Check {ref}** ({row.checks} check{'s' if row.checks != 1 else ''}): largest error "
            f"{row.error:.1e}, tolerance {row.tolerance:.0e}: **{row.status}**.")


def substitutions(outputs: Path | None = None, content_hash: ContentHash | None = None) -> dict[str, str]:
    """``{check_C1: check_line, ...}`` for every registered claim: MyST substitutions, so a chapter writes
    ``{{ check_C1 }}`` under the result that claim C1 verifies (``content_hash``: see :func:`statuses`)."""
    return {f"check_{r.id}": check_line(r) for r in statuses(outputs, content_hash=content_hash)}


def recorded_checks(outputs: Path, chapters) -> dict[str, list[dict]]:
    """``{chapter: the checks its claims.json records}`` (an empty list for a chapter that has not run)."""
    out = {}
    for chapter in chapters:
        f = outputs / chapter / "claims.json"
        out[chapter] = json.loads(f.read_text())["checks"] if f.is_file() else []
    return out


def report_markdown(outputs: Path | None = None, build_info: str = "",
                    content_hash: ContentHash | None = None) -> str:
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
        "checks, and the margin is the tolerance divided by it. `python -m lmalign claims` prints the same "
        "table.",
        "",
    ]
    if build_info:
        lines += [build_info, ""]
    lines += [
        f"**{summary(rows)}** of {len(rows)} claims.",
        "",
        "| claim | result | chapter | largest error | tolerance | margin | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        chapter = f"[{r.chapter}](../notebooks/{r.chapter}.ipynb)" if r.chapter in ran else f"`{r.chapter}`"
        err = "—" if r.error is None else f"{r.error:.2e}"
        margin = "—" if r.error is None else ("∞" if r.error == 0 else f"{r.tolerance / r.error:.3g}×")
        lines.append(f"| {{ref}}`{r.id} <{label(r.id)}>` | {escape(r.result)} | {chapter} | {err} | "
                     f"{r.tolerance:.0e} | {margin} | **{r.status}** |")
    registry = claims.load_registry()
    by_chapter = recorded_checks(root, {r.chapter for r in rows})
    lines += ["", "## The claims one by one", ""]
    for r in rows:
        claim = registry[r.id]
        lines += [f"({label(r.id)})=", f"### {r.id}: {r.status}", "", statement_markdown(r.statement), ""]
        where = [f"Part of {escape(r.result)}"]
        if claim.theorems and r.chapter in ran:  # a chapter that has not run has no page to link into
            where.append("verifies " + ", ".join(f"{{prf:ref}}`{t}`" for t in claim.theorems))
        where.append(f"checked in chapter [{r.chapter}](../notebooks/{r.chapter}.ipynb)" if r.chapter in ran
                     else f"checked in chapter `{r.chapter}` (not run)")
        lines += ["; ".join(where) + ".", ""]
        if r.status == "stale":
            lines += [f"Not passed: {escape(r.reason)}.", ""]
        mine = [c for c in by_chapter[r.chapter] if c["claim"] == r.id]
        if mine:
            lines += ["| check | error | tolerance | passed | detail |", "|---|---|---|---|---|"]
            for i, c in enumerate(mine, 1):
                kind = " (ablation: must exceed)" if c.get("kind") == "ablation" else ""
                lines.append(f"| {i}{kind} | {float(c['error']):.2e} | {float(c['tolerance']):.0e} | "
                             f"{'yes' if c['passed'] else '**no**'} | {escape(c['detail'])} |")
            lines.append("")
    return "\n".join(lines) + "\n"
