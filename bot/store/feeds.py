"""Feed rows: syncing the configured list, and keeping each feed's health and schedule.

Persistence only: when a feed is due, how long it backs off and when it is disabled
are the feeds stage's decisions (bot/feeds/schedule.py); this module reads what they
need from a row and writes what they decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.feeds.http import Validators
from bot.feeds.schedule import FeedHealth
from bot.store.schema import Feed

if TYPE_CHECKING:
    from bot.feeds.poller import FeedOutcome
    from bot.feeds.schedule import NextPoll
    from bot.feeds.settings import FeedConfig

# Enough of an error to act on; the column is TEXT, the rest is noise.
MAX_STORED_ERROR_CHARS = 2000


def sync_feeds(session: Session, configured: Sequence[FeedConfig]) -> dict[str, Feed]:
    """Make sure every configured feed has a row (URL changes are picked up); by name."""
    rows = {feed.name: feed for feed in session.scalars(select(Feed))}
    for config in configured:
        row = rows.get(config.name)
        if row is None:
            row = Feed(
                name=config.name, url=config.url, consecutive_failures=0, disabled_notice_sent=False
            )
            session.add(row)
            rows[config.name] = row
        elif row.url != config.url:
            # A new URL is a new resource: old validators would be wrong, its history
            # is new (backfill applies again) and the old URL's failures are not its own.
            row.url, row.etag, row.last_modified = config.url, None, None
            row.body_sha256 = None
            row.first_polled_at = None
            reset_health(row)
    session.flush()
    return rows


def reset_health(feed: Feed) -> None:
    """Forget failures and backoff: the feed is polled in the next cycle."""
    feed.disabled_at = None
    feed.disabled_notice_sent = False
    feed.consecutive_failures = 0
    feed.next_poll_at = None
    feed.last_error = None


def validators_of(feed: Feed) -> Validators:
    return Validators(etag=feed.etag, last_modified=feed.last_modified)


def health_of(feed: Feed) -> FeedHealth:
    """What the schedule needs of a feed's row."""
    return FeedHealth(
        consecutive_failures=feed.consecutive_failures,
        publisher_floor_seconds=feed.min_interval_seconds,
        disabled=feed.disabled_at is not None,
    )


def record_poll(feed: Feed, outcome: FeedOutcome, decision: NextPoll, now: datetime) -> None:
    """Keep one poll on the feed's row: status, validators, error, and the schedule's decision."""
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
    else:
        feed.last_error = str(outcome.error)[:MAX_STORED_ERROR_CHARS]
    if decision.disabled_now:
        feed.disabled_at = now
        feed.disabled_notice_sent = False


def enable_feed(session: Session, name: str) -> bool:
    """Re-enable a disabled feed and clear its backoff; False if no such feed."""
    feed = session.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        return False
    reset_health(feed)
    return True
