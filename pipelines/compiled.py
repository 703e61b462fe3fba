"""The optional compiled extensions (the stroke scanner, the cleaning kernels): each imported
where the install built it, else None, and the numpy code that defines it does its work."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """The extension module `name`, or None where the install could not build it (no C
    compiler: the extensions are optional, and the install succeeds without them)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
