"""Item rows: deduplication by guid and normalised link, and insertion."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only, selectinload

from bot.feeds.records import FeedEntry
from bot.store.bounds import bound_of
from bot.store.schema import MAX_TITLE_CHARS as MAX_TITLE_CHARS
from bot.store.schema import Feed, Item

# Bound on the size of one IN (...) list: SQLite and PostgreSQL both accept this easily.
IN_CHUNK = 500


_GUID = bound_of(Item.guid)


def stored_guid(entry: FeedEntry) -> str:
    """An entry's guid as it is stored and looked up: fitted as its column is on every
    flush (bot.store.bounds: NUL characters dropped, a long one fitted), so a lookup finds
    what was stored and never sends PostgreSQL a NUL."""
    return _GUID.apply(entry.guid) or ""


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


class SeenEntries:
    """Which entries of one feed document are already stored, in two queries, not one per entry.

    An entry is already known if its guid is stored for this feed, or its
    normalised link is stored for any feed: a changed guid, a changed title or
    the same article in two feeds (a newsroom and its category feed) is one
    item, never two posts.
    """

    def __init__(self, session: Session, feed: Feed, entries: Sequence[FeedEntry]) -> None:
        guids = [stored_guid(entry) for entry in entries]
        links = [entry.normalized_link for entry in entries if entry.normalized_link]
        self.guids: set[str] = set()
        self.links: set[str] = set()
        for part in chunks(guids):
            query = select(Item.guid).where(Item.feed_id == feed.id, Item.guid.in_(part))
            self.guids.update(session.scalars(query))
        for part in chunks(links):
            self.links.update(
                session.scalars(select(Item.normalized_url).where(Item.normalized_url.in_(part)))
            )

    @classmethod
    def for_batch(
        cls, session: Session, documents: Sequence[tuple[Feed, Sequence[FeedEntry]]]
    ) -> list[SeenEntries]:
        """:class:`SeenEntries` of several feeds' documents, in two queries for all of them
        (per 500 values), not two per feed: a cycle stores its outcomes in batches of 50."""
        guids = sorted({stored_guid(entry) for _, entries in documents for entry in entries})
        links = sorted(
            {
                link
                for _, entries in documents
                for entry in entries
                if (link := entry.normalized_link) is not None
            }
        )
        feed_ids = sorted({feed.id for feed, _ in documents})
        stored_guids: set[tuple[int, str]] = set()
        for part in chunks(guids):
            query = select(Item.feed_id, Item.guid).where(
                Item.feed_id.in_(feed_ids), Item.guid.in_(part)
            )
            stored_guids.update((feed_id, guid) for feed_id, guid in session.execute(query))
        stored_links: set[str] = set()
        for part in chunks(links):
            stored_links.update(
                session.scalars(select(Item.normalized_url).where(Item.normalized_url.in_(part)))
            )
        found = []
        for feed, entries in documents:
            seen = cls.__new__(cls)
            seen.guids = {
                guid for entry in entries if (feed.id, guid := stored_guid(entry)) in stored_guids
            }
            seen.links = {
                entry.normalized_link for entry in entries if entry.normalized_link in stored_links
            }
            found.append(seen)
        return found

    def check_and_add(self, entry: FeedEntry) -> bool:
        """True if the entry was seen (stored, or earlier in this document); else remember it."""
        guid = stored_guid(entry)
        link = entry.normalized_link
        if guid in self.guids or (link is not None and link in self.links):
            return True
        self.guids.add(guid)
        if link is not None:
            self.links.add(link)
        return False


def is_backfill(
    feed: Feed,
    published: datetime | None,
    now: datetime,
    backfill_hours: float,
    forgotten_before: datetime | None = None,
) -> bool:
    """On a feed's first poll, entries older than the window are history, not news.

    An undated entry on a first poll is history too: its age is unknown, and a
    dateless feed must not flood the channel with everything it holds. On every
    poll, an entry published before ``forgotten_before`` (the retention cutoff) is
    history: its item may have been pruned, and nothing remembers that it was posted.
    """
    if forgotten_before is not None and published is not None and published < forgotten_before:
        return True
    first_poll = feed.first_polled_at is None or feed.first_polled_at >= now
    if not first_poll:
        return False
    return published is None or published < now - timedelta(hours=backfill_hours)


def new_item(feed: Feed, entry: FeedEntry, now: datetime) -> Item:
    """An unsaved Item for an entry; topic and story fields are filled by the caller."""
    published = entry.published if entry.published and entry.published <= now else now
    return Item(
        feed_id=feed.id,
        guid=stored_guid(entry),
        url=entry.link,
        normalized_url=entry.normalized_link,
        # Cut to MAX_TITLE_CHARS with every other text before it is written (bot.store.bounds).
        title=entry.title,
        summary=entry.summary,
        content=entry.content,
        image=entry.image,
        comments_url=entry.comments,
        author=entry.author,
        published_at=published,
        fetched_at=now,
        kept=False,
        topic_score=0.0,
        topic_reasons=[],
        backfill=False,
    )


def ungrouped_item_ids(session: Session, limit: int) -> list[int]:
    """Kept items without a story, oldest first: what grouping has still to do.

    The partial index ``ix_items_ungrouped`` holds exactly these rows, so asking costs
    nothing however many items are stored.
    """
    return list(
        session.scalars(
            select(Item.id)
            .where(Item.kept.is_(True), Item.story_id.is_(None))
            .order_by(Item.published_at, Item.id)
            .limit(limit)
        )
    )


def fresh_items(session: Session, ids: Sequence[int]) -> list[Item]:
    """The items with these ids that are not history from a first poll (backfill)."""
    return list(session.scalars(select(Item).where(Item.id.in_(ids), Item.backfill.is_(False))))


def claim_ungrouped(session: Session, ids: Sequence[int]) -> list[Item]:
    """Of these items, the kept ones without a story, oldest first (with their feeds), locked
    for the caller's transaction so that each is grouped by one process only.

    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` (a concurrent grouping
    skips them); on SQLite, where the clause is left out, the caller's transaction holds the
    write lock from its start (``begin_writing``).
    """
    return list(
        session.scalars(
            select(Item)
            .where(Item.id.in_(ids), Item.kept.is_(True), Item.story_id.is_(None))
            .order_by(Item.published_at, Item.id)
            .options(selectinload(Item.feed))
            .with_for_update(of=Item, skip_locked=True)
        ).all()
    )


def items_of_story(session: Session, story_id: int) -> list[Item]:
    """Every item of a story, kept or not."""
    return list(session.scalars(select(Item).where(Item.story_id == story_id)))


def kept_items_of_story(session: Session, story_id: int) -> list[Item]:
    """The kept items of a story, with their feeds."""
    return list(
        session.scalars(
            select(Item)
            .where(Item.story_id == story_id, Item.kept.is_(True))
            .options(selectinload(Item.feed))
        )
    )


def grouped_items_since(session: Session, since: datetime) -> list[Item]:
    """Items in a story published at or after ``since``, with their feeds."""
    return list(
        session.scalars(
            select(Item)
            .where(Item.story_id.is_not(None), Item.published_at >= since)
            .options(selectinload(Item.feed))
        )
    )


def recent_texts(session: Session, since: datetime, *, kept: bool, limit: int) -> list[Item]:
    """At most ``limit`` items (kept or dropped) published at or after ``since``, newest
    first, with only their texts loaded."""
    return list(
        session.scalars(
            select(Item)
            .options(load_only(Item.title, Item.full_text, Item.content, Item.summary))
            .where(Item.kept.is_(kept), Item.published_at >= since)
            .order_by(Item.published_at.desc())
            .limit(limit)
        )
    )
