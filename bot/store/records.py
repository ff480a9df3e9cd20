"""How the store reads plain records: the columns a record names, in its fields' order.

Every record the store returns (``FeedRecord``, ``OutboxRecord``, ``StoryRecord``, ...)
carries columns under their own names. Its columns are read off its fields here, once,
so that a select of them builds the record positionally and a field added to a record
is read without a second list to keep in step.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Any


def fields_of(record: type[Any], *, skip: Collection[str] = ()) -> tuple[str, ...]:
    """The names of ``record``'s fields (a dataclass), but ``skip``, in their order."""
    return tuple(field.name for field in fields(record) if field.name not in skip)


def columns_of(
    model: type[Any], record: type[Any], *, skip: Collection[str] = ()
) -> tuple[Any, ...]:
    """``model``'s columns named as ``record``'s fields (but ``skip``), in their order."""
    return tuple(getattr(model, name) for name in fields_of(record, skip=skip))
