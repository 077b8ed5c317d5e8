"""Binder: repo2docker reads only ``binder/`` when it exists (``environment.yml`` alone never installed the
package). Its requirements are the repository's pins by reference, and its install steps, run here in a fresh
virtual environment as repo2docker runs them, give an environment where ``import lmalign`` works and a chapter
opens as a notebook with jupytext."""

import json
import os
from pathlib import Path

import yaml
from fresh_install import ROOT, run

BINDER = ROOT / "binder"
CHAPTER = "00_pipeline"


def _lines(path: Path) -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines() if ln.split("#", 1)[0].strip()]


def test_binder_requirements_are_the_pins_by_reference():
    """One place of pins: binder/requirements.txt only points at requirements.txt (repo2docker then installs it
    after copying the repository, so the reference resolves)."""
    assert _lines(BINDER / "requirements.txt") == ["-r ../requirements.txt"]
    assert (BINDER / "../requirements.txt").resolve() == (ROOT / "requirements.txt").resolve()
    assert "jupytext" in (ROOT / "requirements.txt").read_text(), "Binder opens the MyST chapters with jupytext"


def test_binder_python_is_the_projects():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert _lines(BINDER / "runtime.txt") == [f"python-{conda_python.split('=', 1)[1]}"]


def test_post_build_installs_the_package_without_its_dependencies():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK) and post.read_text().startswith("#!/bin/bash\n"), "repo2docker executes it"
    steps = _lines(post)
    assert "python -m pip install --no-cache-dir --no-deps ." in steps
    assert not {p.name for p in BINDER.iterdir()} & {"environment.yml", "Dockerfile", "setup.py", "Project.toml"}


def test_binder_install_steps_in_a_fresh_venv(new_venv):
    fresh = new_venv
    repo, venv, home, env, python = fresh.repo, fresh.venv, fresh.home, fresh.env, fresh.python
    # repo2docker: pip install -r binder/requirements.txt, then ./binder/postBuild, from the repository root
    run([python, "-m", "pip", "install", "--quiet", "--no-compile", "-r", "binder/requirements.txt"], cwd=repo, env=env)
    run(["./binder/postBuild"], cwd=repo, env=env)
    code = (
        "import json, jupytext, lmalign; from lmalign.book import claims; "
        f"nb = jupytext.read('notebooks/{CHAPTER}.md'); "
        "print(json.dumps(dict(lmalign=lmalign.__file__, registry=len(claims.load_registry()), "
        "kernel=nb.metadata['kernelspec']['name'], code=sum(c.cell_type == 'code' for c in nb.cells), "
        "parameters=[c.source for c in nb.cells if 'parameters' in c.metadata.get('tags', [])])))"
    )
    seen = json.loads(run([python, "-c", code], cwd=repo, env=env).stdout)
    assert Path(seen["lmalign"]).is_relative_to(venv), "lmalign must be installed, not imported from the clone"
    assert seen["registry"] > 0 and seen["kernel"] == "python3" and seen["code"] > 3
    assert len(seen["parameters"]) == 1 and "quick = False" in seen["parameters"][0]
    settings = list(home.rglob("*.json"))
    assert any("Jupytext Notebook" in p.read_text() for p in settings), "markdown does not open as a notebook"
