"""How commands are found and how their help reads.

Commands live in ``bot/cli/commands/``, one module per area, each with a ``commands``
Typer; a :class:`LazyGroup` names them and imports a module only when one of its commands
runs or its help is shown (Kedro's ``LazyGroup``), so ``latest`` never loads the code of
``poll``.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from typer.core import TyperArgument, TyperCommand, TyperGroup


class TidyHelp:
    """Help without type placeholders: typer shows ``<bool>`` after ``--help`` and every flag,
    and ``{NAME}`` for a required argument. Flags declare ``metavar=""`` themselves and
    arguments are described in the command's docstring; the help option and the usage line
    are tidied here."""

    help: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] URL`` and ``[OPTIONS] [WORDS]...``: required arguments bare."""
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        arguments = [p for p in self.get_params(ctx) if isinstance(p, TyperArgument)]  # type: ignore[attr-defined]
        tidy = []
        for argument in arguments:
            name = argument.metavar or (argument.name or "").upper()
            text = name if argument.required else f"[{name}]"
            tidy.append(text + ("..." if argument.nargs != 1 else ""))
        return pieces[: len(pieces) - len(arguments)] + tidy


def reflow(text: str | None) -> str | None:
    """A docstring as help that re-wraps at any width: the lines of each paragraph joined
    (rich keeps a docstring's line breaks, so "(each is" would end a line at 80 columns)."""
    if not text:
        return text
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


class TidyGroup(TidyHelp, TyperGroup):
    pass


class TidyCommand(TidyHelp, TyperCommand):
    pass


class LazyGroup(TidyGroup):
    """A group whose commands are imported when used: ``lazy`` maps each command's name, in
    the order the help lists them, to the module under ``bot.cli.commands`` that holds it."""

    lazy: ClassVar[dict[str, str]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        others = [name for name in super().list_commands(ctx) if name not in self.lazy]
        return [*self.lazy, *others]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            import typer.main

            module = importlib.import_module(f"bot.cli.commands.{self.lazy[cmd_name]}")
            for name, command in typer.main.get_group(module.commands).commands.items():
                self.commands.setdefault(name, command)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and args[0] not in self.lazy:
            # A typo: every name loaded, so typer's "Did you mean ...?" can suggest one.
            for name in self.lazy:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)
