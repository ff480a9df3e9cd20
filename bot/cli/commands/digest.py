"""``digest``: post the digest of stories not yet posted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from bot.cli.bootstrap import context_of, open_app, run_with_adapters, terminal_format
from bot.cli.groups import TidyCommand
from bot.cli.options import FormatOption, configured, flag
from bot.cli.output import err, out, plain
from bot.common.text import plural

if TYPE_CHECKING:
    from bot.digest.model import Digest
    from bot.pipeline import DigestBot
    from bot.services.digests import DigestResult

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def digest(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, flag("--dry-run", help="Print the digest; mark nothing posted.")
    ] = False,
    output_format: FormatOption = None,
) -> None:
    """Post the digest of stories not yet posted through the enabled adapters.

    Exit status 1 when a message was not delivered (it stays pending; each reason is
    printed), 2 for a usage or configuration mistake.
    """
    from bot.adapters.terminal import TerminalAdapter, render_digest

    settings, env = context_of(ctx)
    output_format = output_format or terminal_format(settings)
    with open_app(settings, env, output_format) as bot:
        if dry_run:
            out.print(
                plain(render_digest(bot.digests.preview(), output_format.value), multiline=True)
            )
            return
        # One attempt per message (each within its adapter's send timeout): what is left
        # pending is retried by `run` every minute, or by the next `digest`.
        result, subscribed = run_with_adapters(bot, post_everything(bot))
    for posted in subscribed:
        count = plural(len(posted.stories), "story")
        err.print(plain(f"{posted.title}: {count} to a subscribed channel"))
    news = bool(result.digest.stories or result.digest.updates)
    if not news and not any(a.name == TerminalAdapter.name for a in bot.adapters):
        err.print("nothing new to post")
    elif not news:
        out.print(plain(render_digest(result.digest, output_format.value), multiline=True))
    if news and not result.queued_messages and not result.subscribed_only:
        err.print("no enabled adapter has a channel to post to; the stories stay pending")
        raise typer.Exit(1)
    delivery = result.delivery
    if delivery is None:
        return
    for problem in [*delivery.errors, *delivery.retrying]:
        err.print(Text.assemble(("not delivered:", "red"), " ", plain(problem)))
    if delivery.waiting:
        # Waiting without a failure here: another process is sending it, or its retry is due.
        err.print(
            f"{plural(delivery.waiting, 'message')} still pending: `meta-ai-digest run` "
            "retries every minute, or run `digest` again; `status` shows why.",
            highlight=False,
        )
    if delivery.errors or delivery.retrying:
        raise typer.Exit(1)


async def post_everything(bot: DigestBot) -> tuple[DigestResult, list[Digest]]:
    """The default digest, then each subscribed channel's post when due (what `run` does on
    schedule); the delivery report covers both."""
    import asyncio

    result = await bot.digests.post(max_wait_seconds=0)
    subscribed = await asyncio.to_thread(bot.subscriptions.queue_due)
    if subscribed:
        later = await bot.outbox.deliver(max_wait_seconds=0)
        result.delivery = later if result.delivery is None else result.delivery.then(later)
    return result, subscribed
