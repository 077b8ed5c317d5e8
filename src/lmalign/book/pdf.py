"""The whole book as one A4 PDF to print and share: a title page, the contents with page numbers, every page of the
built HTML book in the order of the table of contents, running page numbers, bookmarks by part and chapter, and
links that resolve inside the PDF.

Route. Headless Chromium prints one HTML document made of the built pages, through the DevTools command
``Page.printToPDF`` (A4, a page-number footer, the document outline as bookmarks). It prints what a reader sees in
the browser (MathJax's math, numbered results, the SVG figures and HTML outputs) and needs only Debian's
``chromium``, ``chromium-driver`` and ``poppler-utils``, which the browser tests use already. Sphinx's LaTeX
builder was the other route: it needs a TeX Live installation of several hundred megabytes in CI, and MyST-NB's
LaTeX output neither folds ``hide-input`` cells nor takes the chapters' SVG figures, so every chapter would also
have to write PDF figures and the Bokeh explorer a static stand-in.

How:

1. :func:`combined_html` reads each page's article (BeautifulSoup), drops what the web folds (``hide-input``
   sources, ``hide-output`` outputs) and the navigation, prefixes every ``id`` with the page's key so that ids stay
   unique, and points each link to another page of the book at the matching anchor of the one document; a link to
   a local file that is not a page (a download, a figure's provenance) keeps its text and loses its target, so no
   ``file://`` link reaches the PDF. Headings move one level down under the parts' ``h1``, which gives the
   bookmarks their order: part, chapter, section. A page of :data:`WEB_ONLY` (the API reference) prints as its
   title and a pointer to the web book.
2. :func:`print_book` loads it in Chromium, lets MathJax typeset it, waits until the fonts and images in use have
   loaded (before measuring and before each print, so that two builds lay out the same; text is laid out with
   unhinted glyph metrics for the same reason), checks that no raw TeX is left and that
   nothing is wider than the page (:func:`lmalign.book.browser.overflow`; a display equation wider than the text
   width is scaled down to fit first), and prints it. The contents' page numbers come from a second print: the
   first one's named destinations (poppler's ``pdfinfo -dests``) give the page of each chapter's anchor.
3. Chromium writes the bookmark of a heading that a page break pushed to the top of the next page with each of its
   text pieces twice ("3.6. 3.6. ExercisesExercises"); :func:`clean_outline` writes those titles once (pypdf).
4. :func:`fixed_dates` replaces the creation and modification dates by ``SOURCE_DATE_EPOCH`` (1970 when unset)
   and no build path is printed, so two runs on the same build give the same bytes.
"""

from __future__ import annotations

import base64
import html as htmllib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from lmalign._atomic import atomic_write_bytes
from lmalign.book import paths
from lmalign.book.browser import SETTLE, TYPESET, available, offline_chromium, overflow, raw_tex

A4_MM = (210, 297)
MARGIN_MM = {"top": 14, "bottom": 16, "left": 15, "right": 15}
FOLDED = "details.above-input, details.below-input, details.hide"  # MyST-NB's folded sources and outputs
DROPPED = (
    "a.headerlink, .toggle-secondary-sidebar, .copybtn, button, script, noscript, "
    "div.tag_remove-input > .cell_input, div.tag_remove-output > .cell_output"
)

PRINT_CSS = """
@page { size: A4; margin: 0; }
html { font-size: 12px; }
/* the theme's print sheet hides each first h1 (its page title) and indents the content: not in one document */
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
.bd-main .bd-content { margin-left: 0 !important; }
.bd-main .bd-content table { break-inside: auto; }
article.bd-article { padding: 0 !important; }
article.bd-article p, article.bd-article li { margin-bottom: .45rem; }
article.bd-article h2 { font-size: 1.9rem; margin: 0 0 .8rem; }
article.bd-article h3 { font-size: 1.35rem; margin: 1rem 0 .5rem; }
article.bd-article h4 { font-size: 1.15rem; margin: .8rem 0 .4rem; }
div.cell { margin: .35rem 0; }
div.highlight pre, div.cell_output pre { padding: .4rem .6rem; margin: 0; }
div.admonition, div.proof { margin: .6rem 0; }
body { margin: 0; background: white; }
.print-page, .print-contents { break-before: page; }
.print-title { height: 250mm; display: flex; flex-direction: column; justify-content: center; text-align: center; }
.print-title .book-title { font-size: 2.2rem; font-weight: 600; margin-bottom: 2rem; }
.print-title p { font-size: 1.1rem; }
h1.print-part { font-size: 1.6rem; border-bottom: 1px solid #999; padding-bottom: .3rem; margin-bottom: 1.5rem; }
.print-contents ol { list-style: none; padding-left: 0; }
.print-contents li.part { font-weight: 600; margin-top: .8rem; }
.print-contents li.chapter { display: flex; padding-left: 1.2rem; }
.print-contents li.chapter a { flex: 1; color: inherit; text-decoration: none; }
.print-contents li.chapter a::after { content: ""; }
.print-contents .page-number { min-width: 3em; text-align: right; font-variant-numeric: tabular-nums; }
pre, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; font-size: 0.78rem;
  overflow: visible !important; }
table { max-width: 100%; }
td, th { overflow-wrap: anywhere; }
figure, img, svg, div.math, mjx-container[display="true"], tr { break-inside: avoid; }
h1, h2, h3, h4, h5, h6 { break-after: avoid; break-inside: avoid; }
img { max-width: 100%; height: auto; }
a { color: #1a5fb4; }
"""

