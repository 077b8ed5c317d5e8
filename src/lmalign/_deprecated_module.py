"""A module that moved: attribute access forwards to the new module and warns ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable


def forwarder(old: str, new: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for module ``old``: every public name of ``new``, each access warning that
    ``old`` is deprecated in favour of ``new``."""

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        target = importlib.import_module(new)
        try:
            value = getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
        warnings.warn(f"{old} is deprecated; import {name} from {new}", DeprecationWarning, stacklevel=2)
        return value

    def __dir__() -> list[str]:
        return sorted(n for n in dir(importlib.import_module(new)) if not n.startswith("__"))

    return __getattr__, __dir__
