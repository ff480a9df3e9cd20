"""Cron expressions mean what crontab(5) says: 0 and 7 are Sunday, names and ranges too.

APScheduler 3's own ``from_crontab`` counts 0 as Monday; every schedule of the bot goes
through ``bot.config.crontab_trigger`` instead. Expected days are written out by hand
from crontab(5), as weekday names, and checked against the firings of a real trigger.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.common.cron import parse_crontab
from bot.config import ConfigError, crontab_trigger, load_settings
from tests.harness import run_bot
from tests.helpers import write_config

WEEK = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # datetime.weekday() order
# A Monday, 2026-12-07, at midnight (in the schedule's zone).
MONDAY = datetime(2026, 12, 7)

# Every way crontab spells the day of the week, and the days it means.
WEEKDAY_FORMS = {
    "0": {"Sun"},
    "1": {"Mon"},
    "2": {"Tue"},
    "3": {"Wed"},
    "4": {"Thu"},
    "5": {"Fri"},
    "6": {"Sat"},
    "7": {"Sun"},
    "sun": {"Sun"},
    "MON": {"Mon"},
    "Tue": {"Tue"},
    "wed": {"Wed"},
    "thu": {"Thu"},
    "fri": {"Fri"},
    "sat": {"Sat"},
    "1-5": {"Mon", "Tue", "Wed", "Thu", "Fri"},
    "mon-fri": {"Mon", "Tue", "Wed", "Thu", "Fri"},
    "0-6": set(WEEK),
    "0-7": set(WEEK),
    "5-7": {"Fri", "Sat", "Sun"},
    "sat-sun": {"Sat", "Sun"},
    "fri-mon": {"Fri", "Sat", "Sun", "Mon"},
    "0,6": {"Sat", "Sun"},
    "6,7": {"Sat", "Sun"},
    "sun,wed": {"Sun", "Wed"},
    "1-3,5": {"Mon", "Tue", "Wed", "Fri"},
    "*/2": {"Sun", "Tue", "Thu", "Sat"},
    "1-5/2": {"Mon", "Wed", "Fri"},
    "*": set(WEEK),
}


def firing_days(expression: str, zone: str = "UTC", weeks: int = 2) -> list[datetime]:
    trigger = crontab_trigger(expression, zone)
    firings: list[datetime] = []
    previous = None
    now = MONDAY.replace(tzinfo=ZoneInfo(zone))
    end = now + timedelta(weeks=weeks)
    while (upcoming := trigger.get_next_fire_time(previous, now)) and upcoming < end:
        firings.append(upcoming)
        previous, now = upcoming, upcoming + timedelta(seconds=1)
    return firings


@pytest.mark.parametrize(("weekdays", "expected"), WEEKDAY_FORMS.items())
def test_every_weekday_form_fires_on_the_days_crontab_names(
    weekdays: str, expected: set[str]
) -> None:
    firings = firing_days(f"30 8 * * {weekdays}")
    assert {WEEK[moment.weekday()] for moment in firings} == expected
    assert len(firings) == 2 * len(expected)  # each day once a week, two weeks
    assert all((moment.hour, moment.minute) == (8, 30) for moment in firings)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"])
def test_weekdays_are_the_days_of_the_schedules_time_zone(zone: str) -> None:
    """The issue's case: "30 8 * * 1-5" in Europe/Berlin on a Monday fires that Monday."""
    firings = firing_days("30 8 * * 1-5", zone, weeks=1)
    local = [moment.astimezone(ZoneInfo(zone)) for moment in firings]
    assert [WEEK[moment.weekday()] for moment in local] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert all((moment.hour, moment.minute) == (8, 30) for moment in local)
    sundays = firing_days("0 9 * * 0", zone, weeks=1)
    assert [WEEK[moment.astimezone(ZoneInfo(zone)).weekday()] for moment in sundays] == ["Sun"]


def test_day_of_month_and_day_of_week_together_fire_on_either_as_in_crontab() -> None:
    # crontab(5): "0 9 1 * 1" fires on the 1st of the month *and* on every Monday.
    firings = firing_days("0 9 1 * 1", weeks=5)  # 2026-12-07 .. 2027-01-10
    days = {moment.date().isoformat() for moment in firings}
    assert days == {"2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28", "2027-01-01",
                    "2027-01-04"}  # fmt: skip


def test_nicknames_and_other_fields_pass_through() -> None:
    assert parse_crontab("@weekly").day_of_week == "sun"
    assert [moment.hour for moment in firing_days("@daily", weeks=1)] == [0] * 7
    fields = parse_crontab("*/15 9-17 * jan-mar mon-fri")
    assert (fields.minute, fields.hour, fields.month) == ("*/15", "9-17", "jan-mar")
    assert fields.day_of_week == "mon,tue,wed,thu,fri" and not fields.either_day


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 9 * * 8", "is not a day"),
        ("0 9 * * monday", "is not a day"),
        ("0 9 * *", "5 fields"),
        ("0 9 * * */0", "step"),
        ("61 9 * * *", "digest_cron"),
    ],
)
def test_a_wrong_cron_expression_is_one_line_naming_the_key(
    tmp_path: Path, expression: str, problem: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[schedule]\ndigest_cron = "{expression}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, env={})
    assert "digest_cron" in str(raised.value) and problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_status_of_the_installed_command_shows_the_next_digest_on_a_crontab_day(
    tmp_path: Path,
) -> None:
    """Sunday is 0 and 7 alike, in the schedule's own zone, as `status` shows it."""
    for weekdays in ("0", "7", "sun"):
        config = write_config(
            tmp_path / f"c{weekdays}.toml",
            [],
            tmp_path / "bot.db",
            f'[schedule]\ndigest_cron = "0 9 * * {weekdays}"\ntimezone = "Europe/Berlin"\n',
        )
        run_bot(["--config", str(config), "migrate"]).check_returncode()
        status = run_bot(["--config", str(config), "status"])
        status.check_returncode()
        shown = status.stdout
        assert "schedule (times in Europe/Berlin)" in shown
        digest = next(line for line in shown.splitlines() if "post digest" in line)
        assert f'cron "0 9 * * {weekdays}"' in digest
        assert re.search(r"next Sun \d{4}-\d\d-\d\d 09:00 CE", digest), digest
