"""The digests table: every digest, alert and update posted, with what it said.

Writes are Core statements, their strings fitted to the columns as a flush would. A digest
is recorded in three steps inside the transaction that queues its messages:
:func:`new_digest` first (its id is what the stories it claims and its outbox messages
point at), then :func:`fill_digest` with what it said, or :func:`delete_digest` when it
turned out to have nothing to say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.store.bounds import fit_values
from bot.store.schema import DigestRecord


@dataclass(frozen=True, slots=True)
class DigestRow:
    """A recorded digest without its payload (what `status` shows of the newest)."""

    id: int
    created_at: datetime
    kind: str


def last_posted_at(session: Session, kind: str) -> datetime | None:
    """When the newest digest of this ``kind`` ("digest", "alert") was recorded, if ever."""
    newest = select(func.max(DigestRecord.created_at)).where(DigestRecord.kind == kind)
    return session.scalar(newest)


def last_digest(session: Session) -> DigestRow | None:
    """The newest record of the digests table, of any kind."""
    row = session.execute(
        select(DigestRecord.id, DigestRecord.created_at, DigestRecord.kind)
        .order_by(DigestRecord.id.desc())
        .limit(1)
    ).first()
    return None if row is None else DigestRow(id=row.id, created_at=row.created_at, kind=row.kind)


def new_digest(session: Session, kind: str, now: datetime) -> int:
    """Record a digest of ``kind``, its payload still empty; its id."""
    statement = (
        insert(DigestRecord)
        .values(fit_values(DigestRecord, {"created_at": now, "kind": kind, "payload": {}}))
        .returning(DigestRecord.id)
    )
    return int(session.execute(statement).scalar_one())


def fill_digest(session: Session, digest_id: int, kind: str, payload: Mapping[str, Any]) -> None:
    """Set what digest ``digest_id`` said, and its kind ("update" when it carried updates
    only)."""
    session.execute(
        update(DigestRecord)
        .where(DigestRecord.id == digest_id)
        .values(fit_values(DigestRecord, {"kind": kind, "payload": dict(payload)}))
        .execution_options(synchronize_session=False)
    )


def delete_digest(session: Session, digest_id: int) -> None:
    """Forget digest ``digest_id``: it claimed nothing (nothing points at it)."""
    session.execute(
        delete(DigestRecord)
        .where(DigestRecord.id == digest_id)
        .execution_options(synchronize_session=False)
    )


def digest_payloads_since(session: Session, digest_id: int) -> Iterable[dict[str, Any]]:
    """The payloads of digest ``digest_id`` and of every digest recorded after it."""
    return session.scalars(select(DigestRecord.payload).where(DigestRecord.id >= digest_id))
