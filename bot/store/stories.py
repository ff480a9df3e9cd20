"""The story queries: which stories wait for a digest, which grew since they were posted,
and the atomic claims that mark them for exactly one digest.

The digest stage (bot/digest/builder.py) turns the rows returned here into the
platform-neutral Digest model; it builds no query itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload

from bot.store.schema import DigestRecord, Item, Story


def with_sources(query: Select[Story]) -> Select[Story]:
    """``query`` loading each story's items and their feeds (what a digest entry shows)."""
    return query.options(selectinload(Story.items).selectinload(Item.feed))


def kept_sources(story: Story) -> int:
    """How many of the story's items were kept (the sources a digest counts)."""
    return sum(1 for item in story.items if item.kept)


def unposted_stories(session: Session, limit: int) -> list[Story]:
    """The oldest stories not yet posted first, so none starves when there are too many."""
    query = with_sources(
        select(Story)
        .where(Story.posted_at.is_(None))
        .order_by(Story.first_published_at, Story.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def has_unposted(session: Session) -> bool:
    """True when at least one story waits for a digest."""
    return session.scalar(select(Story.id).where(Story.posted_at.is_(None)).limit(1)) is not None


def grown_stories(session: Session, since: datetime) -> list[tuple[Story, int]]:
    """Posted stories that gained sources since they were announced, with the count."""
    query = with_sources(
        select(Story).where(Story.posted_digest_id.is_not(None), Story.last_updated_at >= since)
    )
    grown = []
    for story in session.scalars(query):
        count = kept_sources(story)
        if count > story.sources_announced:
            grown.append((story, count - story.sources_announced))
    return grown


def unposted_changed_since(session: Session, since: datetime) -> list[Story]:
    """Unposted stories changed at or after ``since``, oldest first (alert candidates)."""
    query = with_sources(
        select(Story)
        .where(Story.posted_at.is_(None), Story.last_updated_at >= since)
        .order_by(Story.first_published_at, Story.id)
    )
    return list(session.scalars(query))


def stories_by_id(session: Session, ids: Iterable[int]) -> dict[int, Story]:
    """The stories with these ids (with their sources), by id; missing ids are left out."""
    wanted = list(ids)
    if not wanted:
        return {}
    stories = session.scalars(with_sources(select(Story).where(Story.id.in_(wanted)))).all()
    return {story.id: story for story in stories}


def digest_payloads_since(session: Session, digest_id: int) -> Iterable[dict[str, Any]]:
    """The payloads of digest ``digest_id`` and of every digest recorded after it."""
    return session.scalars(select(DigestRecord.payload).where(DigestRecord.id >= digest_id))


def claim_unposted(
    session: Session,
    digest_id: int,
    limit: int,
    now: datetime,
    only: Sequence[int] | None = None,
) -> list[Story]:
    """Mark the oldest unposted stories (at most ``limit``; ``only`` these, when given)
    posted in digest ``digest_id``.

    One atomic claim: only the stories returned were marked, and no other transaction can
    claim them too. On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``
    (a concurrent digest skips them and takes the next ones); on SQLite the caller's
    transaction holds the write lock from its start (``begin_writing``). The UPDATE
    repeats ``posted_at IS NULL``, so a story claimed in between is never taken twice.
    """
    candidates = (
        select(Story.id)
        .where(Story.posted_at.is_(None))
        .order_by(Story.first_published_at, Story.id)
        .limit(limit)
    )
    if only is not None:
        candidates = candidates.where(Story.id.in_(only))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(Story)
        .where(Story.id.in_(ids), Story.posted_at.is_(None))
        .values(posted_at=now, posted_digest_id=digest_id)
        .execution_options(synchronize_session=False)
    )
    claimed = list(
        session.scalars(
            with_sources(
                select(Story)
                .where(Story.posted_digest_id == digest_id)
                .order_by(Story.first_published_at, Story.id)
            )
        )
    )
    for story in claimed:
        # New sources from here on count as new.
        story.sources_announced = kept_sources(story)
    return claimed


def claim_grown(
    session: Session, since: datetime, exclude: Sequence[int] = ()
) -> list[tuple[Story, int]]:
    """Posted stories that gained sources since ``since``, each claimed for one digest only.

    The count of announced sources moves with a conditional UPDATE (``WHERE
    sources_announced = <what we read>``): of two digests built at once, one announces
    the new sources and the other finds the count already moved and leaves the story out.
    """
    claimed = []
    for story, extra in grown_stories(session, since):
        if story.id in exclude:
            continue
        announced = story.sources_announced
        result = session.execute(
            update(Story)
            .where(Story.id == story.id, Story.sources_announced == announced)
            .values(sources_announced=announced + extra)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            claimed.append((story, extra))
    return claimed
