"""Where the project's files live: repository root, data, the claims registry and per-chapter build outputs.

The claims registry ships with the package (``lmalign/data/claims.yml``, read with ``importlib.resources``), so
a chapter notebook runs outside a clone of the repository; in a clone, ``data/claims.yml`` is a link to it and
is what the build, the tests and outside checks read.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

REGISTRY = ("data", "claims.yml")  # the registry's path, relative to the repository root and to the package


def find_repo() -> Path | None:
    """The repository this code runs from: ``LMALIGN_ROOT`` if set, else the ancestor of this file holding
    ``data/claims.yml``; ``None`` for an installed package outside a clone."""
    env = os.environ.get("LMALIGN_ROOT")
    if env:
        return Path(env).resolve()
    for parent in Path(__file__).resolve().parents[2:]:  # above the package, whose own data/ holds the registry
        if parent.joinpath(*REGISTRY).is_file():
            return parent
    return None


def repo_root() -> Path:
    """Repository root: ``LMALIGN_ROOT`` if set, else the ancestor holding ``data/claims.yml``, else the working
    folder."""
    return find_repo() or Path.cwd().resolve()


def data_dir() -> Path:
    return repo_root() / "data"


def packaged_registry() -> Path:
    """The claims registry installed with the package (``lmalign/data/claims.yml``)."""
    return Path(str(resources.files("lmalign").joinpath(*REGISTRY)))


def claims_registry_path() -> Path:
    """The claims registry: the repository's ``data/claims.yml`` when running from a clone (or ``LMALIGN_ROOT``),
    else the copy installed with the package."""
    repo = find_repo()
    if repo is not None and repo.joinpath(*REGISTRY).is_file():
        return repo.joinpath(*REGISTRY)
    return packaged_registry()


def outputs_root() -> Path:
    """Folder of the book's per-chapter outputs that the report and ``claims`` read: ``LMALIGN_OUTPUTS`` or
    ``_build/outputs`` (written only by the build)."""
    env = os.environ.get("LMALIGN_OUTPUTS")
    return Path(env).resolve() if env else repo_root() / "_build" / "outputs"


def chapter_output_dir(chapter: str) -> Path:
    """Where a running chapter writes its claims and figures: ``LMALIGN_OUTPUTS/<chapter>`` when set (the build
    and ``python -m lmalign rerun`` set it), else ``lmalign-outputs/<chapter>`` in the working folder, so a
    notebook run by hand never touches the book's results."""
    env = os.environ.get("LMALIGN_OUTPUTS")
    return (Path(env).resolve() if env else Path.cwd().resolve() / "lmalign-outputs") / chapter


def source_files(folder: Path) -> list[Path]:
    """Every file of the package sources (code and package data), sorted; caches and build residue left out."""
    skip = {"__pycache__", ".pytest_cache"}
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not skip & set(p.parts)
        and not any(part.endswith(".egg-info") for part in p.parts)
        and p.suffix != ".pyc"
    )
