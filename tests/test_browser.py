"""The built book in a real browser with no network: math typeset, theorems numbered, links resolve, images load.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them; elsewhere:
``apt-get install chromium chromium-driver``). Networking is off for the browser: every host name resolves to
nothing and every proxied request goes to a closed local port, so only files inside the built book can load.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lmalign.book.browser import RAW_TEX, TYPESET, overflow
from lmalign.book.browser import raw_tex as page_raw_tex

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

if not (CHROMIUM and DRIVER):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

WIDTHS = (1280, 1600)  # laptop and desktop windows, px


def _local_target(base: Path, href: str) -> tuple[Path, str]:
    url = urlparse(href)
    return Path(unquote(url.path)), url.fragment


def renders_offline(browser, html: Path, page: str) -> None:
    """The page at ``html/page`` in the offline browser: MathJax typeset it, no script needs the network, every
    image loads, every internal link reaches a file and anchor; a chapter has a figure and a numbered result."""
    path = html / page
    browser.get(path.as_uri())
    typeset = browser.execute_async_script(TYPESET)
    if 'class="math' in path.read_text(encoding="utf-8"):  # a page with math (the exercises' index has none)
        assert typeset > 0, f"{page}: MathJax did not typeset (returned {typeset})"
    scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(s => s)")
    assert not [s for s in scripts if s.startswith("http")], "a script would need the network"
    images = browser.execute_script("return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])")
    assert all(ok for _, ok in images), f"{page}: images failed to load: {[s for s, ok in images if not ok]}"
    links = browser.execute_script("return [...document.querySelectorAll('a.reference.internal')].map(a => a.href)")
    for href in links:
        target, fragment = _local_target(path, href)
        assert target.is_file(), f"{page}: broken link {href}"
        if fragment:
            assert f'id="{fragment}"' in target.read_text(encoding="utf-8"), f"{page}: missing anchor {href}"
    if page.startswith("notebooks/"):
        assert images, f"{page}: no figure"
        titles = browser.execute_script(
            "return [...document.querySelectorAll('.admonition-title')].map(t => t.textContent)"
        )
        numbered = [t for t in titles if re.match(r"\s*(Theorem|Lemma|Definition|Proposition|Corollary) \d+", t)]
        assert numbered, f"{page}: no numbered result in {titles[:5]}"


@pytest.mark.parametrize("page", ["book/intro.html", "notebooks/06_best_of_n.html"])
def test_a_page_renders_offline(browser, quick_book, page):
    renders_offline(browser, quick_book.html, page)


def test_every_page_renders_offline(browser, published_book):
    pages = [f"notebooks/{c}.html" for c in CHAPTERS] + ["book/intro.html", "book/exercises.html"]
    for page in pages:
        renders_offline(browser, published_book.html, page)


def raw_tex(browser, path: Path) -> list[str]:
    """TeX left on the page at ``path`` after MathJax ran (see ``lmalign.book.browser.raw_tex``)."""
    browser.get(path.as_uri())
    return page_raw_tex(browser)


def _pages(html: Path) -> list[str]:
    skip = ("_static", "_sources", "_images", "_downloads")
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if not any(part in skip for part in p.relative_to(html).parts)
    )


def test_no_raw_tex_on_any_page(browser, published_book):
    html = published_book.html
    found = {page: raw for page in _pages(html) if (raw := raw_tex(browser, html / page))}
    assert found == {}


def test_no_raw_tex_in_search_titles(quick_book):
    text = (quick_book.html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    titles = list(index.get("titles", [])) + list(index.get("alltitles", {}))
    assert [t for t in titles if RAW_TEX.search(t)] == []


def test_the_raw_tex_check_fails_on_a_wrongly_wrapped_formula(browser, tmp_path):
    """A page whose inline formula wraps onto a line starting with '- ' (Markdown reads a list item there)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "_config.yml").write_text(
        "title: t\nparse:\n  myst_enable_extensions: [dollarmath]\n"
        "sphinx:\n  extra_extensions: [sphinx-mathjax-offline]\n"
    )
    (site / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (site / "index.md").write_text("# Page\n\nA clean formula $x^2$ and a broken one $a\n- \\frac12$ here.\n")
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(site)], check=True, capture_output=True, timeout=300)
    found = raw_tex(browser, site / "_build" / "html" / "index.html")
    assert any("\\frac" in f for f in found), found


