"""``feeds export``: every feed as OPML."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli.bootstrap import context_of, open_readonly
from bot.cli.groups import TidyCommand
from bot.cli.options import configured, flag
from bot.cli.output import err

commands = typer.Typer(add_completion=False)


@commands.command("export", cls=TidyCommand)
@configured()
def feeds_export(
    ctx: typer.Context,
    with_credentials: Annotated[
        bool,
        flag(
            "--with-credentials",
            help="Keep user names, passwords and key-like query values in the addresses.",
        ),
    ] = False,
) -> None:
    """Print every feed (configured and added) as an OPML 2.0 file, for a feed reader or
    another install (`feeds import`).

    Credentials in feed addresses are masked unless --with-credentials.
    """
    settings, env = context_of(ctx)
    with open_readonly(settings, env) as bot:
        document, masked = bot.catalog.export_opml(with_credentials=with_credentials)
    sys.stdout.buffer.write(document)
    sys.stdout.flush()
    if masked:
        err.print(
            f"{masked} feed addresses hold credentials, masked as [redacted]; "
            "--with-credentials keeps them.",
            highlight=False,
        )
