"""Test tiers and the fixtures the tiers are made of.

Two tiers, chosen with ``--tier`` (``make test``: ``fast``, the default; ``make test-slow``: ``slow``;
``make test-all``: ``all``):

- **fast**: the library's unit and property tests, the command line, and one quick build of the whole book
  (``quick_book``) that the chapter, claim, report, browser and PDF tests share.
- **slow**: whatever builds a fresh virtual environment, executes chapters beyond that one quick book (fault
  injection on scratch chapters, the full book built a second time for determinism, the parameter sweep) or runs
  the long fuzz. A test is slow because of the fixtures it uses (:data:`SLOW_FIXTURES`), never by hand: a new test
  that asks for a slow fixture is slow automatically. Tests that use ``browser`` are also marked ``browser``.

In the fast tier a guard makes the rule hold at run time: building a virtual environment, or executing a chapter
with parameters it has already been executed with in this session (on any pytest-xdist worker), raises instead.

``make test`` runs one pytest-xdist worker per core (``-n auto``). The tests that execute chapters through the
session's store of runs (``run_store``: the quick book and what shares it) are scheduled as one unit of work on
one worker, first; every other test is a unit of its own (:func:`pytest_xdist_make_scheduler`).
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# The same examples on every run (reproducible CI); no per-example deadline on a shared 2-core machine.
settings.register_profile("lmalign", derandomize=True, deadline=None, max_examples=100)
settings.load_profile("lmalign")

ROOT = Path(__file__).resolve().parents[1]

# The fixtures that make a test slow (defined here or in the test modules that use them).
SLOW_FIXTURES = frozenset(
    {
        "new_venv",  # a new virtual environment beside a copy of the repository (fresh_install.fresh_venv)
        "install",  # the package installed from a wheel into a fresh virtual environment
        "repo_commands",  # commands run as a reader types them, from the repository root (they execute chapters)
        "scratch_build",  # chapters executed in a scratch copy of the repository (faults, signals, caching)
        "two_builds",  # the book built twice from clean folders (determinism)
        "deep_fuzz",  # the long fuzz run (many examples per case)
        "lmalign_command",  # a `python -m lmalign` command that executes chapters (rerun, sweep), in a subprocess
        "published_book",  # the whole book as published: every page in the browser, the whole PDF printed
    }
)
TIERS = ("fast", "slow", "all")
XDIST_UNITS = "LMALIGN_XDIST_UNITS"  # the folder where pytest-xdist workers say which tests share the run store


def pytest_addoption(parser):
    parser.addoption(
        "--tier",
        choices=TIERS,
        default="fast",
        help="fast (default: make test), slow (make test-slow) or all (make test-all)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: uses a slow fixture (see tests/conftest.py); runs in --tier slow")
    config.addinivalue_line("markers", "browser: needs headless Chromium (Debian's chromium, chromium-driver)")
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):  # before workers start
        import tempfile

        config._lmalign_units = tempfile.TemporaryDirectory(prefix="lmalign-xdist-")
        os.environ[XDIST_UNITS] = config._lmalign_units.name


def is_slow(item) -> bool:
    return bool(SLOW_FIXTURES & set(getattr(item, "fixturenames", ())))


def shares_run_store(item) -> bool:
    """Whether the test executes chapters through the session's store of runs (the quick book, the downloaded
    notebook): under pytest-xdist such tests must all run on one worker, the one holding that store."""
    return "run_store" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    tier = config.getoption("--tier")
    keep, drop = [], []
    for item in items:
        slow = is_slow(item)
        if slow:
            item.add_marker(pytest.mark.slow)
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        (keep if tier == "all" or slow == (tier == "slow") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _tell_the_scheduler(config, items)


# pytest-xdist (`make test`: one worker per core). Its own groups (`xdist_group` marks with `--dist loadgroup`)
# are lost with pytest 9, whose node ids no longer take the group suffix; so the controller schedules with
# RunStoreScheduling below: every test that shares the run store is one unit of work (given first, being the
# longest), every other test a unit of its own. The workers collect, the controller does not: each worker writes
# the node ids that share the store into a folder the controller names in LMALIGN_XDIST_UNITS.
def pytest_unconfigure(config):
    if units := getattr(config, "_lmalign_units", None):
        os.environ.pop(XDIST_UNITS, None)
        units.cleanup()


def _tell_the_scheduler(config, items) -> None:
    folder, worker = os.environ.get(XDIST_UNITS), getattr(config, "workerinput", {}).get("workerid")
    if folder and worker:
        import json

        path = Path(folder) / f"{worker}.json"
        path.with_suffix(".part").write_text(json.dumps([i.nodeid for i in items if shares_run_store(i)]))
        path.with_suffix(".part").replace(path)


def unit_of_work(nodeid: str, sharing: set[str]) -> str:
    """The unit of work of a test under pytest-xdist: one for all tests that share the run store, else its own."""
    return "run store" if nodeid in sharing else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") not in ("load", "loadgroup"):
        return None  # a distribution asked for by name is left as it is
    from xdist.scheduler import LoadScopeScheduling

    class RunStoreScheduling(LoadScopeScheduling):
        """Load scheduling with one unit for the tests that share the run store."""

        def _split_scope(self, nodeid: str) -> str:
            if not hasattr(self, "_sharing"):
                import json

                written = sorted(Path(os.environ[XDIST_UNITS]).glob("*.json"))
                self._sharing = set(json.loads(written[0].read_text())) if written else set()
            return unit_of_work(nodeid, self._sharing)

    return RunStoreScheduling(config, log)


class FastTierViolation(RuntimeError):
    """Something only the slow tier may do was attempted in the fast tier."""


@pytest.fixture(scope="session", autouse=True)
def fast_tier_guard(request, tmp_path_factory):
    """In the fast tier: no virtual environment is built and no chapter is executed twice with the same inputs
    and parameters (the one quick book is shared, not rebuilt)."""
    if request.config.getoption("--tier") != "fast":
        yield
        return
    import subprocess
    import venv

    import fresh_install

    from lmalign.book import executor

    patch = pytest.MonkeyPatch()

    def no_venv(*args, **kwargs):
        raise FastTierViolation("the fast tier builds no virtual environment: use a slow fixture")

    # One mark per chapter run, in a folder all pytest-xdist workers of the session share: a chapter executed
    # twice with the same inputs is caught across workers too.
    units = os.environ.get(XDIST_UNITS)
    seen = Path(units) / "executed" if units else tmp_path_factory.mktemp("executed")
    seen.mkdir(exist_ok=True)
    execute_into = executor.execute_into

    def execute_once(root, chapter, parameters, target, *args, **kwargs):
        digest, stem = executor.content_hash(root, chapter, parameters), Path(chapter).stem
        try:
            (seen / f"{stem}-{digest}").touch(exist_ok=False)
        except FileExistsError:
            raise FastTierViolation(
                f"the fast tier executes chapter {stem} twice with the same inputs: "
                "share the quick_book fixture, or use a slow fixture"
            ) from None
        return execute_into(root, chapter, parameters, target, *args, **kwargs)

    popen_init = subprocess.Popen.__init__

    def no_venv_process(self, args, *rest, **kwargs):
        words = [str(a) for a in args] if isinstance(args, list | tuple) else str(args).split()
        if any(a == "-m" and b == "venv" for a, b in zip(words, words[1:], strict=False)):
            no_venv()
        popen_init(self, args, *rest, **kwargs)

    patch.setattr(venv.EnvBuilder, "create", no_venv)
    patch.setattr(fresh_install, "fresh_venv", no_venv)
    patch.setattr(subprocess.Popen, "__init__", no_venv_process)
    patch.setattr(executor, "execute_into", execute_once)
    try:
        yield
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def run_store(tmp_path_factory):
    """One store of chapter runs for the whole test session (``LMALIGN_RUN_STORE``): a build folder of a test
    installs a run another test already made instead of executing the chapter again."""
    store = tmp_path_factory.mktemp("run-store")
    previous = os.environ.get("LMALIGN_RUN_STORE")
    os.environ["LMALIGN_RUN_STORE"] = str(store)
    yield store
    if previous is None:
        os.environ.pop("LMALIGN_RUN_STORE", None)
    else:
        os.environ["LMALIGN_RUN_STORE"] = previous


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory, run_store):
    """The whole book built once from a clean folder, every chapter with quick parameters."""
    from lmalign.book import build

    return build.build(root=ROOT, build_dir=tmp_path_factory.mktemp("book"), quick=True, clean=True)


@pytest.fixture(scope="session")
def published_book(request):
    """The whole book as it is published, for the checks that go through every page or print the whole PDF: the
    build ``LMALIGN_REFERENCE_BUILD`` names (CI points it at its ``make book-clean`` and ``make pdf``, so nothing
    is built again), or else the quick book."""
    from lmalign.book import build

    given = os.environ.get("LMALIGN_REFERENCE_BUILD")
    if not given:
        return request.getfixturevalue("quick_book")
    layout = build.BuildLayout(root=ROOT, build_dir=Path(given).resolve())
    if not (layout.html / "index.html").is_file():
        pytest.fail(f"LMALIGN_REFERENCE_BUILD={given}: no built book there")
    return layout


def scratch_root(tmp_path: Path, chapters: dict[str, str]) -> Path:
    """A scratch copy of the repository's library and data under ``tmp_path``, with the chapters ``{stem: text}``
    written by the caller; returns its root."""
    import shutil

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name, text in chapters.items():
        (root / "notebooks" / f"{name}.md").write_text(text)
    return root


def install_passing_run(root: Path, build_dir: Path, parameters: dict, chapter: str = "00_pipeline"):
    """Passing results of ``chapter`` (one check of C0) installed as a build installs a run: a record with the
    digest of its inputs under ``root`` with ``parameters``, linked from ``build_dir/outputs``. Returns the
    build's layout."""
    from lmalign.book import build, claims, executor

    layout = build.BuildLayout(root=root, build_dir=build_dir)
    digest = build.content_hash(root, root / "notebooks" / f"{chapter}.md", parameters)
    folder = layout.runs / chapter / digest
    claims.ClaimRecorder(chapter, folder / "outputs").record("C0", 0.0, detail="ok")
    (folder / f"{chapter}.ipynb").write_text("{}")
    executor.write_record(folder, chapter, digest, parameters, 1.0)
    build.install(layout, executor.load_run(folder))
    return layout


