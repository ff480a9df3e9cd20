"""Feed rows: the configured list synced in, feeds added and removed at run time, and each
feed's health and schedule.

Persistence only: when a feed is due, how long it backs off and when it is disabled
are the feeds stage's decisions (bot/feeds/schedule.py); this module reads what they
need from a row and writes what they decided. Callers get :class:`FeedRecord` values, never
rows: the rows are changed here, in the caller's transaction, and flushed with it (error
texts redacted and every string fitted to its column on the way, bot.store.database).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.feeds.records import Validators
from bot.feeds.schedule import FeedHealth
from bot.store.bounds import bound_of, fit_values
from bot.store.records import fields_of
from bot.store.schema import SOURCE_ADDED, SOURCE_CONFIG, Feed

__all__ = ["SOURCE_ADDED", "SOURCE_CONFIG"]  # where a feed came from, for the layers above

if TYPE_CHECKING:
    from bot.feeds.records import FeedOutcome
    from bot.feeds.schedule import NextPoll
    from bot.feeds.settings import FeedConfig

#: The longest feed name stored (a longer one is cut when written).
FEED_NAME_CHARS = bound_of(Feed.name).limit


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """A feed's row as the layers above read it: where it is, where it came from, its health."""

    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    last_status: str | None
    last_error: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    first_polled_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    min_interval_seconds: float | None
    body_sha256: str | None
    disabled_at: datetime | None
    disabled_notice_sent: bool
    source: str
    topic: str
    site_url: str | None
    category: str | None
    added_by: str | None
    added_at: datetime | None
    removed_at: datetime | None


_FIELDS = fields_of(FeedRecord)


def _record(row: Feed) -> FeedRecord:
    """The record of a row, as the session holds it (flushed or not)."""
    return FeedRecord(*(getattr(row, name) for name in _FIELDS))


def sync_feeds(session: Session, configured: Sequence[FeedConfig]) -> dict[str, FeedRecord]:
    """Make sure every configured feed has a row (URL and topic changes are picked up);
    every row by name.

    The config file wins: a feed it lists is a config feed, even if it was added at run
    time under the same name before (or removed since).
    """
    rows = {feed.name: feed for feed in session.scalars(select(Feed))}
    for config in configured:
        row = rows.get(config.name)
        if row is None:
            row = Feed(
                name=config.name,
                url=config.url,
                consecutive_failures=0,
                disabled_notice_sent=False,
                source=SOURCE_CONFIG,
                topic=config.topic,
            )
            session.add(row)
            rows[config.name] = row
        else:
            if row.url != config.url:
                _set_url(row, config.url)
            row.source, row.topic, row.removed_at = SOURCE_CONFIG, config.topic, None
    session.flush()
    return {name: _record(row) for name, row in rows.items()}


def _set_url(row: Feed, url: str) -> None:
    """Point a feed at a new URL. A new URL is a new resource: old validators would be wrong,
    its history is new (backfill applies again) and the old URL's failures are not its own."""
    row.url, row.etag, row.last_modified = url, None, None
    row.body_sha256 = None
    row.first_polled_at = None
    _reset_health(row)


def is_active(feed: Feed | FeedRecord, configured_names: Collection[str]) -> bool:
    """A feed the bot has now: listed in the config, or added and not removed. A config
    feed dropped from the config file keeps its row (and its items), but is gone."""
    if feed.source == SOURCE_ADDED:
        return feed.removed_at is None
    return feed.name in configured_names


def all_feeds(session: Session) -> list[FeedRecord]:
    """Every feed, the dropped and removed ones too, by name."""
    return [_record(row) for row in session.scalars(select(Feed).order_by(Feed.name))]


def active_feeds(session: Session, configured: Sequence[FeedConfig]) -> list[FeedRecord]:
    """The feeds the bot has now, by name."""
    names = {config.name for config in configured}
    return [feed for feed in all_feeds(session) if is_active(feed, names)]


class FeedConflictError(ValueError):
    """The feed cannot be added or removed; the message says why and what to do."""


