"""Cross references in the docstrings the API page renders point at objects the page documents.

The book builds with warnings as errors, so an unresolved ``:func:`` in a public docstring stops the whole build
after every chapter has run; this finds it in a second. Rendered docstrings are those of each public library
module, of its public functions and classes, and of their public methods. A target must exist, must be public
(no ``_`` component: private helpers have no entry), and a ``:data:`` target needs a ``#:`` doc comment (autodoc
documents only those module constants).
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from lmalign.book.apidoc import library_modules

ROLE = re.compile(r":(func|meth|class|data|attr|mod|exc):`~?([^`<>]+?)`")


def _rendered(module) -> list[tuple[str, object]]:
    """``(docstring, owner)`` pairs of what autodoc shows: the module, public members defined in it, methods."""
    out = [(module.__doc__ or "", None)]
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            out.append((obj.__doc__ or "", None))
        elif inspect.isclass(obj):
            out.append((obj.__doc__ or "", obj))
            for attr, member in vars(obj).items():
                if not attr.startswith("_"):
                    doc = getattr(member, "__doc__", None) or getattr(getattr(member, "fget", None), "__doc__", None)
                    out.append((doc or "", obj))
    return out


def _resolve(target: str, module, owner) -> object | None:
    """The object ``target`` names from ``module`` (or from the class ``owner``), or ``None``."""
    if target.startswith("lmalign"):
        parts = target.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for part in parts[i:]:
                obj = getattr(obj, part, None)
            return obj
        return None
    for start in (owner, module):
        obj = start
        for part in target.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        first = getattr(start, target.split(".")[0], None) if start is not None else None
        # Sphinx looks a short name up among the objects documented in this module, not its imports
        if obj is not None and getattr(first, "__module__", module.__name__) == module.__name__:
            return obj
    return None


def _problems(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    found = []
    for doc, owner in _rendered(module):
        for role, target in ROLE.findall(doc):
            if any(part.startswith("_") for part in target.split(".")):
                found.append(f"{role}:`{target}` names a private object, which has no entry")
            elif _resolve(target, module, owner) is None:
                found.append(f"{role}:`{target}` names nothing")
            elif role == "data" and not re.search(rf"#:.*\n{re.escape(target.rsplit('.', 1)[-1])}\s*[:=]", source):
                found.append(f"data:`{target}` has no #: doc comment, so autodoc does not document it")
    return found


@pytest.mark.parametrize("module_name", library_modules())
def test_cross_references_resolve(module_name):
    assert _problems(module_name) == []


def test_the_check_finds_a_bad_reference(monkeypatch):
    import lmalign.divergences as mod

    monkeypatch.setattr(
        mod.kl,
        "__doc__",
        "See :func:`_psi`, :func:`nothing_here`, :data:`MAX_X` and "
        ":meth:`RewardLaw.cgf` (imported, so documented elsewhere).",
    )
    assert len(_problems("lmalign.divergences")) == 4
