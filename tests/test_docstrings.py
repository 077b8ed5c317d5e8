"""The library's docstrings as the API page shows them: every public function and class of the API reference has
numpy-style sections (``Parameters`` when it takes arguments, ``Returns`` or ``Yields`` when a function returns
something, ``Examples``), formulas are written as math (``:math:`` or a ``.. math::`` block), not as TeX in code
spans, and every example runs as a doctest."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import io
import re
from typing import Any

import numpy as np
import pytest

from lmalign.book.apidoc import library_modules

MODULES = ["lmalign", *library_modules()]
TEX_IN_CODE = re.compile(r"``[^`]*(\\[a-zA-Z]{2,}|\^\{|_\{)[^`]*``")
CODE_SPAN = re.compile(r"``(.+?)``", re.S)  # left to right: an opening and its closing, never two spans' ends


def tex_in_code(doc: str) -> list[str]:
    """The code spans of a docstring whose text is TeX (a ``\\command``, ``^{`` or ``_{``): :data:`TEX_IN_CODE`
    applied to each span in turn, so the text between two spans is never taken for one."""
    return [m.group(0) for m in CODE_SPAN.finditer(doc) if TEX_IN_CODE.fullmatch(m.group(0))]


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


def documented(module_name: str) -> list[tuple[str, object]]:
    """The public objects of a module as the API page documents them: its functions and classes, and the public
    methods (plain, class and static) the classes define themselves."""
    found = []
    for name, obj in public_objects(module_name):
        found.append((name, obj))
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(value, (classmethod, staticmethod)):
                    found.append((f"{name}.{attr}", value.__func__))
                elif inspect.isfunction(value):
                    found.append((f"{name}.{attr}", value))
    return found


def _sections(doc: str) -> set[str]:
    """The numpy-style section titles of a docstring: a line followed by a line of dashes as long."""
    lines = inspect.cleandoc(doc).splitlines()
    pairs = zip(lines, lines[1:], strict=False)
    return {a.strip() for a, b in pairs if b.strip() and set(b.strip()) == {"-"} and len(b.strip()) == len(a.strip())}


def required_sections(obj: Any) -> set[str]:
    """``Parameters`` when the signature takes arguments other than ``self``/``cls`` (for a dataclass or a named
    tuple ``Attributes`` instead, for an exception nothing), ``Returns`` or ``Yields`` when a function's return
    annotation is not ``None``, and ``Examples``."""
    required = {"Examples"}
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields")):
            required.add("Attributes")
        elif not issubclass(obj, BaseException) and list(inspect.signature(obj).parameters):
            required.add("Parameters")
        return required
    signature = inspect.signature(obj)
    if [p for p in signature.parameters if p not in ("self", "cls")]:
        required.add("Parameters")
    returns = signature.return_annotation
    if returns is not inspect.Signature.empty and returns not in (None, "None"):
        required.add("Yields" if inspect.isgeneratorfunction(obj) else "Returns")
    return required


@pytest.mark.parametrize("module_name", MODULES)
def test_public_objects_have_numpy_sections(module_name):
    missing = []
    for name, obj in documented(module_name):
        lacking = required_sections(obj) - _sections(obj.__doc__ or "")
        if lacking:
            missing.append(f"{name}: {sorted(lacking)}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("module_name", MODULES)
def test_formulas_are_math_not_code(module_name):
    module = importlib.import_module(module_name)
    docs = [(module_name, module.__doc__ or "")] + [(n, o.__doc__ or "") for n, o in documented(module_name)]
    offending = [f"{name}: {span}" for name, doc in docs for span in tex_in_code(doc)]
    assert not offending, "\n".join(offending)


def _rst_warnings(doc: str, what: str) -> str:
    """The docutils messages of a docstring once napoleon has turned its numpy sections into reST, with Sphinx's
    cross-reference roles read as literals (their targets are checked in ``test_docstring_refs``)."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from docutils.parsers.rst import roles
    from sphinx.ext.napoleon import Config, NumpyDocstring

    def literal(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, text)], []

    for role in ("func", "class", "meth", "attr", "mod", "data", "exc", "obj"):
        roles.register_local_role(role, literal)
    config = Config(napoleon_use_param=True, napoleon_use_rtype=True, napoleon_use_ivar=True)
    rst = str(NumpyDocstring(inspect.cleandoc(doc), config, what=what))
    stream = io.StringIO()
    publish_doctree(rst, settings_overrides={"warning_stream": stream, "report_level": 2, "halt_level": 5})
    return stream.getvalue()


@pytest.mark.parametrize("module_name", MODULES)
def test_docstrings_parse_as_rest(module_name):
    """What the API page renders parses without a warning (Sphinx builds the book with warnings as errors)."""
    module = importlib.import_module(module_name)
    items = [(module_name, module, "module")] + [
        (n, o, "class" if inspect.isclass(o) else "function") for n, o in documented(module_name)
    ]
    problems = [f"{n}: {w}" for n, o, what in items if (w := _rst_warnings(o.__doc__ or "", what))]
    assert not problems, "\n".join(problems)
