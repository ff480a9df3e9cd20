"""When a feed is polled next: backoff after failures, the publisher's floor after a success,
and disabling after too many failures in a row.

Pure functions over plain values, read no clock and no database: the ingest service
asks them after each poll and the store keeps their answer on the feed's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.common.retry import capped_backoff

if TYPE_CHECKING:
    from bot.feeds.records import FeedOutcome
    from bot.feeds.settings import FetchSettings

# A publisher's interval is a floor measured between our requests; it is applied
# this much early (at most) so that a feed whose <ttl> equals the poll interval is
# polled every cycle rather than every other one because of scheduling jitter.
FLOOR_SLACK = timedelta(seconds=60)
FLOOR_SLACK_SHARE = 0.05


class Scheduled(Protocol):
    """A feed as :func:`is_due` sees it: a stored row, or any record with these fields."""

    @property
    def disabled_at(self) -> datetime | None: ...

    @property
    def next_poll_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class FeedHealth:
    """What the schedule remembers of a feed from one poll to the next."""

    consecutive_failures: int = 0
    # The publisher's floor (seconds) from an earlier answer: a 304 repeats none.
    publisher_floor_seconds: float | None = None
    disabled: bool = False


@dataclass(frozen=True)
class NextPoll:
    """The schedule's decision after one poll."""

    # None: the next cycle.
    not_before: datetime | None
    consecutive_failures: int
    publisher_floor_seconds: float | None
    # This poll crossed the failure limit: disable the feed and tell the admins, once.
    disabled_now: bool = False


def is_due(feed: Scheduled, now: datetime) -> bool:
    """Not disabled, and not asked to wait past ``now``."""
    return feed.disabled_at is None and (feed.next_poll_at is None or feed.next_poll_at <= now)


def next_poll(
    outcome: FeedOutcome, health: FeedHealth, settings: FetchSettings, now: datetime
) -> NextPoll:
    """When to poll a feed again after ``outcome``, received at ``now``."""
    # Intervals run from our request, not from the end of a slow download.
    requested_at = now - timedelta(seconds=max(0.0, outcome.elapsed))
    if outcome.error is None:
        floor = publisher_floor(
            outcome.min_interval,
            # The same document again, unparsed: its <ttl> is the one remembered.
            outcome.not_modified or outcome.unchanged,
            health.publisher_floor_seconds,
            settings,
        )
        return NextPoll(after_floor(requested_at, floor), 0, floor)
    failures = health.consecutive_failures + 1
    return NextPoll(
        not_before=requested_at + failure_delay(failures, outcome.error.retry_after, settings),
        consecutive_failures=failures,
        publisher_floor_seconds=health.publisher_floor_seconds,
        disabled_now=not health.disabled and failures >= settings.disable_after_failures,
    )


def publisher_floor(
    announced: float | None, not_modified: bool, remembered: float | None, settings: FetchSettings
) -> float | None:
    """Seconds the publisher asked us to wait (Cache-Control max-age, <ttl>), capped.

    A 304 without max-age keeps the floor remembered from the last full answer; a full
    answer without one drops it.
    """
    floor = remembered if announced is None and not_modified else announced
    return min(floor, max_publisher_interval(settings)) if floor else None


def after_floor(requested_at: datetime, floor_seconds: float | None) -> datetime | None:
    """The next poll a floor allows, a little early (:data:`FLOOR_SLACK`); None without one."""
    if not floor_seconds:
        return None
    slack = min(FLOOR_SLACK, floor_slack(floor_seconds))
    return requested_at + timedelta(seconds=floor_seconds) - slack


def floor_slack(floor_seconds: float) -> timedelta:
    return timedelta(seconds=floor_seconds * FLOOR_SLACK_SHARE)


def failure_delay(failures: int, retry_after: float | None, settings: FetchSettings) -> timedelta:
    """The backoff, or the server's Retry-After (429, 503) when longer: an explicit "not
    before", applied exactly but capped like a publisher's floor."""
    delay = backoff_delay(failures, settings)
    if retry_after is None:
        return delay
    return max(delay, timedelta(seconds=min(retry_after, max_publisher_interval(settings))))


def backoff_delay(failures: int, settings: FetchSettings) -> timedelta:
    """base × 2^(failures-1), capped: 5 min, 10, 20, ... up to a day by default."""
    minutes = capped_backoff(failures, settings.backoff_base_minutes, settings.backoff_max_minutes)
    return timedelta(minutes=minutes)


def max_publisher_interval(settings: FetchSettings) -> float:
    """The longest wait (seconds) a publisher or server may impose on us."""
    return settings.max_publisher_interval_minutes * 60.0
