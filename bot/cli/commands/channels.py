"""``channels list|add|remove|test``: where the bot posts, each channel's subscription, and
a test post there now."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from bot.cli.bootstrap import context_of, open_app, run_with_adapters
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import err, fail, out, plain, print_lines, wrapped
from bot.common.times import local_minute

channels = typer.Typer(
    no_args_is_help=True,
    help=(
        "The channels the bot posts to: list them, give one its own subscription (add), "
        "take it back (remove), test one with a sample post."
    ),
)
commands = typer.Typer(add_completion=False)
commands.add_typer(channels, name="channels")


@channels.command("list", cls=TidyCommand)
@configured()
def channels_list(ctx: typer.Context) -> None:
    """Every channel of the enabled chat adapters and what it receives."""
    settings, env = context_of(ctx)
    with open_app(settings, env) as bot:
        found = bot.channels.channels()
        run_with_adapters(bot, _nothing())
    if not found:
        out.print("no channel: enable an adapter in [adapters] enabled (see `defaults`)")
        return
    for channel in found:
        line = f"{channel.adapter}:{channel.destination}  {channel.receives}"
        print_lines(wrapped(line, indent=""))


@channels.command("test", cls=TidyCommand)
@configured()
def channels_test(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            help="ADAPTER or ADAPTER:CHANNEL (as `channels list` shows them); all if omitted.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Post a sample entry (the newest story) to channels now; print each platform's answer.

    Exit status 1 when a platform refused the post: the answer names why (a missing
    scope, a channel the bot is not in, a wrong token). A refused post is withdrawn.
    """
    settings, env = context_of(ctx)
    with open_app(settings, env) as bot:
        try:
            bot.channels.select(target)
        except ValueError as error:
            raise fail(str(error)) from error
        outcomes = run_with_adapters(bot, bot.channels.test(target))
    for outcome in outcomes:
        name = f"{outcome.channel.adapter}:{outcome.channel.destination}"
        verdict = ("ok", "green") if outcome.sent else ("FAILED", "red")
        err.print(Text.assemble(verdict, " ", plain(f"{name}: {outcome.answer}")))
    if not all(outcome.sent for outcome in outcomes):
        raise typer.Exit(1)


async def _nothing() -> None:
    """Listing needs no platform call; the adapters are still closed in their loop."""


@channels.command("add", cls=TidyCommand)
@configured()
def channels_add(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Argument(
            help="ADAPTER:CHANNEL, e.g. slack:C0123ABCD, discord:1234567890, slack:webhook.",
            show_default=False,
        ),
    ],
    kinds: Annotated[
        str, typer.Option(help="Story kinds, comma-separated ([kinds] names); none: every kind.")
    ] = "",
    words: Annotated[
        str, typer.Option(help="Words every story must match (/meta-ai search).")
    ] = "",
    min_outlets: Annotated[int, typer.Option(help="Stories covered by this many outlets.")] = 1,
    schedule: Annotated[
        str,
        typer.Option(
            help="Cron expression, hourly/daily/weekdays/weekly, or instant; "
            "none: [schedule] digest_cron."
        ),
    ] = "",
    timezone: Annotated[str, typer.Option(help="IANA zone; none: [schedule] timezone.")] = "",
    form: Annotated[str, typer.Option(help="full (summary, sources) or compact (one line).")] = (
        "full"
    ),
    alerts: Annotated[bool, typer.Option(help="Post breaking stories at once.")] = False,
    alert_words: Annotated[str, typer.Option(help="...and stories matching these words.")] = "",
) -> None:
    """Give CHANNEL its own subscription (or change it): only the stories it selects, on
    its schedule, in its form. The channel then leaves the default digest."""
    from pydantic import ValidationError

    from bot.common.validation import describe_validation_error
    from bot.digest.subscriptions import SubscriptionSpec

    settings, env = context_of(ctx)
    fields = {
        "channel": channel,
        "kinds": [kind.strip() for kind in kinds.split(",") if kind.strip()],
        "words": words,
        "min_outlets": min_outlets,
        "schedule": schedule,
        "timezone": timezone,
        "form": form,
        "alerts": alerts,
        "alert_words": alert_words,
    }
    try:
        spec = SubscriptionSpec.model_validate(fields)
    except ValidationError as error:
        raise fail(describe_validation_error(error, "channels add")) from error
    with open_app(settings, env) as bot:
        try:
            info, created = bot.subscriptions.subscribe(spec, origin="cli", by="the CLI")
        except ValueError as error:
            raise fail(f"channels add: {error}") from error
        run_with_adapters(bot, _nothing())
    verb = "subscribed" if created else "changed the subscription of"
    print_lines(wrapped(f"{verb} {info.channel}: {info.description}", indent=""))
    if info.next_post is not None:
        out.print(plain(f"next post: {local_minute(info.next_post, info.timezone)}"))
    if not info.configured:
        err.print(
            plain(
                f"note: no enabled adapter is called {info.adapter!r}: nothing is posted "
                "there until it is enabled in [adapters] enabled"
            )
        )


@channels.command("remove", cls=TidyCommand)
@configured()
def channels_remove(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Argument(help="ADAPTER:CHANNEL, as `channels list` shows it.", show_default=False),
    ],
) -> None:
    """Remove CHANNEL's subscription: a configured channel gets the default digest again.

    A subscription from the config file's [[subscriptions]] comes back at the next start
    unless it is removed from the file.
    """
    settings, env = context_of(ctx)
    with open_app(settings, env) as bot:
        try:
            removed = bot.subscriptions.unsubscribe(channel)
        except ValueError as error:
            raise fail(f"channels remove: {error}") from error
        run_with_adapters(bot, _nothing())
    if not removed:
        raise fail(f"{channel} has no subscription; `meta-ai-digest channels list` shows them")
    out.print(plain(f"removed the subscription of {channel}"))
