"""Stories in the database → the platform-neutral Digest model.

Two questions are answered here: which stories go into the next digest (not
yet posted), and which answer ``latest`` / ``/meta-ai`` (the most recent ones,
posted or not, optionally matching words).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from bot.common.hosts import GOOGLE_NEWS_HOST, host_of
from bot.digest.model import Digest, DigestSource, DigestStory, StoryUpdate
from bot.digest.settings import DigestSettings
from bot.store.schema import DigestRecord, Item, Story
from bot.store.search import parse_query, query_too_long, recent_story_ids

EMPTY_LATEST = "No Meta AI news in the last {hours:g} hours yet. Try again after the next poll."
EMPTY_QUERY = "No Meta AI stories of the last {days} days match “{query}”."
NO_WORDS = (
    "“{query}” has no words to search for: punctuation and common words such as “the” are ignored."
)
# How far back /meta-ai <words> searches.
QUERY_WINDOW_DAYS = 30
# A posted story that gains sources within this long after its last update is mentioned again.
GROWN_WINDOW = timedelta(days=7)


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
        kind=story.kind,
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


def has_unposted(session: Session) -> bool:
    """True when at least one story waits for a digest."""
    return session.scalar(select(Story.id).where(Story.posted_at.is_(None)).limit(1)) is not None


def grown_stories(session: Session, since: datetime) -> list[tuple[Story, int]]:
    """Posted stories that gained sources since they were announced, with the count."""
    query = (
        select(Story)
        .where(Story.posted_digest_id.is_not(None), Story.last_updated_at >= since)
        .options(selectinload(Story.items).selectinload(Item.feed))
    )
    grown = []
    for story in session.scalars(query):
        count = kept_sources(story)
        if count > story.sources_announced:
            grown.append((story, count - story.sources_announced))
    return grown


def build_digest(
    session: Session, settings: DigestSettings, now: datetime
) -> tuple[Digest, list[Story]]:
    """The next digest as it would be posted now (newest first), and its stories; marks nothing.
    Updates of posted stories are not entries: they go in the thread of each story's post.

    ``digest --dry-run`` shows this; posting claims its stories with :func:`claim_unposted`
    and :func:`claim_grown` instead, so that two processes never post the same story.
    """
    stories = unposted_stories(session, settings.max_stories)
    return digest_of(stories, [], now), list(stories)


def digest_of(
    stories: Sequence[Story], grown: Sequence[tuple[Story, int]], now: datetime
) -> Digest:
    """New stories and "+N more sources" updates as one digest, newest first."""
    models = [story_to_model(story) for story in stories]
    models += [story_to_model(story, new_sources=extra) for story, extra in grown]
    models.sort(key=lambda model: model.published or now, reverse=True)
    return Digest(generated_at=now, stories=models, kind="digest")


def kept_sources(story: Story) -> int:
    return sum(1 for item in story.items if item.kept)


def alert_candidates(session: Session, settings: DigestSettings, now: datetime) -> list[int]:
    """Unposted stories that reached ``alert_sources`` outlets within ``alert_hours``.

    Only stories changed within the window can have just crossed it, so only those are read.
    """
    window = timedelta(hours=settings.alert_hours)
    query = (
        select(Story)
        .where(Story.posted_at.is_(None), Story.last_updated_at >= now - window)
        .options(selectinload(Story.items).selectinload(Item.feed))
        .order_by(Story.first_published_at, Story.id)
    )
    return [
        story.id
        for story in session.scalars(query)
        if reached(story, settings.alert_sources, window)
    ]


def reached(story: Story, outlets: int, window: timedelta) -> bool:
    """True when ``outlets`` different outlets published on the story within ``window``."""
    first: dict[str, datetime] = {}
    for item in story.items:
        if item.kept:
            name = outlet_name(item)
            first[name] = min(first.get(name, item.published_at), item.published_at)
    times = sorted(first.values())
    return any(
        times[end] - times[end - outlets + 1] <= window for end in range(outlets - 1, len(times))
    )


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
            select(Story)
            .where(Story.posted_digest_id == digest_id)
            .options(selectinload(Story.items).selectinload(Item.feed))
            .order_by(Story.first_published_at, Story.id)
        )
    )
    for story in claimed:
        # New sources from here on count as new.
        story.sources_announced = kept_sources(story)
    return claimed


def update_of(session: Session, story: Story, extra: int) -> StoryUpdate:
    """What a posted story gained: its ``extra`` newest sources, and the summary sentences
    no digest, alert or earlier update of it has said."""
    model = story_to_model(story)
    arrived = sorted(
        (item for item in story.items if item.kept), key=lambda i: (i.fetched_at, i.id)
    )
    new_urls = {item.url for item in arrived[-extra:] if item.url}
    said = said_sentences(session, story)
    return StoryUpdate(
        story=model,
        new_sources=[source for source in model.sources if source.url in new_urls],
        new_sentences=[sentence for sentence in model.summary if sentence not in said],
    )


def said_sentences(session: Session, story: Story) -> set[str]:
    """Every summary sentence of ``story`` posted so far: in the digest or alert that
    carried it, and in its updates since (each recorded in the digests table)."""
    if story.posted_digest_id is None:
        return set()
    key = str(story.id)
    said: set[str] = set()
    payloads = session.scalars(
        select(DigestRecord.payload).where(DigestRecord.id >= story.posted_digest_id)
    )
    for payload in payloads:
        for entry in [*payload.get("stories", []), *payload.get("updates", [])]:
            if entry.get("id") == key:
                said.update(entry.get("summary") or entry.get("new_sentences") or [])
    return said


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


def latest_digest(
    session: Session, settings: DigestSettings, now: datetime, query: str | None = None
) -> Digest:
    """What ``latest`` and /meta-ai answer: recent stories, newest first, optionally searched.

    Without words: the stories of the last ``latest_hours``. With words: the newest stories
    of the last QUERY_WINDOW_DAYS matching them all (bot/store/search.py says how words
    match). Both read indexes only, so the answer costs the same at any size of history.
    """
    too_long = query_too_long(query) if query else None
    if too_long is not None:
        return Digest(generated_at=now, kind="latest", empty_message=too_long)
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
