"""One figure style for the whole book and deterministic saving with a provenance sidecar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmalign.claims import atomic_write_text  # noqa: E402

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "legend.frameon": False,
    "svg.hashsalt": "lmalign",
    "svg.fonttype": "path",
    "path.simplify": False,
}


def use_style() -> None:
    """Apply the book's matplotlib style (opaque white background, readable in light and dark themes)."""
    matplotlib.rcParams.update(STYLE)


def svg_bytes(fig) -> bytes:
    """The figure as SVG with fixed metadata, so the same figure always gives the same bytes."""
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "lmalign"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "lmalign"})
    return buf.getvalue()


def save_figure(fig, path: Path, provenance: dict) -> Path:
    """Write ``fig`` to ``path`` (``.svg``) atomically and its provenance to ``path.with_suffix('.json')``."""
    path = Path(path)
    atomic_write_text(path, svg_bytes(fig).decode("utf-8"))
    atomic_write_text(path.with_suffix(".json"), json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    plt.close(fig)
    return path