@pytest.fixture
def scratch_build(tmp_path, monkeypatch):
    """:func:`scratch_root` for building the chapters a test writes: ``scratch_build({"00_pipeline": text})``
    returns the copy's root. No shared store: every build executes what it must."""
    monkeypatch.delenv("LMALIGN_RUN_STORE", raising=False)
    return lambda chapters: scratch_root(tmp_path, chapters)


@pytest.fixture
def new_venv(tmp_path):
    """A copy of the repository, a home folder and a new, empty virtual environment
    (:func:`fresh_install.fresh_venv`)."""
    import fresh_install

    return fresh_install.fresh_venv(tmp_path)


@pytest.fixture
def repo_commands():
    """``run(command)``: a shell command run from the repository root as a reader types it, the venv's Python
    first on ``PATH``; files it creates in the root are removed afterwards. Returns the completed process."""
    import subprocess

    def run(command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        before = set(ROOT.iterdir())
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        try:
            return subprocess.run(
                command,
                shell=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=timeout,
                executable="/bin/bash",
                env=env,
            )
        finally:
            for new in set(ROOT.iterdir()) - before:
                subprocess.run(["rm", "-rf", str(new)], check=False)

    return run


@pytest.fixture
def lmalign_command():
    """``run(*args, cwd=..., env=None)``: ``python -m lmalign ARGS`` in a subprocess, for the verbs that execute
    chapters (``rerun``, ``sweep``); returns the completed process."""
    import subprocess

    def run(*args: str, cwd: Path, env: dict | None = None, timeout: float = 1800):
        return subprocess.run(
            [sys.executable, "-m", "lmalign", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
        )

    return run


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium with networking off (skips the test when Debian's chromium is not installed)."""
    from lmalign.book.browser import available, offline_chromium

    if not available():
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    driver = offline_chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()
