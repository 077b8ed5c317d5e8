"""One matplotlib style for every figure of the project, and deterministic SVG bytes.

Used by the book's chapters and by the ``frontier`` command. matplotlib is imported when a function here is
called, not when ``lmalign`` is imported.
"""

from __future__ import annotations

import io
from typing import Any

STYLE: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
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
    """Apply ``STYLE`` to matplotlib, with the non-interactive Agg backend.

    The style has an opaque white background, readable in light and dark page themes.

    Examples
    --------
    >>> use_style()
    >>> import matplotlib
    >>> matplotlib.get_backend().lower(), matplotlib.rcParams["svg.hashsalt"]
    ('agg', 'lmalign')
    """
    import matplotlib

    matplotlib.use("Agg")
    rc: Any = matplotlib.rcParams  # its stubs list every key as a Literal
    rc.update(STYLE)


def svg_bytes(fig) -> bytes:
    """``fig`` as SVG with fixed metadata and hash salt, so the same figure always gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.

    Returns
    -------
    bytes
        The SVG document.

    Examples
    --------
    >>> use_style()
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> svg_bytes(fig) == svg_bytes(fig), svg_bytes(fig)[:5]
    (True, b'<?xml')
    >>> plt.close(fig)
    """
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "lmalign"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "lmalign"})
    return buf.getvalue()
