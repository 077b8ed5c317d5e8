"""The built book in a real browser with no network: math typeset, theorems numbered, links resolve, images load.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them; elsewhere:
``apt-get install chromium chromium-driver``). Networking is off for the browser: every host name resolves to
nothing and every proxied request goes to a closed local port, so only files inside the built book can load.
"""

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

if not (CHROMIUM and DRIVER):
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

TYPESET = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done(-1); return; }
MathJax.startup.promise.then(() => done(document.querySelectorAll('mjx-container').length), () => done(-2));
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _local_target(base: Path, href: str) -> tuple[Path, str]:
    url = urlparse(href)
    return Path(unquote(url.path)), url.fragment


@pytest.mark.parametrize("page", [f"notebooks/{c}.html" for c in CHAPTERS] + ["book/intro.html"])
def test_page_renders_offline(browser, quick_book, page):
    path = quick_book.html / page
    browser.get(path.as_uri())
    typeset = browser.execute_async_script(TYPESET)
    assert typeset > 0, f"{page}: MathJax did not typeset (returned {typeset})"
    scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(s => s)")
    assert not [s for s in scripts if s.startswith("http")], "a script would need the network"
    images = browser.execute_script(
        "return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])")
    assert all(ok for _, ok in images), f"{page}: images failed to load: {[s for s, ok in images if not ok]}"
    links = browser.execute_script(
        "return [...document.querySelectorAll('a.reference.internal')].map(a => a.href)")
    for href in links:
        target, fragment = _local_target(path, href)
        assert target.is_file(), f"{page}: broken link {href}"
        if fragment:
            assert f'id="{fragment}"' in target.read_text(encoding="utf-8"), f"{page}: missing anchor {href}"
    if page.startswith("notebooks/"):
        assert images, f"{page}: no figure"
        titles = browser.execute_script(
            "return [...document.querySelectorAll('.admonition-title')].map(t => t.textContent)")
        numbered = [t for t in titles if re.match(r"\s*(Theorem|Lemma|Definition|Proposition|Corollary) \d+", t)]
        assert numbered, f"{page}: no numbered result in {titles[:5]}"
