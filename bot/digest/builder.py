"""Stories in the database → the platform-neutral Digest model.

Two questions are answered here: which stories go into the next digest (not
yet posted), and which answer ``latest`` / ``/meta-ai`` (the most recent ones,
posted or not, optionally matching words). The queries behind both live in
bot/store/stories.py and bot/store/search.py; this module turns the story records they
return into models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.common.hosts import GOOGLE_NEWS_HOST, host_of
from bot.digest.model import Digest, DigestSource, DigestStory, StoryUpdate
from bot.digest.settings import DigestSettings
from bot.store.digests import digest_payloads_since
from bot.store.search import parse_query, query_too_long, recent_story_ids
from bot.store.stories import (
    StoryRecord,
    StorySource,
    stories_by_id,
    unposted_changed_since,
    unposted_stories,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

EMPTY_LATEST = "No Meta AI news in the last {hours:g} hours yet. Try again after the next poll."
EMPTY_QUERY = "No Meta AI stories of the last {days} days match “{query}”."
NO_WORDS = (
    "“{query}” has no words to search for: punctuation and common words such as “the” are ignored."
)
# How far back /meta-ai <words> searches.
QUERY_WINDOW_DAYS = 30
# A posted story that gains sources within this long after its last update is mentioned again.
GROWN_WINDOW = timedelta(days=7)


def outlet_name(item: StorySource) -> str:
    """The outlet behind an item: an aggregator's " - Outlet" suffix, else the feed name."""
    title, feed_name = item.title, item.feed_name
    if host_of(item.url) == GOOGLE_NEWS_HOST and " - " in title:
        return title.rsplit(" - ", 1)[1].strip() or feed_name
    return feed_name


def story_to_model(story: StoryRecord) -> DigestStory:
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
        summary=list(story.summary),
        sources=sources,
        image=image,
        summary_note=story.summary_note,
        kind=story.kind,
    )


def build_digest(
    session: Session, settings: DigestSettings, now: datetime
) -> tuple[Digest, list[StoryRecord]]:
    """The next digest as it would be posted now (newest first), and its stories; marks nothing.
    Updates of posted stories are not entries: they go in the thread of each story's post.

    ``digest --dry-run`` shows this; posting claims its stories with
    :func:`bot.store.stories.claim_unposted` and :func:`~bot.store.stories.claim_grown`
    instead, so that two processes never post the same story.
    """
    stories = unposted_stories(session, settings.max_stories)
    return digest_of(stories, now), stories


def digest_of(stories: Sequence[StoryRecord], now: datetime) -> Digest:
    """New stories as one digest, newest first (posted stories' news goes as updates)."""
    models = [story_to_model(story) for story in stories]
    models.sort(key=lambda model: model.published or now, reverse=True)
    return Digest(generated_at=now, stories=models, kind="digest")


def alert_candidates(session: Session, settings: DigestSettings, now: datetime) -> list[int]:
    """Unposted stories that reached ``alert_sources`` outlets within ``alert_hours``.

    Only stories changed within the window can have just crossed it, so only those are read.
    """
    window = timedelta(hours=settings.alert_hours)
    return [
        story.id
        for story in unposted_changed_since(session, now - window)
        if reached(story, settings.alert_sources, window)
    ]


def outlet_count(story: StoryRecord) -> int:
    """How many different outlets cover the story (what a subscription's ``min_outlets``
    counts; :func:`reached` counts the same outlets within a time window)."""
    return len({outlet_name(item) for item in story.items if item.kept})


def reached(story: StoryRecord, outlets: int, window: timedelta) -> bool:
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


def update_of(
    session: Session,
    story: StoryRecord,
    extra: int,
    posted_in: int | None = None,
    channel: str | None = None,
) -> StoryUpdate:
    """What a posted story gained: its ``extra`` newest sources, and the summary sentences
    no digest, alert or earlier update of it has said since ``posted_in`` (the digest that
    carried it; by default the default digest's) in ``channel`` (a subscription's, or
    the default digest's when None)."""
    model = story_to_model(story)
    arrived = sorted(
        (item for item in story.items if item.kept), key=lambda i: (i.fetched_at, i.id)
    )
    new_urls = {item.url for item in arrived[-extra:] if item.url}
    said = said_sentences(session, story, posted_in or story.posted_digest_id, channel)
    return StoryUpdate(
        story=model,
        new_sources=[source for source in model.sources if source.url in new_urls],
        new_sentences=[sentence for sentence in model.summary if sentence not in said],
    )


def said_sentences(
    session: Session, story: StoryRecord, posted_in: int | None, channel: str | None = None
) -> set[str]:
    """Every summary sentence of ``story`` posted so far: in the digest or alert
    ``posted_in`` that carried it, and in its updates since (each recorded in the digests
    table) in ``channel``: a subscription's records name their channel, the default
    digest's name none."""
    if posted_in is None:
        return set()
    key = str(story.id)
    said: set[str] = set()
    for payload in digest_payloads_since(session, posted_in):
        if payload.get("channel") != channel:
            continue
        for entry in [*payload.get("stories", []), *payload.get("updates", [])]:
            if entry.get("id") == key:
                said.update(entry.get("summary") or entry.get("new_sentences") or [])
    return said


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
    by_id = stories_by_id(session, ids)
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
