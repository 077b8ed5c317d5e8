"""``make pdf``: the whole book as one A4 PDF to print and share, read back with pypdf: a title page, the contents
with the page of each chapter, page numbers on the pages, bookmarks by part and chapter, links that resolve inside
the PDF and none to a ``file://`` path, folded code left out, math typeset, at most :data:`MAX_PAGES` pages, and
fixed dates.

The whole book's PDF is the slow tier's (``published_book``: CI's own ``make pdf``, or printed here from the quick
book); the fast tier prints a PDF of two parts of the quick book through the same route, once."""

import os
import re
import shutil
import time
import unicodedata

import pytest

from lmalign.book import pdf

pytestmark = pytest.mark.browser

if not all(shutil.which(t) for t in ("chromium", "chromedriver", "pdfinfo", "pdftotext")):
    pytest.skip("needs Debian's chromium, chromium-driver and poppler-utils", allow_module_level=True)

pypdf = pytest.importorskip("pypdf")

MAX_PAGES = 200
A4_PT = (595.28, 841.89)


@pytest.fixture(scope="module")
def book_pdf(published_book):
    """The whole book's PDF: the one ``make pdf`` left in the published build when it is newer than the HTML,
    else printed now."""
    out = published_book.build_dir / "pdf" / "book.pdf"
    if not (out.is_file() and out.stat().st_mtime >= (published_book.html / "index.html").stat().st_mtime):
        out = pdf.make_pdf(published_book.build_dir)
    return out, pypdf.PdfReader(out)


@pytest.fixture(scope="module")
def small_pdf(quick_book, tmp_path_factory):
    """The front page and Part I's first chapter of the quick book, printed as the book is."""
    parts = [pdf.Part(None, ("book/intro",)), pdf.Part("Part I", ("notebooks/01_optimal_policy",))]
    out = pdf.print_book(quick_book.html, parts, tmp_path_factory.mktemp("pdf") / "small.pdf", "A small book", "A")
    return out, pypdf.PdfReader(out)


def test_a_small_pdf_prints_a4_with_numbers_bookmarks_and_no_file_links(small_pdf, quick_book):
    path, reader = small_pdf
    assert len(reader.pages) >= 3
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4_PT[0]) < 1 and abs(float(box.height) - A4_PT[1]) < 1
    last = len(reader.pages)
    assert re.search(rf"(?<!\d){last}$", _page_text(reader, last).rstrip())
    outline = [(d, t) for d, t, _ in _outline(reader)]
    part = outline.index((0, "Part I"))  # the part's bookmark, then its chapter's under it
    assert outline[part + 1][0] == 1 and "optimal KL-constrained policy" in outline[part + 1][1], outline
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Theorem 1.1" in text and "Show code cell source" not in text
    raw = path.read_bytes()
    assert b"file:" not in raw and str(quick_book.build_dir).encode() not in raw


def _outline(reader, items=None, depth=0) -> list[tuple[int, str, int]]:
    """``(depth, title, page number)`` of every bookmark, in order."""
    out = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            out += _outline(reader, item, depth + 1)
        else:
            out.append((depth, item.title, reader.get_destination_page_number(item) + 1))
    return out


def _page_text(reader, number: int) -> str:
    """The page's text with ligatures (ﬀ, ﬁ) written out."""
    return unicodedata.normalize("NFKC", reader.pages[number - 1].extract_text())


def test_a4_pages_with_numbers_and_at_most_200(book_pdf):
    _, reader = book_pdf
    assert 10 < len(reader.pages) <= MAX_PAGES
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - A4_PT[0]) < 1 and abs(float(box.height) - A4_PT[1]) < 1
    for number in (3, len(reader.pages) // 2, len(reader.pages)):  # the footer: the page's number, last
        text = _page_text(reader, number).rstrip()
        assert re.search(rf"(?<!\d){number}$", text), (number, text[-60:])


def test_title_page_contents_and_bookmarks(book_pdf, published_book):
    import yaml

    _, reader = book_pdf
    config = yaml.safe_load((published_book.site / "_config.yml").read_text())
    assert config["title"].split(":")[0] in " ".join(_page_text(reader, 1).split())
    outline = _outline(reader)
    parts = [p for p in pdf.toc_parts(published_book.site) if p.caption]
    top = [title for depth, title, _ in outline if depth == 0]
    assert [p.caption for p in parts] == [t for t in top if t in {p.caption for p in parts}]
    doubled = [t for _, t, _ in outline if re.match(r"(\d+(\.\d+)*\. )\1", t) or t[: len(t) // 2] * 2 == t]
    assert doubled == []  # a heading at the top of a page, each piece twice ("3.6. 3.6. ExercisesExercises")
    chapters = {title: page for depth, title, page in outline if depth == 1}
    assert len(chapters) >= len(pdf.toc_pages(published_book.site)) - 1
    contents = next(n for n in range(1, 6) if "Contents" in _page_text(reader, n))
    text = " ".join(_page_text(reader, n) for n in range(contents, contents + 3))
    for title, page in list(chapters.items())[:25]:  # the contents give each chapter's page as the bookmark
        words = re.escape(" ".join(unicodedata.normalize("NFKC", title).split()[:3]))
        found = re.search(words + r".*?(\d+)", " ".join(text.split()))
        assert found and int(found.group(1)) == page, (title, page, found and found.group(0))


def test_links_stay_inside_the_pdf(book_pdf, published_book):
    _, reader = book_pdf
    names = {str(k).lstrip("/") for k in reader.named_destinations}
    internal = external = 0
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") != "/Link":
                continue
            action = a.get("/A")
            uri = action.get_object().get("/URI") if action is not None else None
            if uri is not None:
                assert not str(uri).startswith("file:"), uri
                external += 1
            else:
                dest = a.get("/Dest")
                assert dest is not None, a
                if not isinstance(dest, list):  # a named destination: it must exist
                    assert str(dest).lstrip("/") in names, dest
                internal += 1
    assert internal > 100 and external >= 1
    raw = book_pdf[0].read_bytes()
    assert b"file:" not in raw and str(published_book.build_dir).encode() not in raw


def test_math_typeset_results_numbered_folded_code_left_out(book_pdf, published_book):
    _, reader = book_pdf
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert not re.findall(r"\\\(|\\\)|\\\[|\\\]", text)[:5]
    assert re.search(r"Theorem \d+", text) and re.search(r"Fig\. \d+", text)
    assert "Reproduction report" in text and "API reference" in text and "part of the web book" in text
    assert "Show code cell source" not in text
    assert (published_book.html / "book.pdf").read_bytes() == book_pdf[0].read_bytes()
    assert 'href="../book.pdf"' in (published_book.html / "book" / "status.html").read_text()


def test_the_pdf_has_fixed_dates(small_pdf):
    """Its dates come from SOURCE_DATE_EPOCH (1970 when unset), not the clock; that two whole builds give the same
    PDF bytes is the determinism test's (slow tier), which prints it a second time."""
    first = small_pdf[0].read_bytes()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = time.strftime("D:%Y%m%d%H%M%S", time.gmtime(epoch)).encode()
    assert first.count(b"/CreationDate (" + stamp) == 1 and first.count(b"/ModDate (" + stamp) == 1


def test_fixed_dates_keep_the_length():
    raw = b"<</CreationDate (D:20261207021103+00'00')\n/ModDate (D:20261207021103+00'00')>>"
    fixed = pdf.fixed_dates(raw, epoch=0)
    assert len(fixed) == len(raw) and fixed.count(b"D:19700101000000+00'00'") == 2
