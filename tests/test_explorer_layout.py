"""The Explorer's Bokeh document at the edges of the chapter's ranges (no browser needed): a grid of a single
length, a single budget and a single sample size still makes a document that Bokeh accepts without an error."""

import logging

from lmalign.book import explorer


def test_a_single_length_budget_and_sample_size_make_a_valid_document(caplog):
    models = explorer.token_models([0.5, 0.3, 0.2], [0.0, 1.0, 2.0], [0.6, 0.4], [0.0, 1.0], words=False)
    data = explorer.compute(models, [10], [0.3], points=16, samples_n=[4])
    with caplog.at_level(logging.WARNING, logger="bokeh"):
        html = explorer.explorer_html(data)
    assert "explorer_budget" in html and "explorer_length" in html
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bokeh")] == []


def test_the_index_slider_spans_its_indices():
    assert (explorer.index_slider(5, 2).end, explorer.index_slider(5, 2).disabled) == (4, False)
    one = explorer.index_slider(1, 0)
    assert (one.start, one.end, one.value, one.disabled) == (0, 1, 0, True)
