"""``pip install .`` then ``lmalign frontier`` outside the repository: the wheel carries the command, its example
data and every import it needs (the third-party packages come from the project's virtual environment)."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_alone_and_runs_outside_the_repository(new_venv, tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(new_venv.repo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("lmalign-*.whl")
    python = new_venv.python
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # numpy, scipy, pyarrow, tqdm, ... from this environment; appended after the venv's own site-packages, and
    # as a plain path (the editable install's finder in that folder is not activated)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    work = tmp_path / "empty"
    work.mkdir()
    probe = subprocess.run(
        [str(python), "-c", "import lmalign, lmalign.frontier as f; print(lmalign.__file__); print(f.example_file())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    )
    module, example = probe.stdout.split()
    assert module.startswith(str(site)) and example.startswith(str(site)) and Path(example).is_file()
    # the console script `lmalign` as its entry point declares it, and `python -m lmalign`
    script = (
        "import sys; from importlib.metadata import entry_points; "
        "(ep,) = [e for e in entry_points(group='console_scripts') if e.name == 'lmalign']; "
        "sys.argv[0] = 'lmalign'; sys.exit(ep.load()())"
    )
    for launcher in ([str(python), "-c", script], [str(python), "-m", "lmalign"]):
        result = subprocess.run(
            launcher
            + [
                "frontier",
                example,
                "--column",
                "reward",
                "--group",
                "prompt_id",
                "--max-n",
                "4",
                "--json",
                "--out",
                "f.svg",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=work,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["groups"] == 400
        assert (work / "f.svg").read_bytes().startswith(b"<?xml")
