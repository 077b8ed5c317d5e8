"""Headless Chromium with networking off, for printing the book and for the browser tests: every host name
resolves to nothing and every proxied request goes to a closed local port, so only local files can load."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
        "--allow-file-access-from-files")


def available() -> bool:
    """Whether Debian's ``chromium`` and ``chromedriver`` are on the PATH."""
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def offline_chromium(profile: str | Path | None = None, script_timeout: float = 60.0):
    """A selenium driver for headless Chromium without network (``profile``: its user data folder)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ARGS + ((f"--user-data-dir={profile}",) if profile else ()):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_script_timeout(script_timeout)
    return driver


TYPESET = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done(0); return; }
MathJax.startup.promise.then(() => done(document.querySelectorAll('mjx-container').length), () => done(-2));
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
    return [text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ") for m in RAW_TEX.finditer(text)]
