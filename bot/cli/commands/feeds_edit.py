"""``feeds add|remove|import|enable``: changes to the feed list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from bot.cli.bootstrap import context_of, open_app, run_with_adapters
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import err, fail, out, plain
from bot.common.text import plural

commands = typer.Typer(add_completion=False)


@commands.command("add", cls=TidyCommand)
@configured()
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", hidden=True)],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", metavar="NAME", help="The feed's name; default: its title."),
    ] = None,
) -> None:
    """Add the feed at URL, or the feed a site's page at URL links to.

    It is fetched and parsed first (through the same limits and address checks as every
    poll), then stored in the database, where every replica sees it; the admin channels
    hear of it. Exit status 1 when no feed could be read there, 2 for a mistake.
    """
    from bot.feeds.urls import feed_url_problem, shown_url

    settings, env = context_of(ctx)
    problem = feed_url_problem(url.strip(), ("http", "https"))
    if problem is not None:
        raise fail(f"{shown_url(url)!r} {problem}")
    with open_app(settings, env) as bot:
        change = run_with_adapters(
            bot, bot.commands.add_feed(url, by=command_line_user(), name=name)
        )
    if not change.ok:
        raise fail(change.message, code=1)
    out.print(plain(change.message))


@commands.command("remove", cls=TidyCommand)
@configured()
def feeds_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", hidden=True)],
) -> None:
    """Remove the feed NAME, added with `feeds add`, `feeds import` or in chat.

    Its stories stay; `feeds add` brings it back. A feed of the config file is removed
    there.
    """
    settings, env = context_of(ctx)
    with open_app(settings, env) as bot:
        change = run_with_adapters(bot, bot.commands.remove_feed(name, by=command_line_user()))
    if not change.ok:
        raise fail(change.message)
    out.print(plain(change.message))


@commands.command("import", cls=TidyCommand)
@configured()
def feeds_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", hidden=True)],
) -> None:
    """Add every feed of the OPML file FILE (- for standard input) that is not there yet.

    Categories and site addresses are kept for `feeds export`. Nothing is fetched now:
    each feed is checked at its first poll. Exit status 1 when a feed was refused.
    """
    from bot.feeds.opml import OpmlError

    settings, env = context_of(ctx)
    data = read_capped(path, settings.fetch.max_body_bytes)
    with open_app(settings, env) as bot:
        try:
            report = bot.catalog.import_opml(data, added_by=f"{command_line_user()} (OPML import)")
        except OpmlError as error:
            raise fail(f"{path}: {error}") from error
    out.print(
        f"{plural(len(report.added), 'feed')} added, {len(report.already_there)} already "
        f"there, {len(report.refused)} refused.",
        highlight=False,
    )
    for label, reason in report.refused:
        err.print(Text.assemble(("refused:", "yellow"), " ", plain(f"{label}: {reason}")))
    if report.refused:
        raise typer.Exit(1)


def read_capped(path: Path, cap: int) -> bytes:
    """A file's bytes (standard input for ``-``), refused past ``cap`` bytes."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(cap + 1)
        else:
            with path.open("rb") as handle:
                data = handle.read(cap + 1)
    except OSError as error:
        raise fail(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > cap:
        raise fail(f"{path} is larger than fetch.max_body_bytes ({cap} bytes)")
    return data


def command_line_user() -> str:
    """Who changed the feed list from the command line, for the admin channels."""
    import getpass

    try:
        return f"{getpass.getuser()} (command line)"
    except (OSError, KeyError):
        return "the command line"


@commands.command("enable", cls=TidyCommand)
@configured()
def feeds_enable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", hidden=True)],
) -> None:
    """Re-enable the feed NAME, disabled after repeated failures."""

    settings, env = context_of(ctx)
    with open_app(settings, env) as bot:
        change = run_with_adapters(bot, bot.commands.enable_feed(name, by=command_line_user()))
    if not change.ok:
        raise fail(change.message)
    out.print(plain(change.message))
