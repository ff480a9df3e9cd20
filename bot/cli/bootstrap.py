"""Start-up and shut-down of a command, in one place.

A command reads its settings with :func:`context_of`, then opens the application, the
runtime (:class:`bot.pipeline.DigestBot`) whose services it calls, with :func:`open_app`
(commands that write: the adapters are chosen and the schema is brought up to date first)
or :func:`open_readonly` (commands that read: no adapter, nothing created or migrated; a
missing or outdated database is an error saying what to run). Both end start-up for the
garbage collector (``bot.common.collector``; :func:`started` for a command that opens
neither) and close what they opened, whatever happens.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from bot.cli.options import LOG_LEVELS, Context, OutputFormat
from bot.cli.output import fail, mask_secrets_of
from bot.common import collector
from bot.environment import SecretsFileError, configure_logging, load_environment

if TYPE_CHECKING:
    import typer

    from bot.adapters.base import ChatAdapter
    from bot.config import Settings
    from bot.pipeline import DigestBot

T = TypeVar("T")


def context_of(ctx: typer.Context) -> tuple[Settings, dict[str, str]]:
    """Settings and environment for a command, from the options of ``ctx.obj``."""
    from bot.adapters.registry import AdapterConfigError, check_adapter_tables
    from bot.config import ConfigError, load_settings

    options: Context = ctx.obj
    try:
        env = load_environment()
        mask_secrets_of(env)
        level = options.log_level.upper()
        if level not in LOG_LEVELS:
            raise fail(f"--log-level: {level!r} is not one of {', '.join(LOG_LEVELS)}")
        configure_logging(level, env)
        settings = load_settings(options.config_path, env)
        # Every command, not only those that post: a typo fails the same way everywhere.
        check_adapter_tables(settings.adapters.tables())
    except (AdapterConfigError, ConfigError, SecretsFileError) as error:
        raise fail(str(error)) from error
    return settings, env


def started() -> None:
    """Start-up is over for a command that opens no database (``summarize``, ``feeds
    check``): what it imported is frozen for the garbage collector (bot.common.collector)."""
    collector.imports_done()


def terminal_format(settings: Settings) -> OutputFormat:
    """``[adapters.terminal] format`` (checked with every command's settings)."""
    from bot.adapters.terminal import parse_options

    return OutputFormat(parse_options(settings.adapters.options_for("terminal")).format)


@contextmanager
def open_app(
    settings: Settings,
    env: dict[str, str],
    output_format: OutputFormat | None = None,
    adapters: Sequence[ChatAdapter] | None = None,
) -> Iterator[DigestBot]:
    """The whole pipeline for commands that write, its database migrated first (created if
    need be); closed at the end.

    ``adapters``: those given, else the enabled ones of the configuration (the terminal's
    format set to ``output_format`` when given).
    """
    from bot.adapters.registry import AdapterConfigError, select_adapters
    from bot.adapters.terminal import TerminalAdapter
    from bot.config import ConfigError
    from bot.pipeline import DigestBot

    def options_for(name: str) -> dict[str, object]:
        options = settings.adapters.options_for(name)
        if name == TerminalAdapter.name and output_format is not None:
            options["format"] = output_format.value
        return options

    try:
        if adapters is None:
            adapters = select_adapters(settings.adapters.enabled, options_for, env)
        bot = DigestBot(settings, adapters, env=env)
    except (AdapterConfigError, ConfigError, ValueError) as error:
        raise fail(str(error)) from error
    try:
        try:
            bot.prepare_database()
        except (ConfigError, ValueError) as error:
            raise fail(str(error)) from error
        started()
        yield bot
    finally:
        bot.close()


@contextmanager
def open_readonly(settings: Settings, env: dict[str, str]) -> Iterator[DigestBot]:
    """The bot on the existing database, which must be at this version's schema; no chat
    adapter, nothing created or migrated. Its services read; the read-only commands use
    only those."""
    from bot.pipeline import DigestBot
    from bot.store.database import DatabaseNotReadyError, check_schema, create_database_engine

    try:
        engine = create_database_engine(settings.database_url(env), create=False)
    except DatabaseNotReadyError as error:
        raise fail(str(error), code=1) from error
    try:
        check_schema(engine)
    except DatabaseNotReadyError as error:
        engine.dispose()
        raise fail(str(error), code=1) from error
    bot = DigestBot(settings, (), env=env, engine=engine)
    started()
    try:
        yield bot
    finally:
        bot.close()


def run_with_adapters(bot: DigestBot, work: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work, then close the adapters in the same event loop.

    Their HTTP sessions (discord.py's client, a webhook session) belong to that loop:
    left open, they end the command with "Unclosed client session" on stderr.
    """
    import asyncio

    async def work_then_close() -> T:
        try:
            return await work
        finally:
            await bot.close_adapters()

    return asyncio.run(work_then_close())
