"""The numbers of the exercises' solutions, recomputed from their formulas in 30-digit arithmetic, independently of
the chapters and the library: one module ``chNN`` per chapter, each with ``exact() -> {exercise id: {name: value}}``.
"""

import importlib

import mpmath


def exact(chapter_number: int) -> dict[str, dict[str, mpmath.mpf]]:
    """The exact values of the exercises of chapter ``chapter_number`` (30 digits)."""
    module = importlib.import_module(f"{__name__}.ch{chapter_number:02d}")
    with mpmath.workdps(30):
        return module.exact()
