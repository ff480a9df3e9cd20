"""Item rows: deduplication by guid and normalised link, insertion, and the reads and writes of
the story stage and of full texts, as plain records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Executable, Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.feeds.records import FeedEntry
from bot.store.bounds import bound_of, fit_values
from bot.store.records import columns_of
from bot.store.schema import MAX_TITLE_CHARS as MAX_TITLE_CHARS
from bot.store.schema import Feed, Item

if TYPE_CHECKING:
    from bot.store.feeds import FeedRecord

T = TypeVar("T")
# Bound on the size of one IN (...) list: SQLite and PostgreSQL both accept this easily.
IN_CHUNK = 500


_GUID = bound_of(Item.guid)


def stored_guid(entry: FeedEntry) -> str:
    """An entry's guid as it is stored and looked up: fitted as its column is on every
    flush (bot.store.bounds: NUL characters dropped, a long one fitted), so a lookup finds
    what was stored and never sends PostgreSQL a NUL."""
    return _GUID.apply(entry.guid) or ""


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


class SeenEntries:
    """Which entries of one feed document are already stored, in two queries, not one per entry.

    An entry is already known if its guid is stored for this feed, or its
    normalised link is stored for any feed: a changed guid, a changed title or
    the same article in two feeds (a newsroom and its category feed) is one
    item, never two posts.
    """

    def __init__(self, session: Session, feed_id: int, entries: Sequence[FeedEntry]) -> None:
        guids = [stored_guid(entry) for entry in entries]
        links = [entry.normalized_link for entry in entries if entry.normalized_link]
        self.guids: set[str] = set()
        self.links: set[str] = set()
        with session.no_autoflush:
            for part in chunks(guids):
                query = select(Item.guid).where(Item.feed_id == feed_id, Item.guid.in_(part))
                self.guids.update(session.scalars(query))
            for part in chunks(links):
                link = select(Item.normalized_url).where(Item.normalized_url.in_(part))
                self.links.update(session.scalars(link))

    @classmethod
    def for_batch(
        cls, session: Session, documents: Sequence[tuple[int, Sequence[FeedEntry]]]
    ) -> list[SeenEntries]:
        """:class:`SeenEntries` of several feeds' documents (feed id, entries), in two queries
        for all of them (per 500 values), not two per feed: a cycle stores its outcomes in
        batches of 50."""
        with session.no_autoflush:
            return cls._for_batch(session, documents)

    @classmethod
    def _for_batch(
        cls, session: Session, documents: Sequence[tuple[int, Sequence[FeedEntry]]]
    ) -> list[SeenEntries]:
        guids = sorted({stored_guid(entry) for _, entries in documents for entry in entries})
        links = sorted(
            {
                link
                for _, entries in documents
                for entry in entries
                if (link := entry.normalized_link) is not None
            }
        )
        feed_ids = sorted({feed_id for feed_id, _ in documents})
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
        for feed_id, entries in documents:
            seen = cls.__new__(cls)
            seen.guids = {
                guid for entry in entries if (feed_id, guid := stored_guid(entry)) in stored_guids
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
    feed: FeedRecord,
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
    ``feed`` may be read before this poll was recorded: a first poll's ``first_polled_at``
    is then None, or ``now`` once recorded, and both say "first poll".
    """
    if forgotten_before is not None and published is not None and published < forgotten_before:
        return True
    first_poll = feed.first_polled_at is None or feed.first_polled_at >= now
    if not first_poll:
        return False
    return published is None or published < now - timedelta(hours=backfill_hours)


# ------------------------------------------------------------------------------- records
def best_text(full_text: str | None, content: str | None, summary: str | None) -> str:
    """An item's best text known: fetched full text, feed content, or the snippet (the
    longest). The one home of the choice: records and ``Item.text`` call it."""
    return max((full_text or "", content or "", summary or ""), key=len)


@dataclass(frozen=True, slots=True)
class ItemText:
    """An item's title, link and texts: what rarity weights and the full-text check read."""

    id: int
    title: str
    url: str | None
    summary: str
    content: str
    full_text: str | None

    @property
    def text(self) -> str:
        return best_text(self.full_text, self.content, self.summary)


@dataclass(frozen=True, slots=True)
class SourcedItem(ItemText):
    """An item as the story stage reads it: its texts, dates and story, and its feed's name
    as ``source``."""

    normalized_url: str | None
    comments_url: str | None
    published_at: datetime
    backfill: bool
    full_text_status: str | None
    story_id: int | None
    source: str


_TEXT_COLUMNS = columns_of(Item, ItemText)
# The feed's id where the record has its name: the names come in one more query.
_SOURCED_COLUMNS = (*columns_of(Item, SourcedItem, skip={"source"}), Item.feed_id)


def _texts(session: Session, statement: Executable) -> list[ItemText]:
    """The :class:`ItemText` of each row of a select of ``_TEXT_COLUMNS``."""
    return [ItemText(*row) for row in session.execute(statement)]


