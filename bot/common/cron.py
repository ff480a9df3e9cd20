"""Crontab expressions read as crontab(5) reads them, for APScheduler 3.

APScheduler 3's ``CronTrigger.from_crontab`` counts the day of the week from Monday
(``0`` is Monday, ``7`` is refused, ``*/2`` means Monday, Wednesday...), so
``"30 8 * * 1-5"`` would fire Tuesday to Saturday. Every schedule of the bot is read
here instead: day-of-week numbers 0-7 with 0 and 7 Sunday, names (``mon-fri``, ``SUN``),
ranges (wrapping past Saturday too), lists and steps are turned into the day names
APScheduler cannot misread. As in crontab, when both the day of the month and the day
of the week are restricted, a day matching either one fires (``either_day``); the
``@daily``-style nicknames are accepted. Standard library only: the caller builds the
trigger from :class:`CrontabFields` (bot/digest/schedules.py).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrontabFields", "parse_crontab"]

# crontab's numbering: 0 (and 7) is Sunday.
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EXAMPLE = 'e.g. "30 8 * * mon-fri" (minute hour day-of-month month day-of-week)'


@dataclass(frozen=True)
class CrontabFields:
    """The five fields in APScheduler's spelling; ``day_of_week`` uses day names only."""

    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str
    #: Both day fields restricted: crontab fires on a day matching either, not both.
    either_day: bool

    def trigger_arguments(self) -> dict[str, str]:
        """Keyword arguments for APScheduler's ``CronTrigger`` (both day fields)."""
        return {
            "minute": self.minute,
            "hour": self.hour,
            "day": self.day,
            "month": self.month,
            "day_of_week": self.day_of_week,
        }


def parse_crontab(expression: str) -> CrontabFields:
    """The fields of a five-field crontab expression; ValueError names the problem."""
    text = NICKNAMES.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, not {len(fields)}; {EXAMPLE}")
    minute, hour, day, month, weekdays = fields
    day_of_week = "*" if weekdays == "*" else ",".join(DAY_NAMES[d] for d in weekday_set(weekdays))
    return CrontabFields(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
        either_day=day != "*" and weekdays != "*",
    )


def weekday_set(field: str) -> list[int]:
    """The days (0 = Sunday ... 6 = Saturday) a crontab day-of-week field names, sorted."""
    days: set[int] = set()
    for part in field.lower().split(","):
        days.update(_weekday_part(part, field))
    return sorted(days)


def _weekday_part(part: str, field: str) -> set[int]:
    span, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"day of week {field!r}: the step after / must be a whole number > 0")
        step = int(step_text)
    if span == "*":
        first, last = 0, 6
    else:
        start, dash, end = span.partition("-")
        first = _weekday(start, field)
        last = _weekday(end, field) if dash else (6 if slash else first)
        if last < first:  # sat-mon: through Saturday, then on from Sunday
            last += 7
    return {day % 7 for day in range(first, last + 1, step)}


def _weekday(text: str, field: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in DAY_NAMES:
        return DAY_NAMES.index(text)
    raise ValueError(
        f"day of week {field!r}: {text!r} is not a day; use 0-7 (0 and 7 are Sunday) "
        "or sun, mon, tue, wed, thu, fri, sat"
    )
