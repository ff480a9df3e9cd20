"""The shared helpers of bot.common, each on its own: real inputs, real outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from bot.common.retry import capped_backoff, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


# --- Retry-After and backoff ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 1.5 ", 1.5), ("0", 0.0), (None, None), ("", None)],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("value", ["-5", "nan", "soon", "Someday, 99 Foo 2026"])
def test_an_invalid_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    in_ninety_seconds = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(in_ninety_seconds, usegmt=True), now=NOW) == 90.0


def test_retry_after_in_the_past_means_now() -> None:
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(long_ago, usegmt=True), now=NOW) == 0.0


def test_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    assert [capped_backoff(attempt, 5, 100) for attempt in range(0, 7)] == [
        5,
        5,
        10,
        20,
        40,
        80,
        100,
    ]
    assert capped_backoff(10**6, 5, 100) == 100  # no overflow, however many attempts
