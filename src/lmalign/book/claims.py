"""Claims registry (``data/claims.yml``, shipped as package data) and the per-chapter results file that chapters
write.

A chapter records each check with :func:`record`; results go to ``<outputs>/<chapter>/claims.json``,
rewritten atomically after every record. A claim passes when every check recorded for it has
``error <= tolerance``, the tolerance coming from the registry. A failing check raises :class:`ClaimFailed`
after it is written, so the cell that made it fails and the build stops there.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from lmalign._atomic import atomic_write_text
from lmalign.book import paths


class ClaimFailed(AssertionError):
    """A recorded claim check exceeded its registered tolerance."""


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    result: str
    chapter: str
    tolerance: float
    book: bool = False  # a claim about the book itself (e.g. C0, the pipeline), not about the mathematics
    theorems: tuple[str, ...] = ()  # labels of the numbered results the claim verifies (``thm-...``)


@dataclass(frozen=True)
class Check:
    claim: str
    error: float
    tolerance: float
    passed: bool
    detail: str
    kind: str = "check"  # "check": passes when error <= tolerance; "ablation": the same check with the certified
    #                      term removed, which passes when error > tolerance (the check can tell the term is there)


def load_registry(path: Path | None = None) -> dict[str, Claim]:
    """Read the registry (``path``, else :func:`lmalign.book.paths.claims_registry_path`: the clone's
    ``data/claims.yml`` or the package's copy): ``{id: Claim}`` in registry order; a malformed entry is a
    ``ValueError``."""
    path = Path(path) if path else paths.claims_registry_path()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, Claim] = {}
    for cid, entry in (raw.get("claims") or {}).items():
        missing = [k for k in ("statement", "result", "chapter", "tolerance") if k not in (entry or {})]
        if missing:
            raise ValueError(f"claim {cid} in {path} lacks {', '.join(missing)}")
        tolerance = float(entry["tolerance"])
        if not tolerance > 0:
            raise ValueError(f"claim {cid} in {path}: tolerance must be positive, got {tolerance!r}")
        out[str(cid)] = Claim(id=str(cid), statement=" ".join(str(entry["statement"]).split()),
                              result=str(entry["result"]), chapter=str(entry["chapter"]), tolerance=tolerance,
                              book=bool(entry.get("book", False)),
                              theorems=tuple(str(x) for x in entry.get("theorems") or ()))
    return out


class ClaimRecorder:
    """Collects the checks of one chapter and keeps ``claims.json`` up to date."""

    def __init__(self, chapter: str, output_dir: Path, registry: dict[str, Claim] | None = None):
        self.chapter = chapter
        self.path = Path(output_dir) / "claims.json"
        self.registry = registry if registry is not None else load_registry()
        self.checks: list[Check] = []
        self._write()

    def record(self, claim_id: str, error: float, *, detail: str = "", ablation: bool = False) -> Check:
        """Record one check of ``claim_id`` with measured ``error`` (a non-negative number; NaN fails).

        With ``ablation=True`` the error is that of the same check with the term the claim certifies removed
        (e.g. a rate's second-order term): it passes only when it exceeds the tolerance, which shows that the
        tolerance is tight enough to see the term."""
        if claim_id not in self.registry:
            raise ValueError(f"claim_id {claim_id!r} is not in the registry {paths.claims_registry_path()}")
        claim = self.registry[claim_id]
        if claim.chapter != self.chapter:
            raise ValueError(f"claim {claim_id} belongs to chapter {claim.chapter!r}, not {self.chapter!r}")
        err = float(error)
        passed = (not math.isnan(err)) and ((err > claim.tolerance) if ablation else (err <= claim.tolerance))
        check = Check(claim=claim_id, error=err, tolerance=claim.tolerance, passed=passed, detail=detail,
                      kind="ablation" if ablation else "check")
        self.checks.append(check)
        self._write()
        if not passed:
            what = (f"ablation error {err:.3e} <= tolerance {claim.tolerance:.1e}: the check cannot see the "
                    "term it certifies" if ablation else f"error {err:.3e} > tolerance {claim.tolerance:.1e}")
            raise ClaimFailed(f"chapter {self.chapter}: claim {claim_id} failed: {what} ({detail})")
        return check

    def _write(self) -> None:
        payload = {"chapter": self.chapter, "checks": [asdict(c) for c in self.checks]}
        atomic_write_text(self.path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n")

