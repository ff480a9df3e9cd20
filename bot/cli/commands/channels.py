"""``channels list|test``: where the bot posts, and a test post there now."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from bot.cli.bootstrap import context_of, open_app, run_with_adapters
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import err, fail, out, plain

channels = typer.Typer(
    no_args_is_help=True,
    help="The channels the bot posts to: list them, test one with a sample post.",
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
        out.print(plain(f"{channel.adapter}:{channel.destination}  {channel.receives}"))


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
