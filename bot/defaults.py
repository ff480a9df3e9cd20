"""The shipped configuration, ``bot/default.toml``: the one source of every default.

The file ships inside the package (read with :mod:`importlib.resources`), so a
wheel install finds it as well as a checkout does. Each stage's settings model
names its table in ``shipped_table`` and declares no defaults of its own: a
key left out of a user's file (or of a model built in code) takes the shipped
value, so the TOML that admins read is exactly what runs. Only the CLI reads a
user's file; stages get their settings objects already validated.

This module imports nothing from the stages, so every stage may use it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator

SHIPPED_CONFIG = "default.toml"


@cache
def _shipped() -> dict[str, Any]:
    text = resources.files("bot").joinpath(SHIPPED_CONFIG).read_text(encoding="utf-8")
    return tomllib.loads(text)


def shipped_config() -> dict[str, Any]:
    """The whole shipped configuration, a fresh copy (callers may merge into it)."""
    return merge_tables({}, _shipped())


def shipped_text() -> str:
    """The shipped file as admins read it, comments included."""
    return resources.files("bot").joinpath(SHIPPED_CONFIG).read_text(encoding="utf-8")


def shipped_table(*path: str) -> dict[str, Any]:
    """One table of the shipped configuration, e.g. ``shipped_table("summarize", "weights")``."""
    table: Any = _shipped()
    for key in path:
        table = table.get(key, {}) if isinstance(table, Mapping) else {}
    return merge_tables({}, table) if isinstance(table, Mapping) else {}


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge TOML tables: nested tables merge, everything else (lists too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_tables(current, value)
        else:
            merged[key] = value
    return merged


class ShippedSettings(BaseModel):
    """A table of the shipped configuration; unknown keys are errors.

    A subclass sets ``shipped_table`` to its table's path (``()`` for the whole
    file); whatever the data given to it leaves out is filled from that table
    before validation, so a user's file may hold only the keys it changes.
    """

    model_config = ConfigDict(extra="forbid")

    shipped_table: ClassVar[tuple[str, ...] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _fill_from_shipped(cls, data: Any) -> Any:
        if cls.shipped_table is None or not isinstance(data, Mapping):
            return data
        return merge_tables(shipped_table(*cls.shipped_table), data)

    @classmethod
    def defaults(cls) -> Self:
        """The shipped values of this table."""
        return cls.model_validate({})
