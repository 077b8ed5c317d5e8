"""Headless Chromium with networking off, for printing the book and for the browser tests: every host name
resolves to nothing and every proxied request goes to a closed local port, so only local files can load."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--allow-file-access-from-files",
)


def available() -> bool:
    """Whether Debian's ``chromium`` and ``chromedriver`` are on the PATH."""
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def offline_chromium(profile: str | Path | None = None, script_timeout: float = 60.0, extra_args: tuple[str, ...] = ()):
    """A selenium driver for headless Chromium without network (``profile``: its user data folder;
    ``extra_args``: further command-line switches)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    opts = Options()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ARGS + extra_args + ((f"--user-data-dir={profile}",) if profile else ()):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_script_timeout(script_timeout)
    # the driver turns an address given as text into a connection when it starts: here it always is one
    assert isinstance(driver.command_executor, RemoteConnection)
    # a command (printing the whole book) may take as long as a script: wait for its answer that long
    driver.command_executor.client_config.timeout = max(120.0, script_timeout + 60.0)
    return driver


TYPESET = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done(0); return; }
MathJax.startup.promise.then(() => done(document.querySelectorAll('mjx-container').length), () => done(-2));
"""
# Wait until the layout is final: every web font in use and every image loaded, then two frames drawn.
SETTLE = """
const done = arguments[arguments.length - 1];
void document.body.offsetHeight;
Promise.all([document.fonts.ready, ...Array.from(document.images, (img) => img.decode().catch(() => null))])
  .then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));
"""
VISIBLE_TEXT = """
const clone = document.body.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, noscript, svg, textarea, mjx-container, mjx-assistive-mml, '
                       + '.cell_output, .output, .highlight, .MathJax').forEach(e => e.remove());
return document.title + '\\n' + clone.textContent;
"""
RAW_TEX = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|\\[A-Za-z]+")


def raw_tex(driver) -> list[str]:
    """TeX a reader would see on the page loaded in ``driver`` once MathJax has run: the title and the text outside
    code, outputs and typeset math, searched for ``$``, ``\\(``, ``\\[`` and backslash commands (40 characters of
    context each)."""
    driver.execute_async_script(TYPESET)
    text = driver.execute_script(VISIBLE_TEXT)
    return [text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in RAW_TEX.finditer(text)]


# Boxes that must not scroll sideways or stick out of the text column: code and output blocks, display math
# (MathJax's container and Sphinx's wrapper), tables and the theorem/proof and admonition boxes.
OVERFLOW_SELECTORS = {
    "code": "pre",
    "equation": 'mjx-container[display="true"], div.math, .MathJax_Display',
    "table": "table",
    "box": "div.proof, div.admonition, aside.topic",
}
OVERFLOW = """
const kinds = arguments[0];
const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const right = column.getBoundingClientRect().right;
const found = [];
for (const [kind, selector] of Object.entries(kinds)) {
  for (const el of column.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || el.closest('.toggle-hidden, details:not([open])')) continue;
    const scrolls = el.scrollWidth - el.clientWidth;
    const sticks = box.right - right;
    if (scrolls > 1 || sticks > 1) {
      found.push({kind: kind, scrolls: Math.round(scrolls), sticks_out: Math.round(sticks),
                  text: (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60)});
    }
  }
}
return found;
"""


def overflow(driver, width: int, height: int = 1000) -> list[dict]:
    """What a reader would see cut off on the page loaded in ``driver`` at a window ``width`` px wide, once
    MathJax has typeset it: every code block, display equation, table or theorem box of the text column whose
    content is wider than its box (it scrolls sideways, ``scrollWidth > clientWidth``) or whose box reaches past
    the column's right edge; each as ``{kind, scrolls, sticks_out, text}`` (pixels; 1 px of rounding allowed).
    Folded cells are not measured (nothing of them is on the screen)."""
    driver.set_window_size(width, height)
    driver.execute_async_script(TYPESET)
    driver.execute_script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return driver.execute_script(OVERFLOW, OVERFLOW_SELECTORS)
