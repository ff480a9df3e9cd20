"""Every stored string within its column's limit, on SQLite and PostgreSQL alike.

The limits and what is done past them are declared once, on the columns
(:class:`~bot.store.schema.Fit` in ``bot/store/schema.py``); this module applies them.
Sessions made by :func:`~bot.store.database.session_factory` run :func:`fit_rows` before
every flush, on every new or changed row, so no ORM write can skip it; the few Core
statements that write strings call :func:`fit` themselves. A value PostgreSQL would refuse
(``StringDataRightTruncation``: one 169-character ``Last-Modified`` rolled back a whole
batch of feeds, every cycle) or SQLite would store at any size never reaches the database.
NUL characters, which PostgreSQL refuses in any text, are dropped too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import String, inspect
from sqlalchemy.orm import InstrumentedAttribute, Mapper, Session

from bot.common.bounds import cut_text, fit_key
from bot.store.schema import Fit


class UnstorableValueError(ValueError):
    """A value code wrote is longer than its column allows (a :data:`Fit.REFUSE` column)."""


@dataclass(frozen=True)
class Bound:
    """One string column's limit and what is done past it."""

    table: str
    column: str
    limit: int
    fit: Fit
    nullable: bool

    def apply(self, value: str) -> str | None:
        """``value`` as it may be stored (None: not stored)."""
        if "\x00" in value:
            value = value.replace("\x00", "")
        if len(value) <= self.limit:
            return value
        if self.fit is Fit.CUT:
            return cut_text(value, self.limit)
        if self.fit is Fit.KEY:
            return fit_key(value, self.limit)
        if self.fit is Fit.DROP and self.nullable:
            return None
        raise UnstorableValueError(
            f"{self.table}.{self.column} is {len(value):,} characters, "
            f"over its limit of {self.limit:,}"
        )


def bound_of(column: Any) -> Bound:
    """The bound of a mapped string column (``Item.title``, or its ``Column``)."""
    column = getattr(column, "expression", column)
    info = column.info
    limit = info.get("max_chars") or (
        column.type.length if isinstance(column.type, String) else None
    )
    fit = info.get("fit")
    if not isinstance(limit, int) or not isinstance(fit, Fit):
        raise LookupError(f"{column.table.name}.{column.name} declares no bound")
    return Bound(column.table.name, column.name, limit, fit, bool(column.nullable))


@cache
def bounds_of(mapper: Mapper[Any]) -> tuple[tuple[str, Bound], ...]:
    """(attribute, bound) for every string column of a mapped class."""
    found = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if isinstance(column.type, String):  # Text is a String too
            found.append((attribute.key, bound_of(column)))
    return tuple(found)


def fit(column: InstrumentedAttribute[Any], value: str) -> str | None:
    """``value`` fitted to ``column`` for a Core statement (the ORM's writes fit themselves)."""
    return bound_of(column).apply(value)


def fit_values(cls: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """A Core or bulk statement's values for ``cls``, each string fitted to its column."""
    for key, bound in bounds_of(inspect(cls)):
        value = values.get(key)
        if isinstance(value, str) and (len(value) > bound.limit or "\x00" in value):
            values[key] = bound.apply(value)
    return values


def fit_rows(session: Session, _context: object = None, _instances: object = None) -> None:
    """Fit every string of every new or changed row to its column: a ``before_flush`` hook."""
    for row in (*session.new, *session.dirty):
        state = inspect(row)
        for key, bound in bounds_of(state.mapper):
            value = state.dict.get(key)
            if isinstance(value, str) and (len(value) > bound.limit or "\x00" in value):
                setattr(row, key, bound.apply(value))
