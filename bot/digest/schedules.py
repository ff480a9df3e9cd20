"""Cron schedules as APScheduler triggers: the digest's ``[schedule] digest_cron`` and each
subscription's schedule are read here, one way (crontab's reading, bot/common/cron.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.common.cron import parse_crontab

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger


def crontab_trigger(expression: str, timezone: str) -> BaseTrigger:
    """An APScheduler trigger firing when crontab would: the one way every schedule of the
    bot (the digest's, each subscription's) reads a cron expression."""
    from apscheduler.triggers.combining import OrTrigger  # only where a schedule is read
    from apscheduler.triggers.cron import CronTrigger

    fields = parse_crontab(expression)
    arguments = fields.trigger_arguments()
    if not fields.either_day:
        return CronTrigger(**arguments, timezone=timezone)
    # crontab: a day matching the day of the month *or* the day of the week fires.
    return OrTrigger(
        [
            CronTrigger(**{**arguments, "day_of_week": "*"}, timezone=timezone),
            CronTrigger(**{**arguments, "day": "*"}, timezone=timezone),
        ]
    )
