"""The feed schedule's decisions, as pure functions: plain values in, plain values out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import FetchSettings
from bot.feeds.errors import FailureKind, FetchError, ParseError
from bot.feeds.records import FeedOutcome
from bot.feeds.schedule import (
    FeedHealth,
    NextPoll,
    after_floor,
    backoff_delay,
    failure_delay,
    is_due,
    next_poll,
    publisher_floor,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = FetchSettings(
    backoff_base_minutes=2,
    backoff_max_minutes=60,
    disable_after_failures=3,
    max_publisher_interval_minutes=120,
)


@dataclass
class Row:
    """Any record with the two fields is_due reads, not only a stored feed."""

    disabled_at: datetime | None = None
    next_poll_at: datetime | None = None


def ok(min_interval: float | None = None, *, elapsed: float = 0.0) -> FeedOutcome:
    return FeedOutcome(name="f", url="u", min_interval=min_interval, elapsed=elapsed)


def failed(error: FetchError, *, elapsed: float = 0.0) -> FeedOutcome:
    return FeedOutcome(name="f", url="u", error=error, elapsed=elapsed)


def http_503(retry_after: float | None = None) -> FetchError:
    return FetchError(FailureKind.HTTP_STATUS, "HTTP 503", status=503, retry_after=retry_after)


@pytest.mark.parametrize(
    ("row", "due"),
    [
        (Row(), True),  # never told to wait
        (Row(next_poll_at=NOW), True),
        (Row(next_poll_at=NOW - timedelta(minutes=1)), True),
        (Row(next_poll_at=NOW + timedelta(seconds=1)), False),
        (Row(disabled_at=NOW - timedelta(days=1)), False),
        (Row(disabled_at=NOW - timedelta(days=1), next_poll_at=NOW - timedelta(hours=1)), False),
    ],
)
def test_a_feed_is_due_when_enabled_and_not_asked_to_wait(row: Row, due: bool) -> None:
    assert is_due(row, NOW) is due


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    minutes = [backoff_delay(failures, SETTINGS) / timedelta(minutes=1) for failures in range(7)]
    assert minutes == [2, 2, 4, 8, 16, 32, 60]
    assert backoff_delay(10_000, SETTINGS) == timedelta(minutes=60)  # no overflow


@pytest.mark.parametrize(
    ("retry_after", "minutes"),
    [(None, 8), (60, 8), (1800, 30), (86_400, 120)],  # the backoff, the server, the cap
)
def test_retry_after_is_honoured_when_longer_than_the_backoff_up_to_the_cap(
    retry_after: float | None, minutes: float
) -> None:
    assert failure_delay(3, retry_after, SETTINGS) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("announced", "not_modified", "remembered", "floor"),
    [
        (600.0, False, None, 600.0),  # Cache-Control max-age or <ttl>
        (600.0, False, 900.0, 600.0),  # a new answer replaces the remembered floor
        (None, False, 900.0, None),  # a full answer without one drops it
        (None, True, 900.0, 900.0),  # a 304 repeats none: the remembered floor holds
        (None, True, None, None),
        (30 * 86_400.0, False, None, 7200.0),  # a month is capped at two hours here
        (0.0, False, None, None),  # max-age=0 is no floor
    ],
)
def test_the_publishers_floor(
    announced: float | None, not_modified: bool, remembered: float | None, floor: float | None
) -> None:
    assert publisher_floor(announced, not_modified, remembered, SETTINGS) == floor


@pytest.mark.parametrize(
    ("floor_seconds", "due_after"),
    [
        (None, None),  # no floor: the next cycle
        (600.0, timedelta(seconds=570)),  # 5% early for short floors
        (1800.0, timedelta(seconds=1740)),  # at most a minute early
        (7200.0, timedelta(seconds=7140)),
    ],
)
def test_a_floor_is_applied_slightly_early(
    floor_seconds: float | None, due_after: timedelta | None
) -> None:
    expected = None if due_after is None else NOW + due_after
    assert after_floor(NOW, floor_seconds) == expected


def test_a_success_resets_the_failures_and_waits_for_the_floor_from_the_request() -> None:
    health = FeedHealth(consecutive_failures=2, publisher_floor_seconds=900.0)
    decision = next_poll(ok(1800.0, elapsed=20.0), health, SETTINGS, NOW)
    requested = NOW - timedelta(seconds=20)
    assert decision == NextPoll(
        not_before=requested + timedelta(minutes=29),
        consecutive_failures=0,
        publisher_floor_seconds=1800.0,
    )


def test_a_success_without_a_floor_is_due_next_cycle() -> None:
    decision = next_poll(ok(), FeedHealth(publisher_floor_seconds=900.0), SETTINGS, NOW)
    assert decision == NextPoll(None, 0, None)


def test_a_not_modified_answer_keeps_the_remembered_floor() -> None:
    outcome = FeedOutcome(name="f", url="u", not_modified=True)
    decision = next_poll(outcome, FeedHealth(publisher_floor_seconds=1200.0), SETTINGS, NOW)
    assert decision == NextPoll(NOW + timedelta(minutes=19), 0, 1200.0)


def test_a_failure_backs_off_from_the_request_and_remembers_the_floor() -> None:
    health = FeedHealth(consecutive_failures=1, publisher_floor_seconds=1200.0)
    decision = next_poll(failed(http_503(), elapsed=5.0), health, SETTINGS, NOW)
    assert decision == NextPoll(
        not_before=NOW - timedelta(seconds=5) + timedelta(minutes=4),
        consecutive_failures=2,
        publisher_floor_seconds=1200.0,
    )


def test_a_parse_failure_backs_off_like_a_fetch_failure() -> None:
    error = ParseError(FailureKind.NOT_A_FEED, "the URL returned an HTML page, not a feed")
    decision = next_poll(failed(error), FeedHealth(), SETTINGS, NOW)
    assert decision == NextPoll(NOW + timedelta(minutes=2), 1, None)


def test_a_retry_after_longer_than_the_backoff_sets_the_next_poll() -> None:
    decision = next_poll(failed(http_503(retry_after=3600)), FeedHealth(), SETTINGS, NOW)
    assert decision.not_before == NOW + timedelta(hours=1)


def test_the_failure_that_reaches_the_limit_disables_the_feed_once() -> None:
    def after(failures: int, disabled: bool = False) -> bool:
        health = FeedHealth(consecutive_failures=failures, disabled=disabled)
        return next_poll(failed(http_503()), health, SETTINGS, NOW).disabled_now

    assert [after(failures) for failures in range(4)] == [False, False, True, True]
    assert not after(2, disabled=True)  # already disabled (by an earlier failure): no news
    assert not after(5, disabled=True)
