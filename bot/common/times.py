"""Moments as people read them: the one home of the project's time formats.

The CLI, the reports and the chat adapters all show times; each format lives here once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """The current moment, timezone-aware in UTC: what the store writes and compares."""
    return datetime.now(UTC)


def utc_minute(moment: datetime | None, missing: str = "never") -> str:
    """``2026-05-01 14:03 UTC`` (``moment`` is in UTC, naive or aware), ``missing`` for none."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else missing


def local_minute(moment: datetime | None, zone: str) -> str:
    """A firing time as an admin reads it: its weekday, date and time in ``zone``."""
    if moment is None:
        return "never"
    return f"{moment.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M %Z}"


def ago_short(moment: datetime | None, now: datetime) -> str:
    """``5m ago``, ``3h ago``, ``2d ago`` or ``never``: short enough for an 80-column line."""
    if moment is None:
        return "never"
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


def ago_words(moment: datetime | None, now: datetime) -> str:
    """``5 min ago``, ``30 h ago`` (under two days), ``3 days ago`` or ``never``, for chat."""
    if moment is None:
        return "never"
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"
