"""The run context of one executed chapter: its parameters, claim checks and figures.

Every chapter starts, right after its ``parameters`` cell, with::

    from lmalign.chapter import Chapter
    ch = Chapter("01_optimal_policy", parameters=dict(seed=seed, vocab=vocab))

then records checks with ``ch.claim("C1", error, detail=...)`` and figures with
``ch.figure(fig, "frontier", caption="...")``. Outputs go to ``<outputs>/<chapter>/`` (see ``lmalign.paths``).
"""

from __future__ import annotations

import json
from pathlib import Path

from lmalign import claims, figures, paths

_CURRENT: Chapter | None = None


class Chapter:
    def __init__(self, name: str, parameters: dict | None = None, output_dir: Path | None = None):
        global _CURRENT
        self.name = name
        self.parameters = dict(parameters or {})
        self.output_dir = Path(output_dir) if output_dir else paths.chapter_output_dir(name)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.claims = claims.ClaimRecorder(name, self.output_dir)
        figures.use_style()
        _CURRENT = self

    def claim(self, claim_id: str, error: float, *, detail: str = "") -> claims.Check:
        """Record a check of a registered claim; raises ``ClaimFailed`` if ``error`` exceeds its tolerance."""
        return self.claims.record(claim_id, error, detail=detail)

    def figure(self, fig, name: str, caption: str):
        """Save ``fig`` as ``figures/<name>.svg`` with provenance and return it for display in the page."""
        from IPython.display import SVG

        provenance = {"chapter": self.name, "figure": name, "caption": caption,
                      "parameters": {k: _jsonable(v) for k, v in self.parameters.items()}}
        path = figures.save_figure(fig, self.output_dir / "figures" / f"{name}.svg", provenance)
        return SVG(data=path.read_text(encoding="utf-8"))


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


def current() -> Chapter:
    if _CURRENT is None:
        raise RuntimeError("no chapter is running: create lmalign.chapter.Chapter(name, parameters) first")
    return _CURRENT
