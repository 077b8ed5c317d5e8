"""A downloaded chapter notebook runs anywhere: in a fresh virtual environment holding only the installed
package (not editable, no clone on the path), in an empty folder outside the repository, with no ``LMALIGN_*``
variable, writing only into its own folder and leaving the book's outputs as they were."""

import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from fresh_install import ROOT, clean_env, fresh_install, run

from lmalign.book import build, claims, paths
from lmalign.book.chapter import Chapter, git_commit

CHAPTER = "00_pipeline"  # the fastest chapter
RUN_TIMEOUT = 900  # seconds for the notebook
TOOL_FOLDERS = {".cache", ".config", ".ipython", ".jupyter", ".local"}  # matplotlib's, IPython's and Jupyter's


def test_the_registry_is_package_data_and_data_claims_yml_links_to_it():
    link = ROOT / "data" / "claims.yml"
    real = ROOT / "src" / "lmalign" / "data" / "claims.yml"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link)), "data/claims.yml: a relative link"
    assert link.resolve() == real.resolve() and real.is_file() and not real.is_symlink()


def test_outside_a_clone_the_working_folder_is_not_the_chapters(tmp_path, monkeypatch):
    """A downloaded notebook run in a folder of the reader's own (a git checkout with a data/ folder) records
    neither that folder's files as its inputs nor its commit as the chapter's."""
    monkeypatch.delenv("LMALIGN_ROOT", raising=False)
    monkeypatch.setattr(paths, "find_repo", lambda: None)  # as for an installed package
    monkeypatch.chdir(tmp_path)
    for rel in ("data/rewards.csv", f"notebooks/{CHAPTER}.md"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    git = ["git", "-c", "user.name=reader", "-c", "user.email=reader@example.org"]
    run([*git, "init", "-q"], cwd=tmp_path)
    run([*git, "commit", "-q", "--allow-empty", "-m", "the reader's own"], cwd=tmp_path)
    ch = Chapter(CHAPTER, output_dir=tmp_path / "out")
    assert set(ch.input_hashes()) == {"src/lmalign"}
    assert git_commit() == "unknown"
    assert paths.claims_registry_path() == paths.packaged_registry()


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    return fresh_install(tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory, run_store) -> Path:
    """The notebook the book offers for download (``_build/site/notebooks/downloads``), built in a tmp folder."""
    layout = build.build(
        root=ROOT, build_dir=tmp_path_factory.mktemp("book"), selected=[CHAPTER], quick=True, html=False
    )
    build.stage_site(layout)
    return layout.site / "notebooks" / "downloads" / f"{CHAPTER}.ipynb"


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file (its bytes) and link (its target) under ``folder``, links not followed."""
    out: dict[str, bytes | str] = {}
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(parent) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = path.read_bytes()
    return out


def listing(folder: Path) -> set[str]:
    """Every path under ``folder``, the bytecode Python caches as it imports left out."""
    return {
        os.path.join(p, n)
        for p, dirs, files in os.walk(folder)
        for n in dirs + files
        if "__pycache__" not in p and n != "__pycache__"
    }


def test_the_wheel_ships_the_registry(install):
    with zipfile.ZipFile(install.wheel) as wheel:
        shipped = wheel.read("lmalign/data/claims.yml")
    assert shipped == (ROOT / "data" / "claims.yml").read_bytes() and b"C0:" in shipped


def test_installed_package_reads_its_own_registry(install, tmp_path):
    code = (
        "from lmalign.book import claims, paths; print(paths.claims_registry_path()); "
        "print(len(claims.load_registry()))"
    )
    out = run([install.python, "-c", code], cwd=tmp_path, env=clean_env(install.venv, tmp_path)).stdout.split()
    assert Path(out[0]).is_relative_to(install.venv) and out[0].endswith("lmalign/data/claims.yml")
    assert int(out[1]) == len(claims.load_registry(ROOT / "data" / "claims.yml"))


def test_a_downloaded_notebook_runs_in_an_empty_folder(install, downloaded, tmp_path):
    book_outputs = ROOT / "_build" / "outputs"
    before_book = snapshot(book_outputs)
    stray = ROOT / "lmalign-outputs"
    before_stray = snapshot(stray)
    reader, home = tmp_path / "reader", tmp_path / "home"
    reader.mkdir()
    home.mkdir()
    (reader / downloaded.name).write_bytes(downloaded.read_bytes())
    around = {p: listing(p) for p in (install.venv, install.repo, install.wheel.parent)}

    env = clean_env(install.venv, home)
    assert not any(k.startswith("LMALIGN_") for k in env)
    run(
        [install.python, "-m", "papermill", downloaded.name, "executed.ipynb", "--no-progress-bar"],
        cwd=reader,
        env=env,
        timeout=RUN_TIMEOUT,
    )

    executed = nbformat.read(reader / "executed.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    results = reader / "lmalign-outputs" / CHAPTER
    checks = json.loads((results / "claims.json").read_text())["checks"]
    assert checks and all(c["passed"] for c in checks)
    assert (results / "figures" / "cgf_slope.svg").is_file()
    provenance = json.loads((results / "figures" / "cgf_slope.json").read_text())
    assert provenance["commit"] == "unknown" and set(provenance["inputs"]) == {"src/lmalign"}
    assert sorted(p.name for p in reader.iterdir()) == sorted([downloaded.name, "executed.ipynb", "lmalign-outputs"])
    # nothing of the chapter's outside its folder: not in the installed environment, the copy or the home folder
    assert {p: listing(p) for p in around} == around
    assert {p.name for p in home.iterdir()} <= TOOL_FOLDERS, "the home folder holds only the tools' own files"
    assert not [p for p in listing(home) if "lmalign" in p or p.endswith((".svg", "claims.json"))]
    assert snapshot(book_outputs) == before_book, "the book's outputs changed"
    assert snapshot(stray) == before_stray
