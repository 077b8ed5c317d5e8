"""Where the project's files live: repository root, data, and per-chapter build outputs."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """Repository root: ``LMALIGN_ROOT`` if set, else the ancestor holding ``data/claims.yml``."""
    env = os.environ.get("LMALIGN_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "data" / "claims.yml").is_file():
            return parent
    return Path.cwd().resolve()


def data_dir() -> Path:
    return repo_root() / "data"


def claims_registry_path() -> Path:
    return data_dir() / "claims.yml"


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
    return sorted(p for p in folder.rglob("*") if p.is_file() and not skip & set(p.parts)
                  and not any(part.endswith(".egg-info") for part in p.parts) and p.suffix != ".pyc")