def _sourced(session: Session, statement: Executable) -> list[SourcedItem]:
    """The :class:`SourcedItem` of each row of a select of ``_SOURCED_COLUMNS``, in its order.

    The feeds' names come in one more query for all of them (as ``selectinload`` did), not
    a join: the items' query, its plan and so its order stay what they are without one.
    """
    rows: list[tuple[Any, ...]] = [tuple(row) for row in session.execute(statement)]
    feed_ids = sorted({row[-1] for row in rows})
    names: dict[int, str] = {}
    for part in chunks(feed_ids):
        query = select(Feed.id, Feed.name).where(Feed.id.in_(part))
        names.update((feed_id, name) for feed_id, name in session.execute(query))
    return [SourcedItem(*(*row[:-1], names[row[-1]])) for row in rows]


@dataclass(frozen=True, slots=True)
class NewItem:
    """An entry to store as an item, with its topic verdict and whether it is history."""

    feed_id: int
    entry: FeedEntry
    fetched_at: datetime
    kept: bool
    topic_score: float
    topic_reasons: tuple[str, ...]
    backfill: bool


def _new_row(new: NewItem) -> Item:
    """The row of a new item; its strings are fitted to their columns when flushed."""
    entry, now = new.entry, new.fetched_at
    published = entry.published if entry.published and entry.published <= now else now
    return Item(
        feed_id=new.feed_id,
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
        kept=new.kept,
        topic_score=new.topic_score,
        topic_reasons=list(new.topic_reasons),
        backfill=new.backfill,
    )


def add_items(session: Session, items: Sequence[NewItem]) -> list[int]:
    """Store new items (with whatever else the transaction has pending, in one flush);
    their ids, in order."""
    rows = [_new_row(item) for item in items]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


# ------------------------------------------------------------------------------- reads
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


def fresh_items(session: Session, ids: Sequence[int]) -> list[ItemText]:
    """The items with these ids that are not history from a first poll (backfill)."""
    query = select(*_TEXT_COLUMNS).where(Item.id.in_(ids), Item.backfill.is_(False))
    return _texts(session, query)


def claim_ungrouped(session: Session, ids: Sequence[int]) -> list[SourcedItem]:
    """Of these items, the kept ones without a story, oldest first, locked for the caller's
    transaction so that each is grouped by one process only.

    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` (a concurrent grouping
    skips them); on SQLite, where the clause is left out, the caller's transaction holds the
    write lock from its start (``begin_writing``).
    """
    return _sourced(
        session,
        select(*_SOURCED_COLUMNS)
        .where(Item.id.in_(ids), Item.kept.is_(True), Item.story_id.is_(None))
        .order_by(Item.published_at, Item.id)
        .with_for_update(of=Item, skip_locked=True),
    )


def kept_items_of_stories(
    session: Session, story_ids: Iterable[int]
) -> dict[int, list[SourcedItem]]:
    """The kept items of each of these stories (in no particular order), in one query per
    500 stories; a story without any is left out."""
    found: dict[int, list[SourcedItem]] = {}
    for part in chunks(sorted(set(story_ids))):
        query = select(*_SOURCED_COLUMNS).where(Item.story_id.in_(part), Item.kept.is_(True))
        for item in _sourced(session, query):
            assert item.story_id is not None
            found.setdefault(item.story_id, []).append(item)
    return found


def grouped_items_since(session: Session, since: datetime) -> list[SourcedItem]:
    """Items in a story published at or after ``since``."""
    query = select(*_SOURCED_COLUMNS).where(Item.story_id.is_not(None), Item.published_at >= since)
    return _sourced(session, query)


def recent_texts(session: Session, since: datetime, *, kept: bool, limit: int) -> list[ItemText]:
    """At most ``limit`` items (kept or dropped) published at or after ``since``, newest
    first, their texts only."""
    return _texts(
        session,
        select(*_TEXT_COLUMNS)
        .where(Item.kept.is_(kept), Item.published_at >= since)
        .order_by(Item.published_at.desc())
        .limit(limit),
    )


# ------------------------------------------------------------------------------ writes
_ITEMS = cast(Table, Item.__table__)


def update_items(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """Write each dict's values to the item its ``b_id`` names, every string fitted to its
    column, in one statement (executemany). An item deleted meanwhile is skipped."""
    if values:
        fitted = [fit_values(Item, dict(one)) for one in values]
        session.execute(update(_ITEMS).where(_ITEMS.c.id == bindparam("b_id")), fitted)


def store_full_texts(session: Session, texts: Iterable[tuple[int, str | None, str]]) -> None:
    """Keep each item's fetched article text and how fetching it went: (item id, text or
    None, full_text_status)."""
    update_items(
        session,
        [
            {"b_id": item_id, "full_text": text, "full_text_status": status}
            for item_id, text, status in texts
        ],
    )
