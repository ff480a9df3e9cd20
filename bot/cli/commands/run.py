"""``run``: the long-running bot."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

import typer

from bot.cli.bootstrap import context_of, open_app
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import err, plain
from bot.common.text import plural
from bot.common.times import local_minute

if TYPE_CHECKING:
    from bot.config import Settings

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def run(ctx: typer.Context) -> None:
    """The long-running bot: poll, post on schedule and answer /meta-ai until stopped."""
    import logging

    from bot.scheduler import serve
    from bot.store.database import describe_database

    settings, env = context_of(ctx)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_while_starting)
    with open_app(settings, env) as bot:
        polled = [info for info in bot.catalog.infos() if info.state not in ("off", "disabled")]
        banner = run_banner(settings, len(polled), [adapter.name for adapter in bot.adapters])
        err.print(banner, highlight=False)
        err.print(plain(f"database: {describe_database(settings.database_url(env))}"))
        finished = serve(bot, settings.schedule)
    if not finished:
        # A thread still in a transaction: the interpreter would wait for it at exit, past
        # the 10 s a stop may take. The database rolls the transaction back.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def stop_while_starting(_signum: int, _frame: object) -> None:
    """SIGTERM or Ctrl-C before the schedule runs (migrating, building adapters, printing the
    banner): leave at once, with status 0 as a stop later would. Nothing started yet has work to
    finish, and the database rolls back a transaction left open. The schedule installs its
    own handler when it starts (bot.scheduler.run_forever)."""
    raise SystemExit(0)


def run_banner(settings: Settings, feed_count: int, adapter_names: list[str]) -> str:
    """What the bot does next, for the admin who just started it. ``feed_count`` counts
    every feed polled, those of the config file and those added."""
    from datetime import UTC, datetime

    schedule = settings.schedule
    if schedule.digest_interval_minutes:
        digests = f"every {plural(schedule.digest_interval_minutes, 'minute')}"
    else:
        trigger = schedule.digest_cron_trigger()
        upcoming = trigger.get_next_fire_time(None, datetime.now(UTC))
        digests = f"next at {local_minute(upcoming, schedule.timezone)}"
    # Two lines, each within 80 columns.
    return (
        f"meta-ai-digest: {plural(feed_count, 'feed')}, polled every "
        f"{plural(schedule.poll_interval_minutes, 'minute')}, posting via "
        f"{', '.join(adapter_names)}.\ndigests {digests}. Ctrl-C stops."
    )
