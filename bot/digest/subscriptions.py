"""Subscriptions: what one channel gets (kinds, words, a minimum of outlets), when (a cron
expression in a time zone, or at once) and in which form (full or compact).

This module holds the rules, with no database: the store keeps the rows
(bot/store/subscriptions.py), the digests service posts them
(bot/services/subscriptions.py). ``[[subscriptions]]`` tables of the config file,
``channels add`` and ``/meta-ai subscribe`` all make a :class:`SubscriptionSpec`, so
all three check a subscription the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.common.cron import EXAMPLE
from bot.digest.schedules import crontab_trigger

INSTANT = "instant"
# No scheduled post: the channel hears only alerts (an alerts-only channel).
NEVER = "never"
# Schedules by name, for chat where a cron expression is awkward to type.
SCHEDULE_WORDS = {
    "hourly": "0 * * * *",
    "daily": "0 9 * * *",
    "weekdays": "0 9 * * mon-fri",
    "weekly": "0 9 * * mon",
}
# A new subscription starts with the stories of the last day, not the whole history.
START_WINDOW = timedelta(hours=24)
# A story not updated for this long is old news: a subscription no longer posts it.
BACKLOG = timedelta(days=8)
# The longest words a subscription may hold (the column's limit).
MAX_WORDS_CHARS = 500


def split_channel(channel: str) -> tuple[str, str]:
    """``"slack:C0123"`` → ``("slack", "C0123")``; ValueError naming the form expected."""
    adapter, _, destination = channel.strip().partition(":")
    if not adapter or not destination or len(destination) > 500 or len(adapter) > 100:
        raise ValueError(
            f"channel {channel!r} must be <adapter>:<destination>, e.g. "
            '"slack:C0123ABCD", "discord:1234567890", "slack:webhook" or "terminal:stdout"'
        )
    return adapter.strip(), destination.strip()


def channel_of(adapter: str, destination: str) -> str:
    """The channel as every admin-facing text and record names it: ``"slack:C0123"``."""
    return f"{adapter}:{destination}"


def cron_of(schedule: str) -> str | None:
    """The cron expression a schedule stands for; None for ``instant`` and ``never``."""
    word = schedule.strip().lower()
    if word in (INSTANT, NEVER):
        return None
    return SCHEDULE_WORDS.get(word, schedule.strip())


def schedule_mode(schedule: str) -> str:
    """``"instant"`` (stories go as soon as found), ``"never"`` (alerts only) or
    ``"cron"``."""
    word = schedule.strip().lower()
    return word if word in (INSTANT, NEVER) else "cron"


class SubscriptionSpec(BaseModel):
    """One channel's subscription as an admin writes it (config, CLI or chat)."""

    model_config = ConfigDict(extra="forbid")

    #: ``<adapter>:<destination>``: "slack:C0123ABCD", "discord:1234567890",
    #: "slack:webhook", "discord:webhook", "terminal:stdout".
    channel: str
    #: Story kinds ([kinds] names); empty: every kind.
    kinds: list[str] = Field(default_factory=list)
    #: Words every story must match, in the /meta-ai search syntax.
    words: str = Field(default="", max_length=MAX_WORDS_CHARS)
    min_outlets: int = Field(default=1, ge=1, le=100)
    #: A cron expression, hourly/daily/weekdays/weekly, "instant", or "never" (alerts
    #: only); empty: the ``[schedule] digest_cron``.
    schedule: str = Field(default="", max_length=100)
    #: An IANA time zone; empty: ``[schedule] timezone``.
    timezone: str = Field(default="", max_length=64)
    form: Literal["full", "compact"] = "full"
    #: Breaking stories (``[digest] alert_sources`` outlets within ``alert_hours``) and
    #: stories matching ``alert_words`` are posted at once, at most one alert every
    #: ``[digest] alert_gap_minutes``.
    alerts: bool = False
    alert_words: str = Field(default="", max_length=MAX_WORDS_CHARS)

    @field_validator("channel")
    @classmethod
    def _channel(cls, channel: str) -> str:
        return channel_of(*split_channel(channel))

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str) -> str:
        cron = cron_of(schedule) if schedule.strip() else None
        if cron is not None:
            try:
                crontab_trigger(cron, "UTC")
            except ValueError as error:
                raise ValueError(
                    f"schedule {schedule!r} is neither a cron expression ({EXAMPLE}) nor "
                    f"one of instant, never, {', '.join(SCHEDULE_WORDS)}: {error}"
                ) from error
        return schedule.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        if zone.strip():
            try:
                ZoneInfo(zone.strip())
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(
                    f"unknown IANA time zone {zone!r}, e.g. Europe/Berlin or UTC"
                ) from error
        return zone.strip()

    @property
    def adapter(self) -> str:
        return split_channel(self.channel)[0]

    @property
    def destination(self) -> str:
        return split_channel(self.channel)[1]

    def kinds_problem(self, known: Collection[str]) -> str | None:
        """Why the kinds this subscription names are wrong (those ``[kinds]`` does not
        define), naming the ones it does; None when they are all known."""
        unknown = [kind for kind in self.kinds if kind not in known]
        if not unknown:
            return None
        return (
            f"unknown kind {', '.join(unknown)}: use {', '.join(sorted(known))} (the [kinds] table)"
        )


