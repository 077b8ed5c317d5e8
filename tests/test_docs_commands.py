"""Every shell command the README and the book's pages show is checked against the code, so the documentation
cannot drift from it: short commands run as written (from the repository root, in a scratch copy of the files
they write); long ones (the whole build, the benchmarks) have their options parsed by the command itself;
``make`` targets must exist (CI runs ``make test``, ``make data`` and ``make book-clean`` themselves)."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from cli_runner import lmalign_in_process

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md")), *sorted((ROOT / "notebooks").glob("*.md"))]


def shell_lines() -> list[tuple[str, str]]:
    """``(page, command)`` for every line of a ```bash block (indented ones in lists too), comments dropped."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, flags=re.MULTILINE | re.DOTALL):
            for line in block.splitlines():
                command = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()
                if command and not command.startswith("#"):
                    out.append((page.relative_to(ROOT).as_posix(), command))
    return out


COMMANDS = shell_lines()
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def _synopsis(command: str) -> bool:
    """A usage line (``[--option]``, ``REWARDS.csv``) or an example on the reader's own file (a data file that
    does not exist here): its options are checked, it is not run."""
    data = [w for w in shlex.split(command) if re.search(r"\.(csv|tsv|jsonl|parquet)$", w)]
    return "[" in command or "REWARDS" in command or any(not (ROOT / w).exists() for w in data)


def _lmalign_args(command: str) -> list[str] | None:
    words = shlex.split(command)
    if words[:3] in (["python", "-m", "lmalign"], [".venv/bin/python", "-m", "lmalign"]):
        return words[3:]
    return None


def test_the_pages_show_commands():
    assert len(COMMANDS) >= 10
    assert any("rerun" in c for _, c in COMMANDS) and any("papermill" in c for _, c in COMMANDS)


@pytest.mark.parametrize(
    "page, command", [pc for pc in COMMANDS if pc[1].startswith("make ")], ids=lambda x: x if " " in x else ""
)
def test_make_targets_exist(page, command):
    assert command.split()[1] in MAKE_TARGETS, f"{page}: `{command}` names no Makefile target"


@pytest.mark.parametrize(
    "page, command", [pc for pc in COMMANDS if _lmalign_args(pc[1]) is not None], ids=lambda x: x if " " in x else ""
)
def test_lmalign_options_are_real(page, command):
    """Every verb and option a page shows is accepted by the command's own parser."""
    args = _lmalign_args(command)
    verb = args[0]
    proc = lmalign_in_process([verb, "--help"], cwd=ROOT)
    assert proc.returncode == 0, f"{page}: `{command}`: {proc.stderr}"
    for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command):
        assert option in proc.stdout, f"{page}: `{command}` shows {option}, which `{verb} --help` does not list"


RUN_AS_WRITTEN = ("claims", "rerun", "frontier")


@pytest.mark.parametrize(
    "page, command",
    [
        pc
        for pc in COMMANDS
        if not _synopsis(pc[1])
        and ((_lmalign_args(pc[1]) or [""])[0] in RUN_AS_WRITTEN or "jupytext" in pc[1] or "papermill" in pc[1])
    ],
    ids=lambda x: x if " " in x else "",
)
def test_short_commands_run_as_written(page, command, repo_commands):
    """Run from the repository root; files the command creates there are removed afterwards (the claims table
    may exit 1 while claims are missing, but never with a traceback)."""
    proc = repo_commands(command)
    assert "Traceback" not in proc.stderr, f"{page}: `{command}`:\n{proc.stderr[-2000:]}"
    allowed = (0, 1) if " claims" in command else (0,)
    assert proc.returncode in allowed, f"{page}: `{command}` exited {proc.returncode}:\n{proc.stderr[-2000:]}"


EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _requirements(extra: str, seen: frozenset = frozenset()) -> set[str]:
    """The distributions an extra installs, its references to other extras (``lmalign[notebook]``) followed."""
    out = set()
    for req in EXTRAS[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        inner = re.match(r"lmalign\[([a-z,]+)\]", req)
        if inner:
            for sub in set(inner.group(1).split(",")) - seen:
                out |= _requirements(sub, seen | {extra})
        else:
            out.add(name)
    return out


def test_indented_blocks_are_checked_too():
    assert ("book/reproduce.md", "jupyter lab 01_optimal_policy.ipynb") in COMMANDS


@pytest.mark.parametrize(
    "page, command", [pc for pc in COMMANDS if "pip install" in pc[1]], ids=lambda x: x if " " in x else ""
)
def test_pip_installs_name_real_extras(page, command):
    """``pip install ".[x]"`` installs this project with an extra that pyproject.toml defines."""
    targets = [w for w in shlex.split(command)[shlex.split(command).index("install") + 1 :] if not w.startswith("-")]
    assert targets, f"{page}: `{command}` installs nothing"
    for target in targets:
        found = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", target)
        assert found, f"{page}: `{command}`: install the project ('.' or '.[extra]'), not {target!r}"
        for extra in (found.group(1) or "").split(",") if found.group(1) else []:
            assert extra in EXTRAS, f"{page}: `{command}`: pyproject.toml has no extra {extra!r}"


@pytest.mark.parametrize(
    "page, command", [pc for pc in COMMANDS if pc[1].startswith("jupyter ")], ids=lambda x: x if " " in x else ""
)
def test_jupyter_comes_from_an_extra_the_page_installs(page, command):
    """A page that starts JupyterLab on a notebook says how to install it: an extra with jupyterlab."""
    words = shlex.split(command)
    assert words[1] == "lab" and words[2].endswith((".ipynb", ".md")), f"{page}: `{command}`"
    installed = {e for p, c in COMMANDS if p == page and "pip install" in c for e in re.findall(r"\[([a-z]+)\]", c)}
    assert any("jupyterlab" in _requirements(e) for e in installed), f"{page}: no extra of it installs JupyterLab"
    assert {"jupytext", "papermill", "ipykernel"} <= _requirements("lab")


@pytest.mark.parametrize(
    "page, command",
    [pc for pc in COMMANDS if re.match(r"\.venv/bin/python \S+\.py", pc[1])],
    ids=lambda x: x if " " in x else "",
)
def test_scripts_exist(page, command):
    assert (ROOT / shlex.split(command)[1]).is_file(), f"{page}: `{command}` runs a script that does not exist"
