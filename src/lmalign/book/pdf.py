"""The whole book as one PDF: every page of the built HTML book, in the order of the table of contents, typeset by
MathJax in headless Chromium and printed by it with a print style sheet (code wraps instead of being cut, the
navigation is left out); poppler's ``pdfunite`` joins the pages.

``make pdf`` (after ``make book``) writes ``_build/pdf/book.pdf`` and a copy ``_build/html/book.pdf``, which the
execution status page links. Chromium prints exactly what a reader sees in
the browser, math, numbered results and figures included, with no LaTeX toolchain; the Sphinx LaTeX builder
would need one and could not render the notebooks' SVG figures and HTML outputs as the web book does.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

from lmalign._atomic import atomic_write_bytes
from lmalign.book import paths
from lmalign.book.browser import TYPESET, available, offline_chromium, raw_tex

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
pre, .highlight pre, code { white-space: pre-wrap !important; word-break: break-word !important; }
.bd-sidebar-primary, .bd-sidebar-secondary, .bd-header, .header-article, .bd-footer, .prev-next-area,
.bd-header-article, .bd-footer-content, .headerlink, .toggle-secondary-sidebar, .search-button,
#pst-back-to-top { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
figure, img, svg, .math, mjx-container[display="true"] { break-inside: avoid; }
html, body, .bd-container, .bd-container__inner, .bd-main, .bd-page-width, .bd-article-container {
  height: auto !important; min-height: 0 !important; }
"""


class PdfError(RuntimeError):
    """The PDF could not be made; the message says why."""


def toc_pages(root: Path) -> list[str]:
    """The book's pages in reading order: the root, then every ``file:`` of ``_toc.yml``."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def print_pages(html: Path, pages: list[str], out: Path) -> Path:
    """Print each page ``html/<page>.html`` with headless Chromium (networking off; MathJax typeset first,
    :data:`PRINT_CSS` applied) and join them into ``out`` (written atomically)."""
    unite = shutil.which("pdfunite")
    if not (available() and unite):
        raise PdfError("make pdf needs Debian's chromium, chromium-driver and poppler-utils "
                       "(apt-get install chromium chromium-driver poppler-utils)")
    from selenium.webdriver.common.print_page_options import PrintOptions

    work = out.parent / ".pages"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    driver = offline_chromium(script_timeout=120.0)
    parts = []
    try:
        for i, page in enumerate(pages):
            path = html / f"{page}.html"
            if not path.is_file():
                raise PdfError(f"{path} is missing; run `make book` first")
            driver.get(path.resolve().as_uri())
            if driver.execute_async_script(TYPESET) < 0:
                raise PdfError(f"MathJax failed on {path}")
            leftover = raw_tex(driver)
            if leftover:
                raise PdfError(f"{page}: raw TeX on the page, which the PDF would print: {leftover[:3]}")
            driver.execute_script("const s = document.createElement('style'); s.textContent = arguments[0];"
                                  "document.head.appendChild(s);", PRINT_CSS)
            options = PrintOptions()
            options.background = True
            part = work / f"{i:03d}.pdf"
            part.write_bytes(base64.b64decode(driver.print_page(options)))
            parts.append(part)
    finally:
        driver.quit()
    joined = work / "book.pdf"
    proc = subprocess.run([unite, *map(str, parts), str(joined)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise PdfError(f"pdfunite failed: {proc.stderr.strip()}")
    atomic_write_bytes(out, joined.read_bytes())
    shutil.rmtree(work, ignore_errors=True)
    return out


def make_pdf(build_dir: Path | None = None) -> Path:
    """``<build>/pdf/book.pdf`` from the HTML book of the last ``make book``."""
    build_dir = Path(build_dir) if build_dir else paths.repo_root() / "_build"
    site = build_dir / "site"
    if not (site / "_toc.yml").is_file() or not (build_dir / "html" / "index.html").is_file():
        raise PdfError(f"no built book under {build_dir}; run `make book` first")
    out = print_pages(build_dir / "html", toc_pages(site), build_dir / "pdf" / "book.pdf")
    atomic_write_bytes(build_dir / "html" / "book.pdf", out.read_bytes())  # the web book links it
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        out = make_pdf()
    except PdfError as err:
        print(f"make pdf: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