def add_feed(
    session: Session,
    configured: Sequence[FeedConfig],
    *,
    name: str,
    url: str,
    added_by: str,
    now: datetime,
    topic: str = "rules",
    site_url: str | None = None,
    category: str | None = None,
) -> FeedRecord:
    """Store a feed added at run time; FeedConflictError if the name or URL is taken.

    A removed feed of that name comes back (its history too when the URL is the same);
    so does a feed dropped from the config file.
    """
    names = {config.name for config in configured}
    rows = list(session.scalars(select(Feed)))
    for row in rows:
        if not is_active(row, names):
            continue
        where = "in the config file" if row.source == SOURCE_CONFIG else "added"
        if row.name == name:
            raise FeedConflictError(
                f"there is already a feed named “{name}” ({where}, {row.url}); choose another name"
            )
        if row.url == url:
            raise FeedConflictError(f"{url} is already polled as “{row.name}” ({where})")
    existing = next((row for row in rows if row.name == name), None)
    row = _added_row(session, existing, NewFeed(name, url, site_url, category), topic)
    row.added_by, row.added_at = added_by, now
    session.flush()
    return _record(row)


@dataclass(frozen=True)
class NewFeed:
    """A feed to add at run time, checked already (bulk imports: :func:`add_feeds`)."""

    name: str
    url: str
    site_url: str | None = None
    category: str | None = None


@dataclass
class FeedList:
    """The names and URLs the bot has now, read in one query: what a bulk import checks
    each of its feeds against in memory, not with a query per feed."""

    #: Names of the feeds the bot has (configured, or added and not removed).
    names: set[str] = field(default_factory=set)
    #: Their URLs.
    urls: set[str] = field(default_factory=set)
    #: Rows the bot does not have now, by name: a feed added under that name reuses its row
    #: (names are unique), as :func:`add_feed` does.
    inactive: dict[str, int] = field(default_factory=dict)


def feed_list(session: Session, configured: Sequence[FeedConfig]) -> FeedList:
    """Every name and URL taken now, and the inactive rows, in one query."""
    configured_names = {config.name for config in configured}
    found = FeedList(set(configured_names), {config.url for config in configured})
    columns = select(Feed.id, Feed.name, Feed.url, Feed.source, Feed.removed_at)
    for row_id, name, url, source, removed_at in session.execute(columns):
        active = removed_at is None if source == SOURCE_ADDED else name in configured_names
        if active:
            found.names.add(name)
            found.urls.add(url)
        else:
            found.inactive[name] = row_id
    return found


def add_feeds(
    session: Session,
    feeds: Sequence[NewFeed],
    inactive: Mapping[str, int],
    *,
    added_by: str,
    now: datetime,
    topic: str = "rules",
) -> None:
    """Store feeds added at run time, checked already against a :class:`FeedList`: one
    insert (executemany) for the new ones, and one query for the inactive rows among them."""
    returning_ids = [inactive[feed.name] for feed in feeds if feed.name in inactive]
    returning = (
        {row.name: row for row in session.scalars(select(Feed).where(Feed.id.in_(returning_ids)))}
        if returning_ids
        else {}
    )
    new = []
    for feed in feeds:
        if feed.name in returning:
            row = _added_row(session, returning[feed.name], feed, topic)
            row.added_by, row.added_at = added_by, now
            continue
        values = {
            "name": feed.name,
            "url": feed.url,
            "site_url": feed.site_url,
            "category": feed.category,
            "consecutive_failures": 0,
            "disabled_notice_sent": False,
            "source": SOURCE_ADDED,
            "topic": topic,
            "added_by": added_by,
            "added_at": now,
        }
        new.append(fit_values(Feed, values))  # a bulk insert: no flush hook fits it
    if new:
        session.execute(insert(Feed), new)
    session.flush()


def _added_row(session: Session, existing: Feed | None, feed: NewFeed, topic: str) -> Feed:
    """The row of an added feed: new, or ``existing`` (a removed feed's) brought back."""
    if existing is None:
        row = Feed(name=feed.name, url=feed.url, consecutive_failures=0, disabled_notice_sent=False)
        session.add(row)
    else:
        row = existing
        if row.url != feed.url:
            _set_url(row, feed.url)
        else:
            _reset_health(row)
    row.source, row.topic, row.removed_at = SOURCE_ADDED, topic, None
    row.site_url = feed.site_url or row.site_url
    row.category = feed.category or row.category
    return row


