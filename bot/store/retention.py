"""Retention: rows older than ``[database] keep_days`` are deleted, in small transactions.

What goes, once older than the cutoff (now minus ``keep_days``):

- outbox messages **sent** before it (a pending or blocked message is never deleted);
- stories **posted** before it and not updated since (an unposted story is never deleted),
  with their items;
- items in no story (dropped by the topic rules, or orphaned) first seen and published
  before it;
- digests created before it that no outbox message and no remaining story refers to;
- claims (``bot.store.claims``) older than :data:`CLAIMS_KEEP`, whatever ``keep_days``.

Each batch of at most :data:`BATCH` rows is its own transaction (on SQLite a
``BEGIN IMMEDIATE`` one), so pruning a year of rows never holds the database for
long: polls, digests and commands in other processes go on between batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.claims import prune_claims
from bot.store.database import begin_writing
from bot.store.schema import DigestRecord, Item, OutboxMessage, Story
from bot.store.search import forget_stories

# Rows deleted per transaction.
BATCH = 500
# Claims only matter while replicas may still act on the same firing or command.
CLAIMS_KEEP = timedelta(days=2)
# Bulk deletes: no ORM objects are loaded, so none need updating.
UNSYNCED = {"synchronize_session": False}


@dataclass
class PruneReport:
    """Rows deleted by one pruning run."""

    messages: int = 0
    stories: int = 0
    items: int = 0
    digests: int = 0
    claims: int = 0
    stopped: bool = False

    def __str__(self) -> str:
        return (
            f"{self.messages} sent messages, {self.stories} stories, {self.items} items, "
            f"{self.digests} digests, {self.claims} claims removed"
            + (" (stopped early)" if self.stopped else "")
        )


def prune(
    sessions: sessionmaker[Session],
    keep_days: float,
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
    batch: int = BATCH,
) -> PruneReport:
    """Delete what is older than ``keep_days`` (see the module); ``should_stop`` is asked
    between batches, so a shutdown waits for one batch at most."""
    cutoff = now - timedelta(days=keep_days)
    report = PruneReport()
    steps: list[tuple[str, Select[Any], Callable[[Session, list[int]], None]]] = [
        (
            "messages",
            select(OutboxMessage.id).where(
                OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff
            ),
            _delete_rows(OutboxMessage),
        ),
        (
            "stories",
            select(Story.id).where(
                Story.posted_at.is_not(None),
                Story.posted_at < cutoff,
                Story.last_updated_at < cutoff,
            ),
            _delete_stories,
        ),
        (
            "items",
            select(Item.id).where(
                Item.story_id.is_(None), Item.published_at < cutoff, Item.fetched_at < cutoff
            ),
            _delete_rows(Item),
        ),
        (
            "digests",
            select(DigestRecord.id).where(
                DigestRecord.created_at < cutoff,
                ~exists().where(OutboxMessage.digest_id == DigestRecord.id),
                ~exists().where(Story.posted_digest_id == DigestRecord.id),
            ),
            _delete_rows(DigestRecord),
        ),
    ]
    for name, query, remove in steps:
        while True:
            if should_stop():
                report.stopped = True
                return report
            with sessions.begin() as session:
                begin_writing(session)
                ids = list(session.scalars(query.limit(batch)))
                if ids:
                    remove(session, ids)
            setattr(report, name, getattr(report, name) + len(ids))
            if len(ids) < batch:
                break
    with sessions.begin() as session:
        begin_writing(session)
        report.claims = prune_claims(session, now - CLAIMS_KEEP)
    return report


def _delete_rows(model: Any) -> Callable[[Session, list[int]], None]:
    def remove(session: Session, ids: list[int]) -> None:
        session.execute(delete(model).where(model.id.in_(ids)), execution_options=UNSYNCED)

    return remove


def _delete_stories(session: Session, ids: list[int]) -> None:
    """A story goes with its items (kept and dropped alike) and its search document;
    nothing else refers to it."""
    session.execute(delete(Item).where(Item.story_id.in_(ids)), execution_options=UNSYNCED)
    session.execute(delete(Story).where(Story.id.in_(ids)), execution_options=UNSYNCED)
    forget_stories(session, ids)