def test_a_chapter_is_not_cut_off_at_a_laptop_width(browser, quick_book):
    """The fast tier's look: one chapter with theorems, code and figures at 1280 px."""
    browser.get((quick_book.html / "notebooks" / "06_best_of_n.html").as_uri())
    assert overflow(browser, WIDTHS[0]) == []


def test_nothing_is_cut_off_at_laptop_widths(browser, published_book):
    """At 1280 and 1600 px windows, on every page once MathJax ran: no code block scrolls sideways, no display
    equation, table or theorem box is wider than its box or the text column."""
    found = {}
    for page in _pages(published_book.html):
        browser.get((published_book.html / page).as_uri())
        for width in WIDTHS:
            if cut := overflow(browser, width):
                found[f"{page} @ {width}px"] = cut[:3] + ([f"... {len(cut) - 3} more"] if len(cut) > 3 else [])
    assert found == {}


PHONE = 390  # px: a phone's window
PAGE_ERRORS = "window.__errors = []; window.addEventListener('error', e => window.__errors.push(String(e.message)));"
LUMINANCE = """
const lum = c => {
  const m = c.match(/[\\d.]+/g).map(Number);
  return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
};
const p = document.querySelector('article.bd-article p') || document.body || document.documentElement;
const back = document.body || document.documentElement;
return [lum(getComputedStyle(p).color), lum(getComputedStyle(back).backgroundColor)];
"""


# An inline formula wider than its box whose box does not scroll: the theme clips span.math to the column.
CUT_INLINE_MATH = """
const cut = [];
for (const span of document.querySelectorAll('span.math')) {
  const math = span.querySelector('mjx-container');
  if (math && math.getBoundingClientRect().width > span.clientWidth + 1
      && ['hidden', 'clip'].includes(getComputedStyle(span).overflowX)) cut.push(span.textContent.slice(0, 60));
}
return cut;
"""


def phone_dark_and_quiet(browser, path: Path) -> list[str]:
    """What goes wrong on the page at ``path`` beyond the laptop widths: a script error while it loads (the theme's
    script included twice logs ``Identifier 'THEBE_JS_URL' has already been declared``), the page scrolling
    sideways in a phone's 390 px window or an inline formula cut off there, text that is not light on dark in
    the dark theme."""
    problems = []
    if not getattr(browser, "_lmalign_errors_recorded", False):  # once per browser: every later page records
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PAGE_ERRORS})
        browser._lmalign_errors_recorded = True
    size = browser.get_window_size()
    browser.set_window_size(PHONE, 900)
    try:
        browser.get(path.as_uri())
        problems += _phone_and_dark(browser)
    finally:
        browser.set_window_size(size["width"], size["height"])
    return problems


def _phone_and_dark(browser) -> list[str]:
    problems = []
    browser.execute_async_script(TYPESET)
    if errors := browser.execute_script("return window.__errors"):
        problems.append(f"script errors: {errors[:3]}")
    wide, window = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if wide > window + 1:
        problems.append(f"scrolls sideways at {PHONE} px: {wide} px wide in a {window} px window")
    if cut := browser.execute_script(CUT_INLINE_MATH):
        problems.append(f"{len(cut)} inline formulas cut off at {PHONE} px, for example {cut[:2]}")
    browser.execute_script("document.documentElement.dataset.theme = 'dark'")
    text, background = browser.execute_script(LUMINANCE)
    if not (text > 0.6 and background < 0.2):
        problems.append(f"dark theme: text luminance {text:.2f} on background {background:.2f}")
    return problems


