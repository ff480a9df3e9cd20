"""The story queries: which stories wait for a digest, which grew since they were posted,
and the atomic claims that mark them for exactly one digest.

Every read returns :class:`StoryRecord`: a story's columns a digest shows, with its items
(:class:`StorySource`) loaded in bulk, one query for the stories and one for all their
sources, so a digest of any length costs the same two queries. The digest stage
(bot/digest/builder.py) turns these records into the platform-neutral Digest model; it
builds no query itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from bot.store.records import columns_of
from bot.store.schema import Feed, Item, Story

#: Story ids per query of their sources: as many as SQLAlchemy's selectinload sent in one
#: IN list, far below any database's limit on bound parameters.
SOURCES_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StorySource:
    """One item of a story as a digest shows it: the article, its outlet's feed name, and
    whether the topic rules kept it (only kept items are sources)."""

    id: int
    title: str
    url: str | None
    image: str | None
    kept: bool
    published_at: datetime
    fetched_at: datetime
    feed_name: str


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A story as the digest, its updates and the subscriptions read it, with its items
    oldest first (the order of ``Story.items``)."""

    id: int
    title: str
    url: str
    first_published_at: datetime
    summary: tuple[str, ...]
    summary_note: str | None
    kind: str | None
    posted_digest_id: int | None
    sources_announced: int
    items: tuple[StorySource, ...]

    @property
    def kept_sources(self) -> int:
        """How many of the story's items were kept (the sources a digest counts)."""
        return sum(1 for item in self.items if item.kept)


_STORY_COLUMNS = columns_of(Story, StoryRecord, skip={"items"})


def story_select() -> Select[Any]:
    """The columns of a :class:`StoryRecord`, for a query to narrow and order, then read
    with :func:`load_stories`."""
    return select(*_STORY_COLUMNS)


def load_stories(session: Session, query: Select[Any]) -> list[StoryRecord]:
    """The stories ``query`` (a :func:`story_select`) selects, in its order, with their
    sources read in bulk."""
    rows = session.execute(query).all()
    sources = _sources_of(session, [row.id for row in rows])
    return [
        StoryRecord(
            id=row.id,
            title=row.title,
            url=row.url,
            first_published_at=row.first_published_at,
            summary=tuple(row.summary or ()),
            summary_note=row.summary_note,
            kind=row.kind,
            posted_digest_id=row.posted_digest_id,
            sources_announced=row.sources_announced,
            items=tuple(sources.get(row.id, ())),
        )
        for row in rows
    ]


def _sources_of(session: Session, story_ids: Sequence[int]) -> dict[int, list[StorySource]]:
    """The items of these stories with their feed's name, by story, oldest first."""
    by_story: dict[int, list[StorySource]] = defaultdict(list)
    for start in range(0, len(story_ids), SOURCES_CHUNK):
        query = (
            select(
                Item.story_id,
                Item.id,
                Item.title,
                Item.url,
                Item.image,
                Item.kept,
                Item.published_at,
                Item.fetched_at,
                Feed.name,
            )
            .join(Feed, Feed.id == Item.feed_id)
            .where(Item.story_id.in_(story_ids[start : start + SOURCES_CHUNK]))
            .order_by(Item.published_at, Item.id)
        )
        for row in session.execute(query):
            by_story[row.story_id].append(
                StorySource(
                    id=row.id,
                    title=row.title,
                    url=row.url,
                    image=row.image,
                    kept=row.kept,
                    published_at=row.published_at,
                    fetched_at=row.fetched_at,
                    feed_name=row.name,
                )
            )
    return by_story


def unposted_stories(session: Session, limit: int) -> list[StoryRecord]:
    """The oldest stories not yet posted first, so none starves when there are too many."""
    query = (
        story_select()
        .where(Story.posted_at.is_(None))
        .order_by(Story.first_published_at, Story.id)
        .limit(limit)
    )
    return load_stories(session, query)


def has_unposted(session: Session) -> bool:
    """True when at least one story waits for a digest."""
    return session.scalar(select(Story.id).where(Story.posted_at.is_(None)).limit(1)) is not None


def grown_stories(session: Session, since: datetime) -> list[tuple[StoryRecord, int]]:
    """Posted stories that gained sources since they were announced, with the count."""
    query = story_select().where(
        Story.posted_digest_id.is_not(None), Story.last_updated_at >= since
    )
    grown = []
    for story in load_stories(session, query):
        count = story.kept_sources
        if count > story.sources_announced:
            grown.append((story, count - story.sources_announced))
    return grown


def unposted_changed_since(session: Session, since: datetime) -> list[StoryRecord]:
    """Unposted stories changed at or after ``since``, oldest first (alert candidates)."""
    query = (
        story_select()
        .where(Story.posted_at.is_(None), Story.last_updated_at >= since)
        .order_by(Story.first_published_at, Story.id)
    )
    return load_stories(session, query)


def stories_by_id(session: Session, ids: Iterable[int]) -> dict[int, StoryRecord]:
    """The stories with these ids (with their sources), by id; missing ids are left out."""
    wanted = list(ids)
    if not wanted:
        return {}
    stories = load_stories(session, story_select().where(Story.id.in_(wanted)))
    return {story.id: story for story in stories}


def claim_unposted(
    session: Session,
    digest_id: int,
    limit: int,
    now: datetime,
    only: Sequence[int] | None = None,
) -> list[StoryRecord]:
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
    claimed = load_stories(
        session,
        story_select()
        .where(Story.posted_digest_id == digest_id)
        .order_by(Story.first_published_at, Story.id),
    )
    return _announce_all(session, claimed)


def _announce_all(session: Session, stories: list[StoryRecord]) -> list[StoryRecord]:
    """Count every kept source of the just claimed ``stories`` as announced (new sources
    from here on count as new): one UPDATE by id for each story whose count moves."""
    moved = [
        {"id": story.id, "sources_announced": story.kept_sources}
        for story in stories
        if story.kept_sources != story.sources_announced
    ]
    if moved:
        session.execute(update(Story), moved)
    return [replace(story, sources_announced=story.kept_sources) for story in stories]


def claim_grown(
    session: Session, since: datetime, exclude: Sequence[int] = ()
) -> list[tuple[StoryRecord, int]]:
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
