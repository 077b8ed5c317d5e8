"""The library's docstrings as the API page shows them: every public function and class of the API reference has
numpy-style sections (``Parameters`` when it takes arguments, ``Returns`` or ``Yields`` when a function returns
something, ``Examples``), formulas are written as math (``:math:`` or a ``.. math::`` block), not as TeX in code
spans, and every example runs as a doctest."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re

import numpy as np
import pytest

from lmalign.book.apidoc import library_modules

MODULES = ["lmalign", *library_modules()]
TEX_IN_CODE = re.compile(r"``[^`]*(\\[a-zA-Z]{2,}|\^\{|_\{)[^`]*``")


def public_objects(module_name: str) -> list[tuple[str, object]]:
    """``(qualified name, object)`` of the public functions and classes a module defines (its ``__all__`` when
    it has one), and the public methods and properties of those classes."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name)
        if getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            found.append((f"{module_name}.{name}", obj))
    return found


def _examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(module) if t.examples]


@pytest.mark.parametrize("module_name", MODULES)
def test_the_examples_run(module_name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(module_name):
        test.globs.setdefault("np", np)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{module_name}: {result.failed} of {result.attempted} examples failed"
