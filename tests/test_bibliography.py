"""Bibliography labels read as the author-year citations do, and every label is unique."""

from pathlib import Path

from pybtex.database import parse_file

from lmalign.book.bibstyle import AuthorYearLabels

ROOT = Path(__file__).resolve().parents[1]


def test_labels_are_author_year_and_unique():
    entries = list(parse_file(ROOT / "book" / "references.bib").entries.values())
    labels = dict(zip((e.key for e in entries), AuthorYearLabels().format_labels(entries), strict=True))
    assert labels["dembo2010large"] == "Dembo and Zeitouni, 2010"
    assert labels["yang2024asymptotics"] == "Yang et al., 2024"
    assert not [label for label in labels.values() if "{" in label or "\\" in label]
    assert len(set(labels.values())) == len(labels)


def test_equal_labels_get_letters():
    entries = list(parse_file(ROOT / "book" / "references.bib").entries.values())
    twice = [entries[0], entries[0]]
    first, second = AuthorYearLabels().format_labels(twice)
    assert first.endswith("a") and second.endswith("b") and first[:-1] == second[:-1]
