"""What the commands print, and how: the consoles, feed text made safe, errors, tables.

Text from feeds, servers, platforms or the database is shown through :func:`plain` only:
no markup applies, control characters are spelled out and the environment's secrets are
masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

from bot.common.redaction import Redactor
from bot.common.text import escape_controls
from bot.environment import SecretsFileError, load_environment, secret_values

if TYPE_CHECKING:
    from collections.abc import Sequence

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
# The secrets of the running command's environment, masked in everything printed
# (set by ``bot.cli.bootstrap.context_of``; until then, read from the process environment
# on use).
_printing_redactor: Redactor | None = None


def mask_secrets_of(env: dict[str, str]) -> None:
    """Mask the secrets of ``env`` (the command's environment) in everything printed."""
    global _printing_redactor
    _printing_redactor = Redactor(secret_values(env))


def plain(text: str, *, multiline: bool = False) -> Text:
    """Text from feeds, servers, platforms or the database, as the terminal shows it.

    A rich ``Text``, so no markup (``[link=...]``, ``[red]``), emoji code or highlighting
    applies; control characters spelled out (an ESC sequence in a reason phrase cannot
    recolour the screen or plant an OSC 8 link); the environment's secrets masked.
    """
    redactor = _printing_redactor or Redactor(environment_secrets())
    return Text(escape_controls(redactor.redact(text), keep_newlines=multiline))


def one_line(text: str) -> Text:
    """Feed text for a table cell that never wraps: cut with an ellipsis where it must."""
    cell = plain(text)
    cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


def print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        out.print(plain(line))


def wrapped(text: str, indent: str = "  ", width: int = 80) -> list[str]:
    """``text`` as lines of at most ``width`` columns, the first indented by ``indent`` and
    the rest two columns deeper (a list item that reads at 80 columns); long words such as
    addresses are never broken."""
    import textwrap

    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def print_error(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", plain(message, multiline=True)))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error; the exit to raise, with ``code``."""
    print_error(message)
    return typer.Exit(code)


def redact_secrets(text: str) -> str:
    """``text`` with the values of the environment's secrets replaced."""
    return Redactor(environment_secrets()).redact(text)


def environment_secrets() -> list[str]:
    """The secrets of the process environment and its secrets file (if it can be read)."""
    import os

    try:
        env = load_environment()
    except SecretsFileError:
        env = dict(os.environ)
    return secret_values(env)
