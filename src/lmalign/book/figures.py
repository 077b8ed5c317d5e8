"""Saving a chapter's figure: deterministic SVG (``lmalign.plotstyle``) and a JSON provenance sidecar."""

from __future__ import annotations

import json
from pathlib import Path

from lmalign._atomic import atomic_write_bytes, atomic_write_text
from lmalign.plotstyle import svg_bytes

FIGURE_KEY = "lmalign_figure"  # output metadata marking a figure (its SVG and its caption) for the book build


def save_figure(fig, path: Path, provenance: dict) -> Path:
    """Write ``fig`` to ``path`` (``.svg``) atomically and its provenance to ``path.with_suffix('.json')``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    atomic_write_bytes(path, svg_bytes(fig))
    atomic_write_text(path.with_suffix(".json"), json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    plt.close(fig)
    return path
