"""``status`` and ``explain``: the read-only reports for admins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.bootstrap import context_of, open_readonly
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import fail, out, plain, print_lines, wrapped
from bot.common.times import local_minute

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services.subscriptions import SubscriptionInfo

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def status(ctx: typer.Context) -> None:
    """The database, feed health, deliveries, chat adapters and the schedule.

    The database in use and its size, failing and disabled feeds, stories waiting,
    pending and blocked deliveries with their errors, the last digest, the chat adapters
    with their channels, and each scheduled job with its next firing.
    """
    from bot.store.database import describe_database

    settings, env = context_of(ctx)
    out.print(plain(f"database: {describe_database(settings.database_url(env))}"))
    with open_readonly(settings, env) as bot:
        lines = bot.reports.status()
        subscribed = bot.subscriptions.infos()
    print_lines(
        [
            *lines,
            *adapter_lines(settings, env),
            *subscription_lines(subscribed, settings),
            *schedule_lines(settings),
        ]
    )


def adapter_lines(settings: Settings, env: dict[str, str]) -> list[str]:
    """The chat adapters this configuration posts through and their channels; a wrong
    adapter configuration is shown, not fatal (`status` is where an admin looks)."""
    from bot.adapters.registry import AdapterConfigError, select_adapters

    try:
        adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    except (AdapterConfigError, ValueError) as error:
        return [f"adapters: none usable: {error}"]
    lines = [f"adapters: {', '.join(adapter.name for adapter in adapters) or 'none'}"]
    for adapter in adapters:
        channels = ", ".join(adapter.destinations()) or "none"
        admin = ", ".join(adapter.admin_destinations())
        lines.append(
            f"  {adapter.name}: digests to {channels}" + (f"; notices to {admin}" if admin else "")
        )
    return lines


def subscription_lines(subscribed: list[SubscriptionInfo], settings: Settings) -> list[str]:
    """Every channel's own subscription: what it gets, where it came from, its next post."""
    from bot.services.subscriptions import when_and_what

    if not subscribed:
        return ["subscriptions: none (every channel gets the default digest)"]
    lines = [f"subscriptions ({len(subscribed)}; other channels get the default digest):"]
    for info in subscribed:
        # An empty list enables every installed adapter whose secrets are set.
        enabled = not settings.adapters.enabled or info.adapter in settings.adapters.enabled
        lines += wrapped(
            f"{info.channel} ({info.origin}): {when_and_what(info)}"
            + ("" if enabled else f"; NOT POSTED: {info.adapter} is not in [adapters] enabled")
        )
    return lines


def schedule_lines(settings: Settings) -> list[str]:
    """What `run` does when: each job, its schedule and its next firing."""
    from datetime import UTC, datetime

    from bot.scheduler import next_firings

    zone = settings.schedule.timezone
    lines = [f"schedule (times in {zone}) when `meta-ai-digest run` runs:"]
    for name, words, upcoming in next_firings(settings.schedule, datetime.now(UTC)):
        lines.append(f"  {name}: {words}; next {local_minute(upcoming, zone)}")
    return lines


@commands.command(cls=TidyCommand)
@configured()
def explain(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", hidden=True)],
) -> None:
    """Why the article at URL was or was not posted.

    Exit status 1 when no feed ever carried it.
    """
    settings, env = context_of(ctx)
    with open_readonly(settings, env) as bot:
        lines = bot.reports.explain(url)
    if not lines:
        raise fail(
            f"{url} was never seen in any feed: not polled yet (run `meta-ai-digest poll`), "
            "or no feed carries it (`meta-ai-digest feeds add`)",
            code=1,
        )
    print_lines(lines)
