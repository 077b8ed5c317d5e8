import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# The same examples on every run (reproducible CI); no per-example deadline on a shared 2-core machine.
settings.register_profile("lmalign", derandomize=True, deadline=None, max_examples=100)
settings.load_profile("lmalign")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """The whole book built once from a clean folder, every chapter with quick parameters."""
    from lmalign.book import build

    return build.build(root=ROOT, build_dir=tmp_path_factory.mktemp("book"), quick=True, clean=True)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium with networking off (skips the test when Debian's chromium is not installed)."""
    from lmalign.book.browser import available, offline_chromium

    if not available():
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    driver = offline_chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()
