"""Names a package offers but loads only when first used (PEP 562 module ``__getattr__``).

A stage package's settings module is imported by the configuration, and importing
``bot.summarize.settings`` runs ``bot/summarize/__init__.py``. If that file imported the
summarizer, every command (``latest`` included) would load trafilatura and nupunkt.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports each name from its home module."""

    def load(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)  # the next lookup skips this function
        return value

    return load
