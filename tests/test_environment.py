"""The pins in requirements.txt and the conda environment.yml list the same packages and versions."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.txt line is not pinned with ==: {line!r}"
            out[name.lower()] = version
    return out


def test_environment_yml_matches_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = {}
    for entry in pip_section:
        name, _, version = entry.partition("==")
        conda_pins[name.lower()] = version
    assert conda_pins == _pins()
    assert "python=3.11" in env["dependencies"]


def test_core_packages_are_pinned():
    pins = _pins()
    for pkg in (
        "jupyter-book",
        "sphinx-proof",
        "papermill",
        "jupytext",
        "numpy",
        "scipy",
        "sympy",
        "matplotlib",
        "hypothesis",
        "pytest",
        "ruff",
    ):
        assert pkg in pins, pkg
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book must stay on 1.x (2.x needs the network)"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_installed_versions_are_the_pins():
    """The environment running the tests is the pinned one (``make`` reinstalls when the pins change)."""
    wrong = {}
    for name, pinned in _pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"pinned vs installed: {wrong}"


def test_package_dependencies_are_pinned():
    pins = {_norm(n) for n in _pins()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        name = _norm(re.match(r"[A-Za-z0-9_.-]+", dep).group(0))
        assert name in pins, f"{dep} (pyproject.toml) is not pinned in requirements.txt"