def test_a_chapter_on_a_phone_in_the_dark_without_script_errors(browser, quick_book):
    """The fast tier's look beyond the laptop: one chapter at 390 px, in the dark theme, with no script error;
    the check fails on a page with a block wider than a phone, a constant declared twice, and a long inline
    formula without the script that lets it scroll (the same formula with the script passes)."""
    assert phone_dark_and_quiet(browser, quick_book.html / "notebooks" / "06_best_of_n.html") == []
    page = (quick_book.html / "book" / "intro.html").read_text(encoding="utf-8")
    text = r"\text{a formula much wider than the text column of a phone}"
    formula = f'<span class="math notranslate nohighlight">\\({text}\\)</span>'
    assert "wide-math.js" in page
    scrolled = quick_book.html / "notebooks" / "wide-formula-probe.html"
    scrolled.write_text(page.replace("<p>", f"<p>{formula} ", 1), encoding="utf-8")
    wide = quick_book.html / "notebooks" / "wide-block-probe.html"
    wide.write_text(
        re.sub(r"<script[^>]*wide-math\.js[^>]*></script>", "", page)
        .replace("<p>", f'<div style="min-width: 600px">a block wider than a phone</div><p>{formula} ', 1)
        .replace("</head>", "<script>const TWICE = 1;</script><script>const TWICE = 2;</script></head>", 1),
        encoding="utf-8",
    )
    try:
        assert phone_dark_and_quiet(browser, scrolled) == []
        problems = phone_dark_and_quiet(browser, wide)
        assert any("sideways" in p for p in problems) and any("TWICE" in p for p in problems), problems
        assert any("inline formulas cut off" in p for p in problems), problems
    finally:
        wide.unlink()
        scrolled.unlink()


def test_every_page_on_a_phone_in_the_dark_without_script_errors(browser, published_book):
    """Every page, the API reference and the general index included."""
    pages = _pages(published_book.html)
    assert len(pages) > 20 and {"genindex.html", "book/api.html"} <= set(pages)
    found = {page: bad for page in pages if (bad := phone_dark_and_quiet(browser, published_book.html / page))}
    assert found == {}


def _tiny_book(tmp_path: Path, body: str) -> Path:
    """A one-page Jupyter Book with math, built with the default theme; the path of its page."""
    site = tmp_path / "site"
    site.mkdir(parents=True)
    (site / "_config.yml").write_text(
        "title: t\nparse:\n  myst_enable_extensions: [dollarmath, amsmath]\n"
        "sphinx:\n  extra_extensions: [sphinx-mathjax-offline]\n"
    )
    (site / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (site / "index.md").write_text(body)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(site)], check=True, capture_output=True, timeout=300)
    return site / "_build" / "html" / "index.html"


def test_the_overflow_check_fails_on_a_wide_line_and_a_wide_equation(browser, tmp_path):
    """The check of :func:`test_nothing_is_cut_off_at_laptop_widths` on a page with one code line of 300
    characters and one display equation of 120 terms (the default theme scrolls both), and on the same page with
    them short."""
    wide_code = "x = [" + ", ".join(["1.0"] * 60) + "]"
    wide_math = " + ".join(f"a_{{{i}}}" for i in range(120))
    page = _tiny_book(tmp_path / "wide", f"# Wide\n\n```python\n{wide_code}\n```\n\n$$\n{wide_math}\n$$\n")
    browser.get(page.as_uri())
    for width in WIDTHS:
        kinds = {f["kind"] for f in overflow(browser, width)}
        assert {"code", "equation"} <= kinds, (width, kinds)
    page = _tiny_book(tmp_path / "narrow", "# Narrow\n\n```python\nx = [1.0, 2.0]\n```\n\n$$\na_1 + a_2\n$$\n")
    browser.get(page.as_uri())
    assert [overflow(browser, width) for width in WIDTHS] == [[], []]


def test_no_inline_script_twice(quick_book):
    """An inline script declared twice stops with ``SyntaxError: Identifier ... has already been declared``."""
    repeated = {}
    for page in _pages(quick_book.html):
        scripts = re.findall(r"<script>(.*?)</script>", (quick_book.html / page).read_text(encoding="utf-8"), re.S)
        if twice := sorted({s[:60] for s in scripts if scripts.count(s) > 1 and "const " in s}):
            repeated[page] = twice
    assert repeated == {}
