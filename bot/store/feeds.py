"""Feed rows: syncing the configured list, health, backoff and disabling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.common.retry import capped_backoff
from bot.feeds.http import Validators
from bot.feeds.poller import FeedOutcome
from bot.feeds.settings import FeedConfig, FetchSettings
from bot.store.schema import Feed


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
            row.first_polled_at = None
            reset_health(row)
    session.flush()
    return rows


# A publisher's interval is a floor measured between our requests; it is applied
# this much early (at most) so that a feed whose <ttl> equals the poll interval is
# polled every cycle rather than every other one because of scheduling jitter.
FLOOR_SLACK = timedelta(seconds=60)
FLOOR_SLACK_SHARE = 0.05


def reset_health(feed: Feed) -> None:
    """Forget failures and backoff: the feed is polled in the next cycle."""
    feed.disabled_at = None
    feed.disabled_notice_sent = False
    feed.consecutive_failures = 0
    feed.next_poll_at = None
    feed.last_error = None


def is_due(feed: Feed, now: datetime) -> bool:
    return feed.disabled_at is None and (feed.next_poll_at is None or feed.next_poll_at <= now)


def validators_of(feed: Feed) -> Validators:
    return Validators(etag=feed.etag, last_modified=feed.last_modified)


def backoff_delay(failures: int, settings: FetchSettings) -> timedelta:
    """base × 2^(failures-1), capped: 5 min, 10, 20, ... up to a day by default."""
    minutes = capped_backoff(failures, settings.backoff_base_minutes, settings.backoff_max_minutes)
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class HealthChange:
    """What recording an outcome changed that someone should hear about."""

    disabled_now: bool = False


def record_outcome(
    session: Session, feed: Feed, outcome: FeedOutcome, settings: FetchSettings, now: datetime
) -> HealthChange:
    """Store validators, status and the next allowed poll time after one fetch."""
    feed.last_attempt_at = now
    feed.last_status = outcome.status
    cap = settings.max_publisher_interval_minutes * 60.0
    requested_at = now - timedelta(seconds=max(0.0, outcome.elapsed))
    if outcome.error is None:
        # The first *successful* poll starts the feed's history (see backfill).
        if feed.first_polled_at is None:
            feed.first_polled_at = now
        feed.consecutive_failures = 0
        feed.last_error = None
        feed.last_success_at = now
        feed.etag, feed.last_modified = outcome.validators.etag, outcome.validators.last_modified
        floor = outcome.min_interval
        if floor is None and outcome.not_modified:
            floor = feed.min_interval_seconds  # a 304 carries no <ttl>: the last one holds
        floor = min(floor, cap) if floor else None
        feed.min_interval_seconds = floor
        feed.next_poll_at = (
            requested_at + timedelta(seconds=floor) - min(FLOOR_SLACK, floor_slack(floor))
            if floor
            else None
        )
        return HealthChange()
    feed.consecutive_failures += 1
    feed.last_error = str(outcome.error)[:2000]
    delay = backoff_delay(feed.consecutive_failures, settings)
    if outcome.error.retry_after is not None:
        # Retry-After (429, 503) is an explicit "not before": applied exactly, capped.
        delay = max(delay, timedelta(seconds=min(outcome.error.retry_after, cap)))
    feed.next_poll_at = requested_at + delay
    if feed.consecutive_failures >= settings.disable_after_failures and feed.disabled_at is None:
        feed.disabled_at = now
        feed.disabled_notice_sent = False
        return HealthChange(disabled_now=True)
    return HealthChange()


def floor_slack(floor_seconds: float) -> timedelta:
    return timedelta(seconds=floor_seconds * FLOOR_SLACK_SHARE)


def enable_feed(session: Session, name: str) -> bool:
    """Re-enable a disabled feed and clear its backoff; False if no such feed."""
    feed = session.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        return False
    reset_health(feed)
    return True
