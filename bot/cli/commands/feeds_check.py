"""``feeds check``: fetch and parse every configured feed, storing nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.cli.bootstrap import context_of, started
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import out, plain

if TYPE_CHECKING:
    pass

commands = typer.Typer(add_completion=False)


@commands.command("check", cls=TidyCommand)
@configured()
def feeds_check(ctx: typer.Context) -> None:
    """Fetch and parse every configured feed now, storing nothing; exit 1 if any fails."""
    import asyncio

    from rich.table import Table

    from bot.services.feeds import check_feeds

    settings, _env = context_of(ctx)
    started()
    outcomes = asyncio.run(check_feeds(settings.configured_feeds(), settings.fetch))
    table = Table()
    for column in ("feed", "status", "entries", "time", "error"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        entries = str(len(outcome.parsed.entries)) if outcome.parsed else "-"
        table.add_row(
            plain(outcome.name),
            plain(outcome.status),
            entries,
            f"{outcome.elapsed:.2f}s",
            plain(str(outcome.error or "")),
        )
    out.print(table)
    if any(not outcome.ok for outcome in outcomes):
        raise typer.Exit(1)
