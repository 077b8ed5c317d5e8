"""The book machinery: execute the chapters, record their claim checks and figures, write the report.

Built on the library ``lmalign`` and never imported by it. Needs the ``book`` extra (papermill, jupytext,
Jupyter Book, PyYAML). The chapters use one name from here::

    from lmalign.book.chapter import Chapter
    ch = Chapter("01_optimal_policy", parameters=dict(seed=seed))

Modules: ``paths`` (where things live), ``claims`` (the registry and per-chapter results), ``figures``
(saving with provenance), ``chapter`` (the run context), ``report`` (the reproduction report), ``build``
(execute and render), ``run_chapter`` (one chapter in a subprocess), ``cli`` (the ``build`` and ``claims``
verbs).
"""
