"""The API reference page of the book, generated at every build from the library's own docstrings.

Every public module of ``lmalign`` (not the book machinery, not private ``_`` modules) gets a section rendered by
Sphinx autodoc, so a module added to the library appears in the reference without editing the page.
"""

from __future__ import annotations

import importlib
import pkgutil

import lmalign

# Modules that are not part of the library's API: the command-line table and the deprecated aliases.
NOT_API = {"lmalign.cli", "lmalign.related", "lmalign.reward_files", "lmalign.frontier_cli"}
BOOK = "lmalign.book"  # the book machinery, not the library


def library_modules() -> list[str]:
    """Names of the public library modules and subpackages with their modules, sorted: ``lmalign.frontier``,
    ``lmalign.frontier.core``, ..., ``lmalign.law``, ``lmalign.tilting``, ..."""
    names = []
    for info in pkgutil.walk_packages(lmalign.__path__, "lmalign."):
        private = any(part.startswith("_") for part in info.name.split(".")[1:])
        if private or info.name in NOT_API or info.name == BOOK or info.name.startswith(BOOK + "."):
            continue
        names.append(info.name)
    return sorted(names)


def first_line(module: str) -> str:
    """The first sentence of a module's docstring (its summary)."""
    doc = (importlib.import_module(module).__doc__ or "").strip()
    return " ".join(doc.split("\n\n", 1)[0].split())


def api_markdown() -> str:
    """The page: the package entry points, then one autodoc section per library module."""
    lines = [
        "# API reference",
        "",
        "The library `lmalign` computes everything in this book exactly on the law of the reward "
        "(`pip install .` installs it; the book machinery `lmalign.book` is not part of it). "
        "Generated from the docstrings at every build; each function states the formula it computes.",
        "",
        "```{eval-rst}",
        ".. automodule:: lmalign",
        "   :no-members:",
        "```",
        "",
    ]
    for module in library_modules():
        lines += [
            f"## `{module}`",
            "",
            "```{eval-rst}",
            f".. automodule:: {module}",
            "   :members:",
            "   :member-order: bysource",
            "```",
            "",
        ]
    return "\n".join(lines)
