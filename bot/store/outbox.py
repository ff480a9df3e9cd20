"""The outbox's queries: messages stored before anything is sent, the leases that keep
two processes from sending one message at once, and what each send did.

bot/outbox/delivery.py holds the outbox's logic (order, retries, leases' lengths, which
holder is dead); every statement it runs on the database is here. Reads return
:class:`OutboxRecord`, plain values that stay valid after their session ends (delivery
holds them across the sends of a pass, each outcome recorded in a transaction of its own).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.common.times import utc_now
from bot.store.records import columns_of, fields_of
from bot.store.schema import OutboxMessage

if TYPE_CHECKING:
    from bot.adapters.base import Payload


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One outbox message as delivery, ``channels test`` and ``status`` read it: where it
    goes, what it says, how its attempts went and who holds its lease."""

    id: int
    digest_id: int | None
    adapter: str
    destination: str
    payload: dict[str, Any]
    status: str
    blocked: bool
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    platform_message_id: str | None
    nonce: str | None
    claimed_by: str | None
    claimed_until: datetime | None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and restarts: the platform can drop a duplicate."""
        return idempotency_key(self.nonce, self.id)


def idempotency_key(nonce: str | None, message_id: int) -> str:
    """The key a message is sent with: its random nonce, or its id when it was stored before
    nonces were (revision 0002)."""
    return f"mad-{nonce}" if nonce else f"mad-{message_id}"


_FIELDS = fields_of(OutboxRecord)


def _record(row: Any) -> OutboxRecord:
    """The record of a row of :func:`_select` (or of the ORM row, after a write)."""
    return OutboxRecord(**{name: getattr(row, name) for name in _FIELDS})


def _select() -> Select[Any]:
    """The columns an :class:`OutboxRecord` carries."""
    return select(*columns_of(OutboxMessage, OutboxRecord))


def _records(session: Session, query: Select[Any]) -> list[OutboxRecord]:
    """The records of a :func:`_select` query, in its order."""
    return [_record(row) for row in session.execute(query)]


def thread_of(
    session: Session, digest_id: int | None, adapter: str, destination: str
) -> str | None:
    """The platform id of the first message of digest ``digest_id`` sent to this destination
    (the thread a story's updates reply in); None when it was not sent or has no id."""
    if digest_id is None:
        return None
    return session.scalar(
        select(OutboxMessage.platform_message_id)
        .where(
            OutboxMessage.digest_id == digest_id,
            OutboxMessage.adapter == adapter,
            OutboxMessage.destination == destination,
            OutboxMessage.status == "sent",
        )
        .order_by(OutboxMessage.sequence)
        .limit(1)
    )


def store_messages(
    session: Session,
    adapter: str,
    destination: str,
    payloads: Sequence[Payload],
    digest_id: int | None = None,
) -> list[int]:
    """Store one destination's rendered messages, pending, in posting order; their ids."""
    now = utc_now()
    messages = [
        OutboxMessage(
            digest_id=digest_id,
            adapter=adapter,
            destination=destination,
            sequence=sequence,
            payload=payload,
            status="pending",
            blocked=False,
            attempts=0,
            created_at=now,
            nonce=secrets.token_hex(8),
        )
        for sequence, payload in enumerate(payloads)
    ]
    session.add_all(messages)
    session.flush()
    return [message.id for message in messages]


def due_messages(
    session: Session, adapter_names: Sequence[str], now: datetime
) -> list[OutboxRecord]:
    """Pending messages of the given adapters, oldest first (``now`` kept for callers)."""
    query = (
        _select()
        .where(OutboxMessage.status == "pending", OutboxMessage.adapter.in_(adapter_names))
        .order_by(OutboxMessage.id)
    )
    return _records(session, query)


def pending_messages(session: Session) -> list[OutboxRecord]:
    """Every outbox message not sent yet, of any adapter, oldest first (``status``)."""
    query = _select().where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
    return _records(session, query)


def live_leases(session: Session, now: datetime) -> list[tuple[int, str | None]]:
    """(message id, holder) of every pending message leased until after ``now``."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.claimed_by).where(
            OutboxMessage.status == "pending",
            OutboxMessage.claimed_by.is_not(None),
            OutboxMessage.claimed_until > now,
        )
    ).all()
    return [(message_id, holder) for message_id, holder in rows]


def release_lease(session: Session, message_id: int, holder: str) -> None:
    """Release the lease on a message, if ``holder`` still holds it."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == holder)
        .values(claimed_by=None, claimed_until=None)
    )


def take_lease(
    session: Session, message_id: int, holder: str, now: datetime, until: datetime
) -> bool:
    """Lease a pending message to ``holder`` until ``until``, unless a lease on it is live.

    A conditional UPDATE: of two processes claiming at once, exactly one changes the row.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "pending",
            # Not "claimed_by == holder": this process's own live lease means an
            # earlier attempt's outcome went unrecorded (perhaps posted).
            or_(
                OutboxMessage.claimed_by.is_(None),
                OutboxMessage.claimed_until.is_(None),
                OutboxMessage.claimed_until <= now,
            ),
        )
        .values(claimed_by=holder, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_sent(session: Session, message_id: int, platform_id: str | None) -> None:
    """Record a message as sent (the platform's id for it, if any) and release its lease."""
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        row.status, row.sent_at, row.blocked = "sent", utc_now(), False
        row.platform_message_id = platform_id
        row.attempts += 1
        row.last_error = None
        row.claimed_by = row.claimed_until = None


def mark_failed(
    session: Session, message_id: int, error: str, next_attempt_at: datetime, blocked: bool
) -> OutboxRecord | None:
    """Record a failed attempt (its error, when to try again, whether the queue is blocked)
    and release the lease; the message as recorded, or None when it is gone."""
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:2000]
        row.blocked = blocked
        row.next_attempt_at = next_attempt_at
        row.claimed_by = row.claimed_until = None
    return None if row is None else _record(row)


def unblock_messages(session: Session) -> int:
    """Blocked pending messages become due again; how many. One waiting for a platform's
    Retry-After keeps waiting (it is not blocked)."""
    rows = list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == "pending", OutboxMessage.blocked.is_(True)
            )
        )
    )
    for row in rows:
        row.next_attempt_at = None
        row.blocked = False
    return len(rows)


def messages_by_id(session: Session, ids: Collection[int]) -> list[OutboxRecord]:
    """The outbox messages with these ids (those still stored), oldest first."""
    query = _select().where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    return _records(session, query)


def withdraw_messages(session: Session, ids: Collection[int]) -> None:
    """Delete these messages, sent or not (a failed channel test must not post later)."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
