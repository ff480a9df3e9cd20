"""The options the commands share, each declared once.

``--config`` and ``--log-level`` are accepted before the command (``meta-ai-digest -c
x.toml poll``) and after it (``meta-ai-digest poll -c x.toml``): after it wins, then before
it, then the environment variable. :func:`configured` adds them to a command, so a command
declares only its own options; :func:`bot.cli.bootstrap.context_of` reads them.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

CONFIG_ENV_VAR = "META_AI_DIGEST_CONFIG"
LOG_LEVEL_ENV_VAR = "META_AI_DIGEST_LOG_LEVEL"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass(frozen=True)
class Context:
    """The shared options as they apply to the running command (``ctx.obj``)."""

    config_path: Path | None
    log_level: str


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help=f"TOML config merged over the shipped defaults (or {CONFIG_ENV_VAR}).",
    ),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        show_default=False,
        help=f"DEBUG, INFO, WARNING or ERROR (or {LOG_LEVEL_ENV_VAR}; default WARNING).",
    ),
]


def flag(*names: str, help: str) -> Any:
    """A boolean flag as the help shows it: its name and what it does, no type or default."""
    return typer.Option(*names, metavar="", show_default=False, help=help)


FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        metavar="text|json",
        show_default=False,
        help="text or json; default: the config's adapters.terminal format, else text.",
    ),
]


def root_context(config: Path | None, log_level: str | None) -> Context:
    """The options given before the command, the environment filling in."""
    from_env = os.environ.get(CONFIG_ENV_VAR)
    return Context(
        config_path=config or (Path(from_env) if from_env else None),
        log_level=log_level or os.environ.get(LOG_LEVEL_ENV_VAR) or "WARNING",
    )


F = TypeVar("F", bound=Callable[..., Any])


def configured(*, config: bool = True) -> Callable[[F], F]:
    """Give a command ``--config`` (unless ``config=False``) and ``--log-level`` after its
    name; their values, over those before it, become the command's ``ctx.obj``.

    The options come first among the command's own (after its arguments), so the help lists
    them in the same place for every command.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        shared = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
            for name, kind in (("config", ConfigOption), ("log_level", LogLevelOption))
            if config or name != "config"
        ]
        at = next(
            (
                index
                for index, parameter in enumerate(own)
                if parameter.name != "ctx"
                and not isinstance(_typer_info(parameter), typer.models.ArgumentInfo)
            ),
            len(own),
        )
        parameters = [*own[:at], *shared, *own[at:]]
        # Keyword-only parameters must follow the others: all become keyword-only (typer
        # calls with keywords).
        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]

        @functools.wraps(command)
        def wrapper(
            ctx: typer.Context,
            *args: Any,
            config: Path | None = None,
            log_level: str | None = None,
            **kwargs: Any,
        ) -> Any:
            parent: Context = ctx.obj
            ctx.obj = replace(
                parent,
                config_path=config or parent.config_path,
                log_level=log_level or parent.log_level,
            )
            return command(ctx, *args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper  # type: ignore[return-value]

    return decorate


def _typer_info(parameter: inspect.Parameter) -> object:
    metadata = getattr(parameter.annotation, "__metadata__", ())
    return metadata[0] if metadata else parameter.default
