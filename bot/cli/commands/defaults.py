"""``defaults``: the shipped configuration."""

from __future__ import annotations

import sys

import typer

from bot.cli.groups import TidyCommand

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
def defaults() -> None:
    """Print the shipped configuration (every key, commented) to start a config file from."""
    from bot.defaults import shipped_text

    sys.stdout.write(shipped_text())
