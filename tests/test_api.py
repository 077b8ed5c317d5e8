"""The API reference: every public module of the library is on the generated page, and every public function
and class it defines has a docstring (the page renders them with autodoc; the build treats warnings as errors)."""

import importlib
import inspect

import pytest

from lmalign.book import apidoc

MODULES = apidoc.library_modules()


def test_the_page_lists_every_library_module():
    page = apidoc.api_markdown()
    assert "lmalign.law" in MODULES and "lmalign.tilting" in MODULES and "lmalign.best_of_n" in MODULES
    assert not [m for m in MODULES if m.startswith("lmalign.book") or m.rsplit(".", 1)[1].startswith("_")]
    for module in MODULES:
        assert f".. automodule:: {module}\n" in page


@pytest.mark.parametrize("module", MODULES)
def test_public_names_have_docstrings(module):
    mod = importlib.import_module(module)
    assert (mod.__doc__ or "").strip(), f"{module} has no module docstring"
    missing = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            if not (obj.__doc__ or "").strip():
                missing.append(name)
            if inspect.isclass(obj):
                missing += [
                    f"{name}.{m}"
                    for m, f in vars(obj).items()
                    if inspect.isfunction(f) and not m.startswith("_") and not (f.__doc__ or "").strip()
                ]
    assert missing == []
