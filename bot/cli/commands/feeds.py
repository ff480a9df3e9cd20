"""``feeds``: the group of the feed-list commands, each in its own module."""

from __future__ import annotations

from typing import ClassVar

import typer

from bot.cli.groups import LazyGroup


class FeedCommands(LazyGroup):
    lazy: ClassVar[dict[str, str]] = {
        "list": "feeds_list",
        "check": "feeds_check",
        "add": "feeds_edit",
        "remove": "feeds_edit",
        "import": "feeds_edit",
        "export": "feeds_export",
        "enable": "feeds_edit",
    }


feeds = typer.Typer(
    cls=FeedCommands,
    no_args_is_help=True,
    help="The feeds: list, add, remove, import and export them, check their health.",
)
commands = typer.Typer(add_completion=False)
commands.add_typer(feeds, name="feeds")
