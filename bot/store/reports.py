"""The reads behind the admins' reports (``status``, ``explain``, ``feeds list``).

bot/services/reports.py turns these rows into lines and feed health; it builds no query.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.common.bounds import fit_key
from bot.feeds.records import MAX_KEY_CHARS
from bot.feeds.urls import normalize_url
from bot.store.database import database_size
from bot.store.schema import Feed, Item, OutboxMessage, Story


def all_feeds(session: Session) -> list[Feed]:
    """Every feed row, the dropped and removed ones too, by name."""
    return list(session.scalars(select(Feed).order_by(Feed.name)))


def unposted_count(session: Session) -> int:
    """How many stories wait for the next digest."""
    waiting = select(func.count()).select_from(Story).where(Story.posted_at.is_(None))
    return session.scalar(waiting) or 0


def pending_messages(session: Session) -> list[OutboxMessage]:
    """Every outbox message not sent yet, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
        )
    )


def size_of_database(session: Session) -> int | None:
    """The size in bytes of the database ``session`` is bound to, when it can be told."""
    engine = session.get_bind()
    return database_size(engine) if isinstance(engine, Engine) else None


def items_at(session: Session, url: str) -> list[Item]:
    """The items (with their feeds) any feed carried for ``url``: by normalized URL, by
    guid, or by the URL exactly as stored."""
    return list(
        session.scalars(
            select(Item)
            .where(
                or_(
                    Item.normalized_url == fit_key(normalize_url(url), MAX_KEY_CHARS),
                    Item.guid == fit_key(url, MAX_KEY_CHARS),
                    Item.url == url,
                )
            )
            .options(selectinload(Item.feed))
        )
    )
