"""Stories in the database → the platform-neutral Digest model.

Two questions are answered here: which stories go into the next digest (not
yet posted), and which answer ``latest`` / ``/meta-ai`` (the most recent ones,
posted or not, optionally matching words).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.common.hosts import GOOGLE_NEWS_HOST, host_of
from bot.digest.model import Digest, DigestSource, DigestStory
from bot.digest.settings import DigestSettings
from bot.store.schema import Item, Story
from bot.store.search import parse_query, recent_story_ids

EMPTY_LATEST = "No Meta AI news in the last {hours:g} hours yet. Try again after the next poll."
EMPTY_QUERY = "No Meta AI stories of the last {days} days match “{query}”."
NO_WORDS = (
    "“{query}” has no words to search for: punctuation and common words such as “the” are ignored."
)
# How far back /meta-ai <words> searches.
QUERY_WINDOW_DAYS = 30


def outlet_name(item: Item) -> str:
    """The outlet behind an item: an aggregator's " - Outlet" suffix, else the feed name."""
    title, feed_name = item.title, item.feed.name
    if host_of(item.url) == GOOGLE_NEWS_HOST and " - " in title:
        return title.rsplit(" - ", 1)[1].strip() or feed_name
    return feed_name


def story_to_model(story: Story, new_sources: int = 0) -> DigestStory:
    items = [item for item in story.items if item.kept]
    sources = [
        DigestSource(
            title=item.title,
            url=item.url or story.url,
            feed=outlet_name(item),
            published=item.published_at,
        )
        for item in items
        if item.url
    ]
    image = next((item.image for item in items if item.image), None)
    return DigestStory(
        id=str(story.id),
        title=story.title,
        url=story.url,
        published=story.first_published_at,
        summary=list(story.summary or []),
        sources=sources,
        image=image,
        new_sources=new_sources,
        summary_note=story.summary_note,
    )


def unposted_stories(session: Session, limit: int) -> list[Story]:
    """The oldest stories not yet posted first, so none starves when there are too many."""
    query = (
        select(Story)
        .where(Story.posted_at.is_(None))
        .options(selectinload(Story.items).selectinload(Item.feed))
        .order_by(Story.first_published_at, Story.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def grown_stories(session: Session, since: datetime) -> list[tuple[Story, int]]:
    """Posted stories that gained sources since they were announced, with the count."""
    query = (
        select(Story)
        .where(Story.posted_digest_id.is_not(None), Story.last_updated_at >= since)
        .options(selectinload(Story.items).selectinload(Item.feed))
    )
    grown = []
    for story in session.scalars(query):
        count = sum(1 for item in story.items if item.kept)
        if count > story.sources_announced:
            grown.append((story, count - story.sources_announced))
    return grown


def build_digest(
    session: Session, settings: DigestSettings, now: datetime
) -> tuple[Digest, list[Story]]:
    """The next digest (newest first) and the stories it will mark as posted."""
    stories = unposted_stories(session, settings.max_stories)
    models = [story_to_model(story) for story in stories]
    updates: list[Story] = []
    if settings.show_new_sources and stories:
        for story, extra in grown_stories(session, now - timedelta(days=7)):
            models.append(story_to_model(story, new_sources=extra))
            updates.append(story)
    models.sort(key=lambda model: model.published or now, reverse=True)
    return Digest(generated_at=now, stories=models, kind="digest"), stories + updates


def mark_posted(stories: Sequence[Story], digest_id: int | None, now: datetime) -> None:
    """Stories in a queued digest are never picked again; new sources from here on count as new."""
    for story in stories:
        if story.posted_at is None:
            story.posted_at = now
            story.posted_digest_id = digest_id
        story.sources_announced = sum(1 for item in story.items if item.kept)


def latest_digest(
    session: Session, settings: DigestSettings, now: datetime, query: str | None = None
) -> Digest:
    """What ``latest`` and /meta-ai answer: recent stories, newest first, optionally searched.

    Without words: the stories of the last ``latest_hours``. With words: the newest stories
    of the last QUERY_WINDOW_DAYS matching them all (bot/store/search.py says how words
    match). Both read indexes only, so the answer costs the same at any size of history.
    """
    terms = parse_query(query) if query and query.strip() else None
    if terms is not None and not terms:
        return Digest(generated_at=now, kind="latest", empty_message=NO_WORDS.format(query=query))
    window = timedelta(days=QUERY_WINDOW_DAYS) if terms else timedelta(hours=settings.latest_hours)
    ids = recent_story_ids(session, now - window, settings.latest_max_stories, terms)
    stories = (
        session.scalars(
            select(Story)
            .where(Story.id.in_(ids))
            .options(selectinload(Story.items).selectinload(Item.feed))
        ).all()
        if ids
        else []
    )
    by_id = {story.id: story for story in stories}
    chosen = [by_id[story_id] for story_id in ids if story_id in by_id]
    empty = (
        EMPTY_QUERY.format(query=query, days=QUERY_WINDOW_DAYS)
        if terms
        else EMPTY_LATEST.format(hours=settings.latest_hours)
    )
    return Digest(
        generated_at=now,
        stories=[story_to_model(story) for story in chosen],
        kind="latest",
        empty_message=None if chosen else empty,
    )
