"""Where a build reads and writes, and the mode its chapters run in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class BuildMode(StrEnum):
    """How the build runs the chapters: ``full`` (the chapters' own parameters: the book's results) or ``quick``
    (``quick=True``: small sizes, a check of the pipeline). The one place that knows what each mode means."""

    FULL = "full"
    QUICK = "quick"

    @property
    def parameters(self) -> dict:
        """The papermill parameters of the mode."""
        return {"quick": True} if self is BuildMode.QUICK else {}

    @classmethod
    def of(cls, parameters: dict) -> BuildMode | None:
        """The mode whose parameters these are, ``None`` for others (a rerun's or a sweep's)."""
        return next((mode for mode in cls if mode.parameters == parameters), None)

    @property
    def description(self) -> str:
        return (
            "**quick parameters** (small sizes: a check of the pipeline, not the book's results)"
            if self is BuildMode.QUICK
            else "the chapters' full parameters"
        )


@dataclass(frozen=True)
class BuildLayout:
    """Where a build reads and writes (all under the repository root unless given)."""

    root: Path
    build_dir: Path

    @property
    def outputs(self) -> Path:
        """``outputs/<chapter>``: a link to the installed run's outputs (claims, figures)."""
        return self.build_dir / "outputs"

    @property
    def executed(self) -> Path:
        """``executed/<chapter>.ipynb``: a link to the installed run's executed notebook."""
        return self.build_dir / "executed"

    @property
    def runs(self) -> Path:
        """The build's store of runs (:class:`lmalign.book.executor.Store`)."""
        return self.build_dir / "runs"

    @property
    def site(self) -> Path:
        return self.build_dir / "site"

    @property
    def html(self) -> Path:
        return self.build_dir / "html"
