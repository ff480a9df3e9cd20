"""The outbox's queries: messages stored before anything is sent, the leases that keep
two processes from sending one message at once, and what each send did.

bot/outbox/delivery.py holds the outbox's logic (order, retries, leases' lengths, which
holder is dead); every statement it runs on the database is here.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.common.times import utc_now
from bot.store.schema import OutboxMessage

if TYPE_CHECKING:
    from bot.adapters.base import Payload


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
) -> list[OutboxMessage]:
    """One destination's rendered messages, stored pending in posting order (ids flushed)."""
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
    return messages


def due_messages(
    session: Session, adapter_names: Sequence[str], now: datetime
) -> list[OutboxMessage]:
    """Pending messages of the given adapters, oldest first (``now`` kept for callers)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.adapter.in_(adapter_names))
        .order_by(OutboxMessage.id)
    )
    return list(session.scalars(query))


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
) -> OutboxMessage | None:
    """Record a failed attempt (its error, when to try again, whether the queue is blocked)
    and release the lease; the row as recorded, or None when it is gone."""
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:2000]
        row.blocked = blocked
        row.next_attempt_at = next_attempt_at
        row.claimed_by = row.claimed_until = None
    return row


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


def messages_by_id(session: Session, ids: Collection[int]) -> list[OutboxMessage]:
    """The outbox messages with these ids (those still stored)."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))))


def withdraw_messages(session: Session, ids: Collection[int]) -> None:
    """Delete these messages, sent or not (a failed channel test must not post later)."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