# Text laid out with unhinted glyph metrics: the same positions whatever the machine's font hinting (two builds
# of the same sources must print the same bytes).
PRINT_ARGS = ("--font-render-hinting=none",)

# MathJax cannot break a display equation across lines: one wider than the text width is scaled down to fit (the
# web book keeps its reading size; see book/_static/reading.css).
FIT_EQUATIONS = """
let scaled = 0;
for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
  const box = c.parentElement.getBoundingClientRect().width, wide = c.scrollWidth;
  if (wide > box + 1) { c.style.fontSize = (100 * box / wide).toFixed(1) + '%'; scaled += 1; }
}
return scaled;
"""


# Pages the PDF gives as a pointer to the web book: the API reference (every public function's docstring, about
# ninety printed pages) is looked up, not read through, and would take the PDF past 200 pages.
WEB_ONLY = {
    "book/api": (
        "The API reference, every public function of the library with its formula, parameters and examples, is "
        "part of the web book (book/api.html beside the chapters); in Python, help(lmalign.best_of_n) and its "
        "siblings print the same text."
    ),
}


class PdfError(RuntimeError):
    """The PDF could not be made; the message says why."""


@dataclass(frozen=True)
class Part:
    """A part of the book: its caption (``None`` for the pages before the first part) and its pages."""

    caption: str | None
    pages: tuple[str, ...]


def toc_parts(root: Path) -> list[Part]:
    """The book's parts in reading order, from ``_toc.yml``: the root page first (no caption), then every part
    with its ``file:`` entries."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    parts = [Part(None, (toc["root"],))]
    for part in toc.get("parts", []):
        parts.append(Part(part.get("caption"), tuple(entry["file"] for entry in part.get("chapters", []))))
    return parts


def toc_pages(root: Path) -> list[str]:
    """The book's pages in reading order: the root, then every ``file:`` of ``_toc.yml``."""
    return [page for part in toc_parts(root) for page in part.pages]


def page_key(page: str) -> str:
    """The anchor of a page in the one document: ``notebooks/05_x`` -> ``notebooks-05_x``."""
    return page.replace("/", "-")


def _head(soup, base: str) -> str:
    """The style sheets and MathJax scripts of a built page's head, with their addresses made absolute."""
    out = []
    for el in soup.head.find_all(["link", "style", "script"]):
        if el.name == "link" and "stylesheet" in (el.get("rel") or []):
            el["href"] = urljoin(base, el["href"])
        elif el.name == "script" and ("mathjax" in (el.get("src") or "").lower() or "MathJax" in (el.string or "")):
            if el.get("src"):
                el["src"] = urljoin(base, el["src"])
        elif el.name != "style":
            continue
        out.append(str(el))
    return "\n".join(out)


def _article(soup, page: str, page_uri: str, html_uri: str, keys: dict[str, str]):
    """The page's article, ready for the one document (see the module's docstring, step 1)."""
    article = soup.select_one("article.bd-article") or soup.body
    key = keys[page]
    for el in article.select(f"{FOLDED}, {DROPPED}"):
        el.decompose()
    for el in article.select("[data-root-id]"):  # a Bokeh document: its scripts do not print
        note = soup.new_tag("p")
        note.string = "(The interactive explorer runs in the web book; the figure below shows its default setting.)"
        el.replace_with(note)
    for level in range(6, 0, -1):  # one level down: the parts are the h1 of the document
        for h in article.find_all(f"h{level}"):
            h.name = f"h{min(level + 1, 6)}"
    for el in article.find_all(id=True):
        el["id"] = f"{key}--{el['id']}"
    for img in article.find_all(["img", "source"], src=True):
        img["src"] = urljoin(page_uri, img["src"])
    for a in article.find_all("a", href=True):
        target = urljoin(page_uri, a["href"])
        url = urlparse(target)
        if url.scheme in ("http", "https", "mailto"):
            continue
        rel = unquote(url.path)[len(unquote(urlparse(html_uri).path)) :].lstrip("/")
        other = keys.get(rel.removesuffix(".html")) if target.startswith(html_uri) else None
        if other is None:
            a.unwrap()  # a local file that is not a page of the book: the text stays, no file:// link
        else:
            a["href"] = f"#{other}--{url.fragment}" if url.fragment else f"#{other}"
    return article


