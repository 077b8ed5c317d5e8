"""``make pdf``: the whole book as one PDF, every page in the order of the contents, math typeset (no raw TeX in
its text), numbered results and figures, code wrapped."""

import re
import shutil
import subprocess

import pytest

from lmalign.book import pdf

pytestmark = pytest.mark.browser

if not all(shutil.which(t) for t in ("chromium", "chromedriver", "pdfunite", "pdftotext")):
    pytest.skip("needs Debian's chromium, chromium-driver and poppler-utils", allow_module_level=True)


def test_the_book_as_one_pdf(quick_book):
    out = pdf.make_pdf(quick_book.build_dir)
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    toc = pdf.toc_pages(quick_book.site)
    assert pages >= len(toc)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    # code cells print their TeX source (plot labels); untypeset math would leave MathJax's \( \) delimiters
    assert not re.findall(r"\\\(|\\\)|\\\[|\\\]", text)[:5]
    assert re.search(r"Theorem \d+", text) and re.search(r"Fig\. \d+", text)
    assert "Reproduction report" in text and "API reference" in text
    assert (quick_book.html / "book.pdf").read_bytes() == out.read_bytes()
    assert 'href="../book.pdf"' in (quick_book.html / "book" / "status.html").read_text()
