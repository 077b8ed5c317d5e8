"""The pins in requirements.txt and the conda environment.yml list the same packages and versions."""

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
    for pkg in ("jupyter-book", "sphinx-proof", "papermill", "jupytext", "numpy", "scipy", "sympy", "matplotlib",
                "hypothesis", "pytest", "ruff"):
        assert pkg in pins, pkg
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book must stay on 1.x (2.x needs the network)"