def _title(soup) -> str:
    h1 = soup.select_one("article.bd-article h1") or soup.find("h1")
    text = h1.get_text(" ", strip=True) if h1 else (soup.title.string or "")
    return re.sub(r"\s*[#¶]$", "", text).strip()


def combined_html(html: Path, parts: list[Part], title: str, author: str) -> str:
    """One HTML document of the whole book: title page, contents (the page numbers blank, three figure spaces
    wide, until :data:`SET_PAGE_NUMBERS` fills them in), then every page, a part's title over its first page
    (module docstring, step 1)."""
    from bs4 import BeautifulSoup

    html = Path(html).resolve()
    html_uri = html.as_uri() + "/"
    keys = {page: page_key(page) for part in parts for page in part.pages}
    head, body, contents = "", [], []
    for i, part in enumerate(parts):
        heading = ""
        if part.caption:
            heading = f'<h1 class="print-part" id="part-{i}">{htmllib.escape(part.caption)}</h1>'
            contents.append(f'<li class="part">{htmllib.escape(part.caption)}</li>')
        for page in part.pages:
            path = html / f"{page}.html"
            if not path.is_file():
                raise PdfError(f"{path} is missing; run `make book` first")
            soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
            if not head:
                head = _head(soup, path.as_uri())
            name = _title(soup)
            if page in WEB_ONLY:
                inner = f"<h2>{htmllib.escape(name)}</h2><p>{htmllib.escape(WEB_ONLY[page])}</p>"
            else:
                inner = _article(soup, page, path.as_uri(), html_uri, keys).decode_contents()
            body.append(f'<section class="print-page" id="{keys[page]}">{heading}{inner}</section>')
            heading = ""  # the part's title heads its first page
            contents.append(
                f'<li class="chapter"><a href="#{keys[page]}">{htmllib.escape(name)}</a>'
                f'<span class="page-number" data-key="{keys[page]}">&#8199;&#8199;&#8199;</span></li>'
            )
    front = (
        f'<section class="print-title"><div class="book-title">{htmllib.escape(title)}</div>'
        f"<p>{htmllib.escape(author)}</p></section>"
        f'<section class="print-contents" id="book-contents"><h1>Contents</h1><ol>{"".join(contents)}</ol>'
        "</section>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en" data-theme="light"><head><meta charset="utf-8">'
        f"<title>{htmllib.escape(title)}</title>\n{head}\n<style>{PRINT_CSS}</style></head>\n"
        f'<body><main class="bd-main"><div class="bd-content"><article class="bd-article">'
        f"{front}{''.join(body)}</article></div></main></body></html>\n"
    )


def fixed_dates(pdf: bytes, epoch: int | None = None) -> bytes:
    """``pdf`` with its creation and modification dates set to ``epoch`` (``SOURCE_DATE_EPOCH``, 0 when unset),
    written in the same number of bytes so that the cross-reference offsets stay valid."""
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = time.strftime("D:%Y%m%d%H%M%S", time.gmtime(epoch)).encode()

    def fix(m: re.Match) -> bytes:
        old = m.group(2)
        new = stamp + b"+00'00'"
        return m.group(1) + (new + b" " * (len(old) - len(new)) if len(new) <= len(old) else stamp[: len(old)]) + b")"

    return re.sub(rb"(/(?:CreationDate|ModDate) \()([^)]*)\)", fix, pdf)