def remove_feed(
    session: Session, configured: Sequence[FeedConfig], name: str, now: datetime
) -> FeedRecord:
    """Remove an added feed (its row, items and stories stay); FeedConflictError for an
    unknown name or a feed the config file lists."""
    configured_names = {config.name for config in configured}
    row = _row_named(session, name)
    if row is None or not is_active(row, configured_names):
        raise FeedConflictError(f"there is no feed named “{name}”")
    if row.source == SOURCE_CONFIG:
        raise FeedConflictError(
            f"“{name}” comes from the config file: remove it there ([[feeds]] or "
            "[[extra_feeds]]; a shipped feed goes by listing your own [[feeds]]), or set "
            "enabled = false on its entry"
        )
    row.removed_at = now
    return _record(row)


def _reset_health(feed: Feed) -> None:
    """Forget failures and backoff: the feed is polled in the next cycle."""
    feed.disabled_at = None
    feed.disabled_notice_sent = False
    feed.consecutive_failures = 0
    feed.next_poll_at = None
    feed.last_error = None


def validators_of(feed: FeedRecord) -> Validators:
    return Validators(etag=feed.etag, last_modified=feed.last_modified)


def health_of(feed: FeedRecord) -> FeedHealth:
    """What the schedule needs of a feed."""
    return FeedHealth(
        consecutive_failures=feed.consecutive_failures,
        publisher_floor_seconds=feed.min_interval_seconds,
        disabled=feed.disabled_at is not None,
    )


@dataclass(frozen=True, slots=True)
class Poll:
    """One feed's poll: what came of it and what the schedule decided."""

    feed_id: int
    outcome: FeedOutcome
    decision: NextPoll


def record_polls(session: Session, polls: Sequence[Poll], now: datetime) -> None:
    """Keep each poll on its feed's row (the rows of all of them read in one query)."""
    ids = [poll.feed_id for poll in polls]
    rows = {row.id: row for row in session.scalars(select(Feed).where(Feed.id.in_(ids)))}
    for poll in polls:
        _record_poll(rows[poll.feed_id], poll.outcome, poll.decision, now)


def _record_poll(feed: Feed, outcome: FeedOutcome, decision: NextPoll, now: datetime) -> None:
    """One poll on the feed's row: status, validators, error, the site a document names,
    and the schedule's decision."""
    feed.last_attempt_at = now
    feed.last_status = outcome.status
    feed.consecutive_failures = decision.consecutive_failures
    feed.min_interval_seconds = decision.publisher_floor_seconds
    feed.next_poll_at = decision.not_before
    if outcome.error is None:
        # The first *successful* poll starts the feed's history (see backfill).
        if feed.first_polled_at is None:
            feed.first_polled_at = now
        feed.last_error = None
        feed.last_success_at = now
        feed.etag, feed.last_modified = outcome.validators.etag, outcome.validators.last_modified
        if outcome.parsed is not None:
            # Only a document that parsed: one that failed is tried again, not skipped.
            feed.body_sha256 = outcome.body_sha256
            feed.site_url = outcome.parsed.link or feed.site_url
    else:
        feed.last_error = str(outcome.error)  # cut to its column's bound when flushed
    if decision.disabled_now:
        feed.disabled_at = now
        feed.disabled_notice_sent = False


def feeds_named(session: Session, names: Collection[str]) -> dict[str, FeedRecord]:
    """The feeds with these names, by name (names with no row are left out)."""
    rows = session.scalars(select(Feed).where(Feed.name.in_(names)))
    return {row.name: _record(row) for row in rows}


def feed_named(session: Session, name: str) -> FeedRecord | None:
    """The feed called ``name``, or None."""
    row = _row_named(session, name)
    return None if row is None else _record(row)


def _row_named(session: Session, name: str) -> Feed | None:
    return session.scalar(select(Feed).where(Feed.name == name))


def enable_feed(session: Session, name: str) -> FeedRecord | None:
    """Re-enable a disabled feed and clear its backoff; None if no such feed."""
    row = _row_named(session, name)
    if row is None:
        return None
    _reset_health(row)
    return _record(row)


def note_disabled_notice_sent(session: Session, feed_id: int) -> None:
    """Remember that admins were told the feed is disabled: they are told once."""
    session.execute(update(Feed).where(Feed.id == feed_id).values(disabled_notice_sent=True))
