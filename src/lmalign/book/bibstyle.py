"""A bibliography whose labels read as the citations do: "[Dembo and Zeitouni, 2010]", not "[DZ10]".

The book cites in author-year form (``bibtex_reference_style: author_year``); this Sphinx extension registers the
pybtex style ``authoryear`` (the ``plain`` style with author-year labels) so the bibliography page lists each work
under the same text. One author: "Last"; two: "Last and Last"; more: "Last et al."; then ", year".
"""

from __future__ import annotations

import codecs
from typing import Any

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _unlatex(text: str) -> str:
    """``text`` with LaTeX accents as Unicode (the ``ulatex`` codec that latexcodec registers)."""
    decode: Any = codecs.decode  # the codec is registered at run time: the stubs do not know its name
    return decode(text, "ulatex")


def _names(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [_unlatex(" ".join(p.last_names)).replace("{", "").replace("}", "") for p in people]
    if not last:
        return entry.fields.get("key", entry.key)
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Author, year", made unique with a, b, ... when two works share one."""

    def format_labels(self, sorted_entries):
        labels = [f"{_names(e)}, {e.fields.get('year', 'n.d.')}" for e in sorted_entries]
        seen: dict[str, int] = {}
        for label in labels:
            seen[label] = seen.get(label, 0) + 1
        count: dict[str, int] = {}
        for label in labels:
            if seen[label] == 1:
                yield label
            else:
                count[label] = count.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[count[label] - 1]


class AuthorYearStyle(PlainStyle):
    default_label_style = "authoryear"


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
