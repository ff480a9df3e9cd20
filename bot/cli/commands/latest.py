"""``latest``: what /meta-ai answers."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.bootstrap import context_of, open_readonly, terminal_format
from bot.cli.groups import TidyCommand
from bot.cli.options import FormatOption, configured
from bot.cli.output import out, plain

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def latest(
    ctx: typer.Context,
    output_format: FormatOption = None,
    query: Annotated[list[str] | None, typer.Argument(metavar="WORDS", hidden=True)] = None,
) -> None:
    """What /meta-ai answers: the most recent stories with summaries and sources.

    With WORDS, the latest stories (last 30 days) matching all of them.
    """
    from bot.adapters.terminal import render_digest

    settings, env = context_of(ctx)
    output_format = output_format or terminal_format(settings)
    with open_readonly(settings, env) as bot:
        answer = bot.digests.answer(" ".join(query or []) or None)
    out.print(plain(render_digest(answer, output_format.value), multiline=True))
