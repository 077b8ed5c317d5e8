"""The test tiers (``tests/conftest.py``): a test is slow only through the fixtures it uses, the fast tier holds
no slow test, and in the fast tier nothing builds a virtual environment or a second book."""

import re
import subprocess
import sys
from pathlib import Path

import conftest
import pytest

ROOT = Path(__file__).resolve().parents[1]
KNOWN_SLOW = (
    "test_binder_install_steps_in_a_fresh_venv",
    "test_two_clean_builds_publish_identical_bytes",
    "test_a_build_killed_with_sigkill_leaves_no_chapter_process",
    "test_short_commands_run_as_written",
    "test_a_downloaded_notebook_runs_in_an_empty_folder",
)


def test_no_test_marks_itself_slow_by_hand():
    """Slowness comes from fixtures (conftest.SLOW_FIXTURES), so that it cannot be forgotten or faked."""
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        assert not re.search(r"mark\.slow\b", path.read_text(encoding="utf-8")), path.name


def test_every_slow_fixture_is_defined():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("*.py"))
    for name in conftest.SLOW_FIXTURES:
        assert re.search(rf"def {name}\(", text), f"slow fixture {name} is defined nowhere"


def _collected(tier: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--tier", tier, "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}


def test_the_tiers_split_the_tests(request):
    """The slow tier holds the tests that build venvs or books; none of them is in the fast tier."""
    slow = _collected("slow")
    names = {t.split("::")[-1] for t in slow}
    for test in KNOWN_SLOW:
        assert test in names, f"{test} is not in the slow tier"
    if request.config.getoption("--tier") == "fast":
        fast = {item.nodeid.split("[")[0] for item in request.session.items}
        assert fast and not fast & slow, f"in both tiers: {sorted(fast & slow)[:5]}"
        assert "tests/test_tiers.py::test_the_tiers_split_the_tests" in fast


def test_the_fast_tier_builds_no_venv_and_no_second_book(request, tmp_path):
    if request.config.getoption("--tier") != "fast":
        pytest.skip("the guard is only installed in the fast tier")
    import venv

    import fresh_install

    from lmalign.book import executor

    with pytest.raises(conftest.FastTierViolation, match="no virtual environment"):
        venv.create(tmp_path / "venv")
    with pytest.raises(conftest.FastTierViolation, match="no virtual environment"):
        fresh_install.fresh_venv(tmp_path)
    with pytest.raises(conftest.FastTierViolation, match="no virtual environment"):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v2")], check=False)
    chapter = tmp_path / "00_tiers.md"
    chapter.write_text("a chapter the guard sees twice; an invalid timeout stops each call before it runs")
    with pytest.raises(executor.BuildError, match="timeout"):  # the first call goes through to the executor
        executor.execute_into(ROOT, chapter, {"quick": True}, tmp_path / "a", timeout=-1.0)
    with pytest.raises(conftest.FastTierViolation, match="twice"):
        executor.execute_into(ROOT, chapter, {"quick": True}, tmp_path / "b", timeout=-1.0)


def test_the_tests_of_the_quick_book_share_one_worker(request):
    """``make test`` runs one pytest-xdist worker per core; every test that executes chapters through the
    session's store of runs (the quick book, the downloaded notebook) is one unit of work, so that one worker
    executes those chapters and the others run the rest (the guard above fails a second execution on any
    worker)."""
    target = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntest:")[1].split("\n\n")[0]
    assert "--tier fast -n auto" in target
    items = request.session.items
    sharing = {item.nodeid for item in items if conftest.shares_run_store(item)}
    assert all(conftest.shares_run_store(item) for item in items if "quick_book" in item.fixturenames)
    units = {conftest.unit_of_work(item.nodeid, sharing) for item in items}
    assert len(units) == len(items) - len(sharing) + bool(sharing)
    assert all(conftest.unit_of_work(nodeid, sharing) == "run store" for nodeid in sharing)
