"""Claims registry (``data/claims.yml``, shipped as package data) and the per-chapter results file that chapters
write.

A chapter records each check with :meth:`ClaimRecorder.record`; results go to
``<outputs>/<chapter>/claims.json``, rewritten atomically after every record. A claim passes when every check
recorded for it has ``error <= tolerance``. The tolerance is the registry's, unless the check passes its own:
a claim whose registry entry states a ``bound`` (an error bound that scales with the parameters, e.g.
``(log n)^2 / (lambda^2 n^2)``) is checked with ``tolerance=`` the value of that bound at the run's parameters,
computed by the chapter. Each check records its ``margin``, ``tolerance / error`` (``error / tolerance`` for an
ablation), so the report and the sweep show how close a check came to failing. A failing check raises
:class:`ClaimFailed` after it is written, so the cell that made it fails and the build stops there.
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
    bound: str = ""  # the error bound the chapter's tolerance comes from; its checks then pass ``tolerance=``


@dataclass(frozen=True)
class Check:
    claim: str
    error: float
    tolerance: float
    passed: bool
    detail: str
    kind: str = "check"  # "check": passes when error <= tolerance; "ablation": the same check with the certified
    #                      term removed, which passes when error > tolerance (the check can tell the term is there)
    bound: str = ""  # the error bound the tolerance was computed from ("" for the registry's constant)
    margin: float = math.inf  # tolerance / error for a check, error / tolerance for an ablation: > 1 passes

    def _ipython_display_(self) -> None:
        """Nothing: a cell that ends with ``ch.claim(...)`` shows no ``Check(...)`` repr on the page (the claim's
        summary is in the text and the report)."""


def margin(error: float, tolerance: float, ablation: bool = False) -> float:
    """How far a check is from failing: ``tolerance / error`` (``error / tolerance`` for an ablation); above 1
    it passes. ``inf`` for an exact check (error 0), ``0`` for a NaN error."""
    if math.isnan(error):
        return 0.0
    num, den = (error, tolerance) if ablation else (tolerance, error)
    return math.inf if den == 0 else num / den


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
        out[str(cid)] = Claim(
            id=str(cid),
            statement=" ".join(str(entry["statement"]).split()),
            result=str(entry["result"]),
            chapter=str(entry["chapter"]),
            tolerance=tolerance,
            book=bool(entry.get("book", False)),
            theorems=tuple(str(x) for x in entry.get("theorems") or ()),
            bound=" ".join(str(entry.get("bound") or "").split()),
        )
    return out


class ClaimRecorder:
    """Collects the checks of one chapter and keeps ``claims.json`` up to date."""

    def __init__(self, chapter: str, output_dir: Path, registry: dict[str, Claim] | None = None):
        self.chapter = chapter
        self.path = Path(output_dir) / "claims.json"
        self.registry = registry if registry is not None else load_registry()
        self.checks: list[Check] = []
        self._write()

    def record(
        self,
        claim_id: str,
        error: float,
        *,
        detail: str = "",
        ablation: bool = False,
        tolerance: float | None = None,
        bound: str = "",
    ) -> Check:
        """Record one check of ``claim_id`` with measured ``error`` (a non-negative number; NaN fails).

        ``tolerance``: the value, at this run's parameters, of the error bound ``bound`` (by default the
        registry's ``bound`` of the claim); required for a claim whose registry entry states a bound, else the
        registry's constant tolerance is used. With ``ablation=True`` the error is that of the same check with
        the term the claim certifies removed (e.g. a rate's second-order term): it passes only when it exceeds
        the tolerance, which shows that the tolerance is tight enough to see the term."""
        if claim_id not in self.registry:
            raise ValueError(f"claim_id {claim_id!r} is not in the registry {paths.claims_registry_path()}")
        claim = self.registry[claim_id]
        if claim.chapter != self.chapter:
            raise ValueError(f"claim {claim_id} belongs to chapter {claim.chapter!r}, not {self.chapter!r}")
        err = float(error)
        bound = " ".join(str(bound or claim.bound).split())
        if tolerance is None:
            if claim.bound:
                raise ValueError(
                    f"claim {claim_id} has the error bound {claim.bound!r} in the registry: pass "
                    "tolerance= its value at this run's parameters"
                )
            tol = claim.tolerance
        else:
            tol = float(tolerance)
            if not (tol > 0 and math.isfinite(tol)):
                raise ValueError(f"tolerance of claim {claim_id} must be a finite positive number, got {tolerance!r}")
            if not bound:
                raise ValueError(
                    f"claim {claim_id}: a tolerance of the check's own needs the bound it comes from "
                    "(bound=..., or a bound in the registry)"
                )
        passed = (not math.isnan(err)) and ((err > tol) if ablation else (err <= tol))
        check = Check(
            claim=claim_id,
            error=err,
            tolerance=tol,
            passed=passed,
            detail=detail,
            kind="ablation" if ablation else "check",
            bound=bound,
            margin=margin(err, tol, ablation),
        )
        self.checks.append(check)
        self._write()
        if not passed:
            what = (
                f"ablation error {err:.3e} <= tolerance {tol:.1e}: the check cannot see the term it certifies"
                if ablation
                else f"error {err:.3e} > tolerance {tol:.1e}"
            )
            if bound:
                what += f" (bound {bound})"
            raise ClaimFailed(f"chapter {self.chapter}: claim {claim_id} failed: {what} ({detail})")
        return check

    def _write(self) -> None:
        payload = {"chapter": self.chapter, "checks": [asdict(c) for c in self.checks]}
        atomic_write_text(self.path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n")