def undoubled(title: str) -> str | None:
    """``title`` with each of its pieces once, when it is made of pieces each written twice (``a a b b ...``);
    ``None`` when it is not.

    Examples
    --------
    >>> undoubled("3.6. 3.6. ExercisesExercises")
    '3.6. Exercises'
    >>> undoubled("Summary") is None
    True
    """

    from functools import cache

    @cache  # one answer per suffix: at most len(title) calls, each trying len(title) / 2 pieces
    def split(start: int) -> str | None:
        if start == len(title):
            return ""
        for k in range(1, (len(title) - start) // 2 + 1):
            piece = title[start : start + k]
            if title.startswith(piece, start + k) and (tail := split(start + 2 * k)) is not None:
                return piece + tail
        return None

    return split(0) if title else None


def clean_outline(pdf: bytes) -> bytes:
    """``pdf`` with every bookmark title that :func:`undoubled` recognises written once (see the module's
    docstring, step 3); the pages, links and named destinations are copied as they are."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    outlines = writer.root_object.get("/Outlines")
    stack = [outlines.get_object()] if outlines is not None else []
    while stack:  # every bookmark once: a tree walked through /First and /Next
        item = stack.pop().get("/First")
        while item is not None:
            node = item.get_object()
            once = undoubled(str(node.get("/Title", "")))
            if once:
                node[NameObject("/Title")] = TextStringObject(once)
            stack.append(node)
            item = node.get("/Next")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def destinations(pdf: Path) -> dict[str, int]:
    """The named destinations of ``pdf`` and their page numbers (poppler's ``pdfinfo -dests``)."""
    out = subprocess.run(
        ["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    return {m.group(2): int(m.group(1)) for m in re.finditer(r'^\s*(\d+)\s+\[.*?\]\s+"(.*)"$', out, re.MULTILINE)}


SET_PAGE_NUMBERS = """
const numbers = arguments[0];
for (const span of document.querySelectorAll('.print-contents .page-number')) {
  const n = numbers[span.dataset.key];
  if (n !== undefined) span.textContent = String(n).padStart(3, '\u2007');
}
"""


def _load(driver, document: Path) -> None:
    """Load the combined document, let MathJax typeset it, and check it (module docstring, step 2)."""
    driver.get(document.as_uri())
    if driver.execute_async_script(TYPESET) < 0:
        raise PdfError("MathJax failed on the combined document")
    leftover = raw_tex(driver)
    if leftover:
        raise PdfError(f"raw TeX in the book, which the PDF would print: {leftover[:3]}")
    width_px = round((A4_MM[0] - MARGIN_MM["left"] - MARGIN_MM["right"]) / 25.4 * 96)
    driver.execute_async_script(SETTLE)
    driver.set_window_size(width_px, 1000)
    driver.execute_async_script(SETTLE)
    driver.execute_script(FIT_EQUATIONS)
    cut = overflow(driver, width_px)
    if cut:
        raise PdfError(f"{len(cut)} boxes wider than the page, which the PDF would cut: {cut[:3]}")


def _print(driver) -> bytes:
    driver.execute_async_script(SETTLE)
    footer = (
        '<div style="width:100%;font-size:9px;text-align:center;color:#555;"><span class="pageNumber"></span></div>'
    )
    result = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "paperWidth": A4_MM[0] / 25.4,
            "paperHeight": A4_MM[1] / 25.4,
            **{f"margin{side.title()}": mm / 25.4 for side, mm in MARGIN_MM.items()},
            "printBackground": True,
            "displayHeaderFooter": True,
            "headerTemplate": "<div></div>",
            "footerTemplate": footer,
            "generateDocumentOutline": True,
        },
    )
    return base64.b64decode(result["data"])


def print_book(html: Path, parts: list[Part], out: Path, title: str, author: str) -> Path:
    """Print the book (module docstring, steps 2 and 3) to ``out``, written atomically."""
    if not (available() and shutil.which("pdfinfo")):
        raise PdfError(
            "make pdf needs Debian's chromium, chromium-driver and poppler-utils "
            "(apt-get install chromium chromium-driver poppler-utils)"
        )
    work = out.parent / ".print"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    document, first = work / "book.html", work / "first.pdf"
    document.write_text(combined_html(html, parts, title, author), encoding="utf-8")
    driver = offline_chromium(script_timeout=900.0, extra_args=PRINT_ARGS)
    try:
        _load(driver, document)
        first.write_bytes(_print(driver))
        dests = destinations(first)
        numbers = {key: dests[key] for part in parts for key in map(page_key, part.pages) if key in dests}
        driver.execute_script(SET_PAGE_NUMBERS, numbers)
        pdf = _print(driver)
    finally:
        driver.quit()
    final = work / "book.pdf"
    final.write_bytes(pdf)
    moved = {k: v for k, v in destinations(final).items() if k in numbers and numbers[k] != v}
    if moved:
        raise PdfError(f"the contents' page numbers moved in the second print: {moved}")
    atomic_write_bytes(out, fixed_dates(clean_outline(pdf)))
    shutil.rmtree(work, ignore_errors=True)
    return out


def make_pdf(build_dir: Path | None = None) -> Path:
    """``<build>/pdf/book.pdf`` from the HTML book of the last ``make book``."""
    import yaml

    build_dir = Path(build_dir) if build_dir else paths.repo_root() / "_build"
    site = build_dir / "site"
    if not (site / "_toc.yml").is_file() or not (build_dir / "html" / "index.html").is_file():
        raise PdfError(f"no built book under {build_dir}; run `make book` first")
    config = yaml.safe_load((site / "_config.yml").read_text(encoding="utf-8"))
    out = print_book(
        build_dir / "html",
        toc_parts(site),
        build_dir / "pdf" / "book.pdf",
        config.get("title", "Book"),
        config.get("author", ""),
    )
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
