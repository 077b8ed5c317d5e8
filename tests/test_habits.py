"""What keeps the project tidy outside the tests: the GitHub workflow for forks, the pre-commit hooks, the
commit-message rule, and CI calling the tiers once each."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("commit_msg", ROOT / ".ci" / "commit_msg.py")
commit_msg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(commit_msg)
BASE = "a05fb32"  # the last commit before the commit-message rule: older subjects are left as they are


def test_the_workflow_runs_ci_and_publishes_the_book():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = wf["jobs"]
    steps = jobs["ci"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "bash .ci/run" in runs, "the workflow must run the project's own CI script"
    python = next(s["with"]["python-version"] for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python == "3.11"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert jobs["pages"]["needs"] == "ci" and jobs["pages"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in jobs["pages"]["steps"])
    assert jobs["ci"]["timeout-minutes"] >= 60


def test_pre_commit_hooks_are_local_and_point_at_real_commands():
    config = ROOT / ".pre-commit-config.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repos = yaml.safe_load(config.read_text())["repos"]
    assert [r["repo"] for r in repos] == ["local"], "hook repositories cannot be fetched here"
    hooks = {h["id"]: h for h in repos[0]["hooks"]}
    assert {"ruff", "ruff-format", "chapters", "commit-subject"} <= set(hooks)
    assert "ruff format" in hooks["ruff-format"]["entry"] and "chapterlint" in hooks["chapters"]["entry"]
    assert (ROOT / hooks["commit-subject"]["entry"].split()[-1]).is_file()


def test_commit_messages_need_a_short_subject_and_a_body():
    assert commit_msg.problems("Fix the sweep seed\n\nThe seed was drawn twice.\n") == []
    assert commit_msg.problems("x" * 73 + "\n\nbody\n")[0].startswith("the subject has 73 characters")
    assert commit_msg.problems("Subject only\n") == ["after the subject: a blank line, then a body that says why"]
    assert commit_msg.problems("Subject\nno blank line\n")
    assert commit_msg.problems("# only a comment\n\n")
    assert commit_msg.problems("Fine subject\n\nBody.\n# Please enter the commit message\n") == []


def test_commits_of_this_history_follow_the_rule():
    proc = subprocess.run(
        ["git", "log", "--no-merges", "--format=%H%x00%B%x01", f"{BASE}..HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:  # not a git checkout (a copy of the sources)
        return
    for record in filter(str.strip, proc.stdout.split("\x01")):
        sha, message = record.strip("\n").split("\x00", 1)
        assert commit_msg.problems(message) == [], f"commit {sha[:10]}: {commit_msg.problems(message)}"


def test_ci_runs_each_tier_once():
    text = (ROOT / ".ci" / "run").read_text()
    commands = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert any(re.fullmatch(r"make test", c) for c in commands), "CI must call the README's test command"
    assert any(c.endswith("make test-slow") for c in commands)
    assert not any(c.endswith("make test-all") or "pytest" in c for c in commands), "a tier would run twice"
    assert commands.index("make book-clean") < next(i for i, c in enumerate(commands) if c.endswith("test-slow")), (
        "the determinism test compares with CI's clean build, which must exist first"
    )
    makefile = (ROOT / "Makefile").read_text()
    for target, tier in (("test", "fast"), ("test-slow", "slow"), ("test-all", "all")):
        body = re.search(rf"^{target}: .*\n\t(.*)$", makefile, flags=re.MULTILINE).group(1)
        assert f"--tier {tier}" in body, target
