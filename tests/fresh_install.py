"""A fresh virtual environment with the project installed from a copy of the repository, not editable.

Created once per test session for ``test_download.py``. The copy is built into a wheel (``pip wheel``, an
isolated build as ``pip install <repo>`` does) and the wheel is installed with the ``notebook`` extra (what a
chapter needs to run: papermill, a kernel, the registry reader), constrained to the pins of ``requirements.txt``
so that pip's cache serves them. ``--no-compile`` spares compiling every installed module (most of the time of an
install): Python compiles what a run imports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what a clone holds that a copy for installing does not need: build residue, caches, the project's own venv
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "_build",
    "build",
    "tmpcheck",
    "runs",
    "lmalign-outputs",
    "dist",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".hypothesis",
    ".ruff_cache",
)
PIP_TIMEOUT = 900  # seconds for one pip command


@dataclass(frozen=True)
class FreshVenv:
    repo: Path  # a copy of the repository
    venv: Path  # a new virtual environment, nothing installed yet
    home: Path  # its user's home folder
    env: dict[str, str]  # its user's environment (:func:`clean_env`)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@dataclass(frozen=True)
class FreshInstall:
    venv: Path  # the virtual environment
    repo: Path  # the copy of the repository it was installed from
    wheel: Path  # the wheel built from that copy and installed

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def clean_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment of a user of ``venv``: no ``LMALIGN_*``, no path of this test run's Python or Jupyter,
    ``HOME`` in ``home`` (where Jupyter, IPython and matplotlib keep their own files)."""
    drop = ("LMALIGN_", "PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON", "MPL", "PYTEST", "COV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}")
    return env


def run(cmd: list, cwd: Path, env: dict | None = None, timeout: float = PIP_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``cmd``; a non-zero exit fails with its output."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def copy_repository(target: Path) -> Path:
    """A copy of the working tree (links kept as links, as a clone has them)."""
    shutil.copytree(ROOT, target, symlinks=True, ignore=IGNORE)
    return target


def fresh_venv(base: Path) -> FreshVenv:
    """Under ``base``: a copy of the repository, a home folder and a new virtual environment."""
    repo = copy_repository(base / "repo")
    home = base / "home"
    home.mkdir()
    venv = base / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=base)
    return FreshVenv(repo=repo, venv=venv, home=home, env=clean_env(venv, home))


_SESSION: dict[str, FreshInstall] = {}


def fresh_install(base: Path) -> FreshInstall:
    """The session's fresh install, made under ``base`` on first use."""
    if "install" not in _SESSION:
        fresh = fresh_venv(base)
        wheels = base / "wheels"
        run(
            [fresh.python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, fresh.repo],
            cwd=base,
            env=fresh.env,
        )
        (wheel,) = wheels.glob("lmalign-*.whl")
        run(
            [
                fresh.python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--constraint",
                ROOT / "requirements.txt",
                f"{wheel}[notebook]",
            ],
            cwd=base,
            env=fresh.env,
        )
        _SESSION["install"] = FreshInstall(venv=fresh.venv, repo=fresh.repo, wheel=wheel)
    return _SESSION["install"]
