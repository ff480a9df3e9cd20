"""Claims: the first process to insert a key does the work it names; the others skip it.

A key names one occurrence of something replicas must do once: a scheduled job's
firing (``poll@2026-12-01T09:30:00+00:00``) or the answer to one chat command
(``discord:<interaction id>``). The insert is ``ON CONFLICT DO NOTHING`` on the
primary key, so exactly one of any number of concurrent inserts succeeds, on
SQLite (3.35 or newer, for RETURNING) and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.bounds import fit
from bot.store.schema import Claim


def claim(session: Session, key: str, holder: str, now: datetime) -> bool:
    """Take ``key`` for ``holder``; True when this call took it, False when it was taken."""
    # A Core statement: fitted here (a key longer than the column keeps a digest of the
    # whole; the ids platforms send are far shorter).
    values: dict[str, object] = {
        "key": fit(Claim.key, key),
        "claimed_by": fit(Claim.claimed_by, holder),
        "claimed_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return claim_portably(session, Claim(**values))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Claim)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Claim.key)  # a row only when inserted (psycopg reports no rowcount here)
    )
    return session.execute(statement).first() is not None


def claim_portably(session: Session, row: Claim) -> bool:
    """Any database: a plain insert in a savepoint; a duplicate key means taken."""
    try:
        with session.begin_nested():
            session.add(row)
        return True
    except IntegrityError:
        return False


def prune_claims(session: Session, before: datetime) -> int:
    """Forget claims taken before ``before``; returns how many."""
    result = session.execute(
        delete(Claim).where(Claim.claimed_at < before),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)