def spec_from_words(channel: str, text: str, known_kinds: Collection[str]) -> SubscriptionSpec:
    """``/meta-ai subscribe [kinds] [schedule] [compact] [alerts] [N+] [tz=Zone] [words]``.

    Each word is read by what it is: a kind name, a schedule word (instant, hourly, daily,
    weekdays, weekly) or a quoted cron expression, ``compact`` or ``full``, ``alerts``,
    ``3+`` (at least 3 outlets), ``tz=Europe/Berlin``; every other word is a search word.
    ValueError (pydantic's, naming the field) when a value is wrong.
    """
    fields: dict[str, object] = {"channel": channel}
    kinds: list[str] = []
    words: list[str] = []
    for position, piece in enumerate(text.split('"')):
        if position % 2 == 1:  # quoted: a cron expression, or a phrase to search
            quoted = piece.strip()
            if len(quoted.split()) == 5 and "schedule" not in fields:
                fields["schedule"] = quoted
            elif quoted:
                words.append(f'"{quoted}"')
            continue
        for word in piece.split():
            lowered = word.lower()
            if lowered in known_kinds:
                kinds.append(lowered)
            elif lowered in (INSTANT, NEVER) or lowered in SCHEDULE_WORDS:
                fields["schedule"] = lowered
            elif lowered in ("compact", "full"):
                fields["form"] = lowered
            elif lowered == "alerts":
                fields["alerts"] = True
            elif lowered.endswith("+") and lowered[:-1].isdigit():
                fields["min_outlets"] = int(lowered[:-1])
            elif lowered.startswith("tz="):
                fields["timezone"] = word[3:]
            else:
                words.append(word)
    fields["kinds"] = kinds
    fields["words"] = " ".join(words)
    return SubscriptionSpec.model_validate(fields)


def next_post(schedule: str, timezone: str, after: datetime) -> datetime | None:
    """When a subscription on ``schedule`` next posts after ``after``; None for instant and
    never."""
    cron = cron_of(schedule)
    if cron is None:
        return None
    trigger = crontab_trigger(cron, timezone)
    later = after + timedelta(microseconds=1)
    following: datetime | None = trigger.get_next_fire_time(None, later)
    return following


def is_due(schedule: str, timezone: str, last_run: datetime, now: datetime) -> bool:
    """True when a scheduled post fell between the last run and ``now`` (instant: always;
    never: never)."""
    mode = schedule_mode(schedule)
    if mode != "cron":
        return mode == INSTANT
    following = next_post(schedule, timezone, last_run)
    return following is not None and following <= now


def story_selected(
    kind: str | None, outlets: int, kinds: Collection[str], min_outlets: int
) -> bool:
    """The kind and outlet filters of a subscription (its words are searched in the store)."""
    return (not kinds or (kind or "other") in kinds) and outlets >= min_outlets


def describe(
    kinds: Collection[str],
    words: str,
    min_outlets: int,
    schedule: str,
    timezone: str,
    form: str,
    alerts: bool,
) -> str:
    """A subscription in one line: what it selects, when and how it posts."""
    what = ", ".join(kinds) if kinds else "every kind"
    if words:
        what += f" matching “{words}”"
    if min_outlets > 1:
        what += f", {min_outlets}+ outlets"
    mode = schedule_mode(schedule)
    when = {INSTANT: "at once", NEVER: "no scheduled post"}.get(mode, f'"{schedule}" {timezone}')
    extra = ", with alerts" if alerts and mode != INSTANT else ""
    return f"{what}; {when}; {form}{extra}"
