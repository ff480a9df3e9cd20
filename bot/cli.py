"""The command line: ``meta-ai-digest`` (also ``python -m bot``).

Every command takes ``--config PATH`` (or META_AI_DIGEST_CONFIG). Nothing
imports this module: it sits on top of the pipeline and only formats output.

Start-up time is part of the interface (``--help`` answers in a tenth of a
second): this module imports typer and rich only, and each command imports
the stages it runs. Commands that write (``poll``, ``digest``, ``run``,
``feeds enable``, ``migrate``) bring the schema up to date first; commands
that read (``latest``, ``status``, ``explain``, ``feeds list``) never create
or migrate a database and say what to run when it is missing or behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from bot.common import collector
from bot.common.redaction import Redactor
from bot.common.text import escape_controls, plural
from bot.environment import (
    SecretsFileError,
    configure_logging,
    load_environment,
    secret_values,
)

LOG_LEVEL_ENV_VAR = "META_AI_DIGEST_LOG_LEVEL"

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from rich.table import Table
    from sqlalchemy.orm import Session, sessionmaker

    from bot.config import Settings
    from bot.digest.model import FeedInfo
    from bot.feeds.poller import FeedOutcome
    from bot.pipeline import DigestBot, PollReport
    from bot.services.poll_report import FeedReport


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


app = typer.Typer(
    name="meta-ai-digest",
    cls=TidyGroup,
    no_args_is_help=True,
    add_completion=False,
    help="Keeps a team up to date on Meta's AI work: "
    "polls feeds, groups stories, posts extractive digests.",
)
feeds_app = typer.Typer(
    cls=TidyGroup,
    no_args_is_help=True,
    help="The feeds: list, add, remove, import and export them, check their health.",
)
app.add_typer(feeds_app, name="feeds")
command = partial(app.command, cls=TidyCommand)
feeds_command = partial(feeds_app.command, cls=TidyCommand)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
# The secrets of the running command's environment, masked in everything printed
# (set by ``context_of``; until then, read from the process environment on use).
_printing_redactor: Redactor | None = None


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class Context:
    config_path: Path | None
    log_level: str


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


# The same options before the command (main_options) and after it: after it wins, then
# before it, then the environment variable.
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="TOML config merged over the shipped defaults (or META_AI_DIGEST_CONFIG).",
    ),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        show_default=False,
        help="DEBUG, INFO, WARNING or ERROR (or META_AI_DIGEST_LOG_LEVEL; default WARNING).",
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


def plain(text: str, *, multiline: bool = False) -> Text:
    """Text from feeds, servers, platforms or the database, as the terminal shows it.

    A rich ``Text``, so no markup (``[link=...]``, ``[red]``), emoji code or highlighting
    applies; control characters spelled out (an ESC sequence in a reason phrase cannot
    recolour the screen or plant an OSC 8 link); the environment's secrets masked.
    """
    redactor = _printing_redactor or Redactor(environment_secrets())
    return Text(escape_controls(redactor.redact(text), keep_newlines=multiline))


def print_error(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", plain(message, multiline=True)))


def fail(message: str, code: int = 2) -> typer.Exit:
    print_error(message)
    return typer.Exit(code)


def show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        out.print(f"meta-ai-digest {version('meta-ai-digest')}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="META_AI_DIGEST_CONFIG",
            show_envvar=False,
            metavar="PATH",
            help="TOML config merged over the shipped defaults (or META_AI_DIGEST_CONFIG).",
        ),
    ] = None,
    log_level: LogLevelOption = None,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            show_default=False,
            is_eager=True,
            callback=show_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Options given before the command; the same options after it win."""
    level = log_level or os.environ.get(LOG_LEVEL_ENV_VAR) or "WARNING"
    ctx.obj = Context(config_path=config, log_level=level)


def context_of(
    ctx: typer.Context, config: Path | None, log_level: str | None = None
) -> tuple[Settings, dict[str, str]]:
    """Settings and environment for a command; --config and --log-level after the command
    win over the same options before it."""
    from bot.adapters.registry import AdapterConfigError, check_adapter_tables
    from bot.config import ConfigError, load_settings

    global _printing_redactor
    parent: Context = ctx.obj
    try:
        env = load_environment()
        _printing_redactor = Redactor(secret_values(env))
        level = (log_level or parent.log_level).upper()
        if level not in LOG_LEVELS:
            raise fail(f"--log-level: {level!r} is not one of {', '.join(LOG_LEVELS)}")
        configure_logging(level, env)
        settings = load_settings(config or parent.config_path, env)
        # Every command, not only those that post: a typo fails the same way everywhere.
        check_adapter_tables(settings.adapters.tables())
    except (AdapterConfigError, ConfigError, SecretsFileError) as error:
        raise fail(str(error)) from error
    return settings, env


def terminal_format(settings: Settings) -> OutputFormat:
    """``[adapters.terminal] format`` (checked with every command's settings)."""
    from bot.adapters.terminal import parse_options

    return OutputFormat(parse_options(settings.adapters.options_for("terminal")).format)


def make_bot(
    settings: Settings, env: dict[str, str], output_format: OutputFormat | None = None
) -> DigestBot:
    """The whole pipeline with the enabled adapters, for commands that write."""
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
        adapters = select_adapters(settings.adapters.enabled, options_for, env)
        bot = DigestBot(settings, adapters, env=env)
    except (AdapterConfigError, ConfigError, ValueError) as error:
        raise fail(str(error)) from error
    collector.imports_done()
    return bot


T = TypeVar("T")


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


@contextmanager
def read_only(settings: Settings, env: dict[str, str]) -> Iterator[sessionmaker[Session]]:
    """Sessions on the existing database, which must be at this version's schema."""
    from bot.store.database import (
        DatabaseNotReadyError,
        check_schema,
        create_database_engine,
        session_factory,
    )

    try:
        engine = create_database_engine(settings.database_url(env), create=False)
    except DatabaseNotReadyError as error:
        raise fail(str(error), code=1) from error
    try:
        check_schema(engine)
    except DatabaseNotReadyError as error:
        engine.dispose()
        raise fail(str(error), code=1) from error
    collector.imports_done()
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


if TYPE_CHECKING:
    ProgressHooks = tuple[Callable[[int], None] | None, Callable[[FeedOutcome], None] | None]


@contextmanager
def poll_progress(enabled: bool) -> Iterator[ProgressHooks]:
    """A progress bar on a terminal; nothing when output is piped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not enabled:
        yield None, None
        return
    with Progress(
        TextColumn("polling feeds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("poll", total=None)

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_done(_outcome: FeedOutcome) -> None:
            progress.advance(task)

        yield on_start, on_done


def print_poll_report(report: PollReport) -> None:
    """A line for each feed with something to say (new items, an error, a warning, disabled);
    the feeds with nothing new are counted, so a poll of a thousand feeds stays readable."""
    from collections import Counter

    from rich.table import Table

    failed = [line for line in report.feeds if line.error]
    compact = len(failed) > FAILURES_LISTED
    worth_a_line = [
        line
        for line in report.feeds
        if (line.error and not compact)
        or (line.warning or line.new_items or line.status == "disabled")
    ]
    if worth_a_line:
        table = Table(title="poll", show_lines=False)
        for column in ("feed", "status", "new items", "kept", "error"):
            table.add_column(column, overflow="fold")
        for line in worth_a_line:
            status = line.status
            if line.warning:
                status = f"{line.status} (recovered: {line.warning[:60]})"
            table.add_row(
                plain(line.name),
                plain(status),
                str(line.new_items),
                str(line.kept),
                plain(line.error or ""),
            )
        out.print(table)
    if compact:
        for text in failure_summary(failed):
            out.print(plain(text))
    listed = {id(line) for line in [*worth_a_line, *failed]}
    quiet = Counter(
        "waiting" if line.status.startswith("waiting until") else line.status
        for line in report.feeds
        if id(line) not in listed
    )
    if quiet:
        kinds = ", ".join(f"{count} {status}" for status, count in sorted(quiet.items()))
        count = plural(sum(quiet.values()), "feed")
        out.print(f"{count} with nothing new ({kinds}).", highlight=False)
    new_items, new_stories = (
        plural(report.new_items, "new item"),
        plural(report.new_stories, "new story"),
    )
    out.print(f"{new_items}, {new_stories}.", highlight=False)
    for name in report.disabled:
        out.print(
            Text.assemble(("feed disabled after repeated failures:", "yellow"), " ", plain(name))
        )


# More failed feeds than this in one poll (no network, say) are counted by kind, not listed.
FAILURES_LISTED = 10


def failure_summary(failed: Sequence[FeedReport]) -> list[str]:
    """Failed feeds counted by kind, each kind with its first error's gist
    (``dns: name lookup failed``): a poll without network stays a few lines."""
    from collections import Counter

    kinds = Counter(line.status for line in failed)
    gist: dict[str, str] = {}
    for line in failed:
        gist.setdefault(line.status, error_gist(line.status, line.error).partition(": ")[2])
    lines = [f"{plural(len(failed), 'feed')} failed:"]
    for kind, count in kinds.most_common():
        example = gist[kind]
        lines.append(f"  {count} {kind}" + (f": {example}" if example else ""))
    lines.append("`meta-ai-digest feeds list` shows each feed; `status` their whole errors.")
    return lines


def error_gist(kind: str, error: str | None) -> str:
    """A feed's error in a few words, its kind first (``connection: cannot connect``), for
    the failures counted by kind; the whole errors are in `status`."""
    if not error:
        return ""
    parts = [part.strip() for part in error.split(": ")]  # not a URL's "://" or a port
    if parts[0] != kind:
        parts.insert(0, kind)
    return ": ".join(parts[:2])


@command()
def poll(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    force: Annotated[
        bool, flag("--force", help="Poll feeds that are backing off or asked us to wait.")
    ] = False,
) -> None:
    """One poll cycle: fetch due feeds, keep Meta-AI items, group stories, summarize.

    Exit status: 0 when every feed polled was fine, 1 when one or more failed (each is
    listed), 2 for a usage or configuration mistake.
    """
    settings, env = context_of(ctx, config, log_level)
    # The fetcher's stack (aiohttp) loads with the rest of start-up, before make_bot lets
    # the collector run again (see bot.common.collector).
    import importlib

    importlib.import_module("bot.services.ingest")
    bot = make_bot(settings, env)
    try:
        with poll_progress(sys.stderr.isatty()) as (on_start, on_done):
            # A feed disabled in this cycle sends its admin notice through the adapters.
            report = run_with_adapters(
                bot, bot.poll(force=force, on_start=on_start, on_feed_done=on_done)
            )
    finally:
        bot.close()
    print_poll_report(report)
    if report.failed:
        raise typer.Exit(1)


@command()
def digest(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    dry_run: Annotated[
        bool, flag("--dry-run", help="Print the digest; mark nothing posted.")
    ] = False,
    output_format: FormatOption = None,
) -> None:
    """Post the digest of stories not yet posted through the enabled adapters.

    Exit status 1 when a message was not delivered (it stays pending; each reason is
    printed), 2 for a usage or configuration mistake.
    """
    from bot.adapters.terminal import TerminalAdapter, render_digest

    settings, env = context_of(ctx, config, log_level)
    output_format = output_format or terminal_format(settings)
    bot = make_bot(settings, env, output_format)
    try:
        if dry_run:
            out.print(
                plain(render_digest(bot.preview_digest(), output_format.value), multiline=True)
            )
            return
        # One attempt per message (each within its adapter's send timeout): what is left
        # pending is retried by `run` every minute, or by the next `digest`.
        result = run_with_adapters(bot, bot.post_digest(max_wait_seconds=0))
    finally:
        bot.close()
    if not result.digest.stories and not any(a.name == TerminalAdapter.name for a in bot.adapters):
        err.print("nothing new to post")
    elif not result.digest.stories:
        out.print(plain(render_digest(result.digest, output_format.value), multiline=True))
    if result.digest.stories and not result.queued_messages:
        err.print("no enabled adapter has a channel to post to; the stories stay pending")
        raise typer.Exit(1)
    delivery = result.delivery
    if delivery is None:
        return
    for problem in [*delivery.errors, *delivery.retrying]:
        err.print(Text.assemble(("not delivered:", "red"), " ", plain(problem)))
    if delivery.waiting:
        # Waiting without a failure here: another process is sending it, or its retry is due.
        err.print(
            f"{plural(delivery.waiting, 'message')} still pending: `meta-ai-digest run` "
            "retries every minute, or run `digest` again; `status` shows why.",
            highlight=False,
        )
    if delivery.errors or delivery.retrying:
        raise typer.Exit(1)


@command()
def latest(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    output_format: FormatOption = None,
    query: Annotated[list[str] | None, typer.Argument(metavar="WORDS", hidden=True)] = None,
) -> None:
    """What /meta-ai answers: the most recent stories with summaries and sources.

    With WORDS, the latest stories (last 30 days) matching all of them.
    """
    from bot.adapters.terminal import render_digest
    from bot.digest.builder import latest_digest
    from bot.store.schema import utc_now

    settings, env = context_of(ctx, config, log_level)
    output_format = output_format or terminal_format(settings)
    with read_only(settings, env) as sessions, sessions() as session:
        answer = latest_digest(session, settings.digest, utc_now(), " ".join(query or []) or None)
    out.print(plain(render_digest(answer, output_format.value), multiline=True))


@command()
def run(ctx: typer.Context, config: ConfigOption = None, log_level: LogLevelOption = None) -> None:
    """The long-running bot: poll, post on schedule and answer /meta-ai until stopped."""
    import logging

    from bot.scheduler import serve
    from bot.store.database import describe_database

    settings, env = context_of(ctx, config, log_level)
    bot = make_bot(settings, env)
    polled = [info for info in bot.catalog.infos() if info.state not in ("off", "disabled")]
    banner = run_banner(settings, len(polled), [adapter.name for adapter in bot.adapters])
    err.print(banner, highlight=False)
    err.print(plain(f"database: {describe_database(settings.database_url(env))}"))
    finished = False
    try:
        finished = serve(bot, settings.schedule)
    finally:
        bot.close()
    if not finished:
        # A thread still in a transaction: the interpreter would wait for it at exit, past
        # the 10 s a stop may take. The database rolls the transaction back.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def run_banner(settings: Settings, feed_count: int, adapter_names: list[str]) -> str:
    """What the bot does next, for the admin who just started it. ``feed_count`` counts
    every feed polled, those of the config file and those added."""
    from datetime import UTC, datetime

    schedule = settings.schedule
    if schedule.digest_interval_minutes:
        digests = f"every {plural(schedule.digest_interval_minutes, 'minute')}"
    else:
        trigger = schedule.digest_cron_trigger()
        upcoming = trigger.get_next_fire_time(None, datetime.now(UTC))
        digests = f"next at {when(upcoming, schedule.timezone)}"
    # Two lines, each within 80 columns.
    return (
        f"meta-ai-digest: {plural(feed_count, 'feed')}, polled every "
        f"{plural(schedule.poll_interval_minutes, 'minute')}, posting via "
        f"{', '.join(adapter_names)}.\ndigests {digests}. Ctrl-C stops."
    )


def when(moment: datetime | None, zone: str) -> str:
    """A firing time as an admin reads it: its weekday, date and time in ``zone``."""
    from zoneinfo import ZoneInfo

    if moment is None:
        return "never"
    return f"{moment.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M %Z}"


@command()
def status(
    ctx: typer.Context, config: ConfigOption = None, log_level: LogLevelOption = None
) -> None:
    """The database, feed health, deliveries, chat adapters and the schedule.

    The database in use and its size, failing and disabled feeds, stories waiting,
    pending and blocked deliveries with their errors, the last digest, the chat adapters
    with their channels, and each scheduled job with its next firing.
    """
    from bot.reports import status_lines
    from bot.store.database import describe_database

    settings, env = context_of(ctx, config, log_level)
    out.print(plain(f"database: {describe_database(settings.database_url(env))}"))
    with read_only(settings, env) as sessions, sessions() as session:
        lines = status_lines(session, settings.configured_feeds())
    for line in [*lines, *adapter_lines(settings, env), *schedule_lines(settings)]:
        out.print(plain(line))


def adapter_lines(settings: Settings, env: dict[str, str]) -> list[str]:
    """The chat adapters this configuration posts through and their channels; a wrong
    adapter configuration is shown, not fatal (`status` is where an admin looks)."""
    from bot.adapters.registry import AdapterConfigError, select_adapters

    try:
        adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    except (AdapterConfigError, ValueError) as error:
        return [f"adapters: none usable: {error}"]
    lines = [f"adapters: {', '.join(adapter.name for adapter in adapters) or 'none'}"]
    for adapter in adapters:
        channels = ", ".join(adapter.destinations()) or "none"
        admin = ", ".join(adapter.admin_destinations())
        lines.append(
            f"  {adapter.name}: digests to {channels}" + (f"; notices to {admin}" if admin else "")
        )
    return lines


def schedule_lines(settings: Settings) -> list[str]:
    """What `run` does when: each job, its schedule and its next firing."""
    from datetime import UTC, datetime

    from bot.scheduler import next_firings

    zone = settings.schedule.timezone
    lines = [f"schedule (times in {zone}) when `meta-ai-digest run` runs:"]
    for name, words, upcoming in next_firings(settings.schedule, datetime.now(UTC)):
        lines.append(f"  {name}: {words}; next {when(upcoming, zone)}")
    return lines


@command()
def explain(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", hidden=True)],
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Why the article at URL was or was not posted.

    Exit status 1 when no feed ever carried it.
    """
    from bot.reports import explain_url

    settings, env = context_of(ctx, config, log_level)
    with read_only(settings, env) as sessions, sessions() as session:
        lines = explain_url(session, url)
    if not lines:
        raise fail(
            f"{url} was never seen in any feed: not polled yet (run `meta-ai-digest poll`), "
            "or no feed carries it (`meta-ai-digest feeds add`)",
            code=1,
        )
    for line in lines:
        out.print(plain(line))


@feeds_command("list")
def feeds_list(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    output_format: FormatOption = None,
) -> None:
    """Every feed, one a line: where it comes from (config or added), its state, its last
    success and its last error. --format json adds URLs and schedules."""
    from bot.reports import feed_infos

    settings, env = context_of(ctx, config, log_level)
    with read_only(settings, env) as sessions, sessions() as session:
        infos = feed_infos(session, settings.configured_feeds())
    if (output_format or terminal_format(settings)) is OutputFormat.json:
        import json

        rows = [info.model_dump(mode="json") for info in infos]
        sys.stdout.write(json.dumps({"feeds": rows}, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(feeds_table(infos))


def feeds_table(infos: Sequence[FeedInfo]) -> Table:
    """One row per feed at any width: a long name wraps onto the next line, never cut; the
    error is cut with an ellipsis (whole in `status` and --format json)."""
    from datetime import UTC, datetime

    from rich import box
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    # A long name wraps (never cut: two names cut alike would read the same); the error is
    # cut with an ellipsis; the rest is short.
    table.add_column("feed", min_width=20, ratio=3, overflow="fold")
    table.add_column("from", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("last ok", no_wrap=True)
    table.add_column("last error", ratio=2)
    for info in infos:
        state = {
            "failing": f"failing ×{info.failures}",
            "disabled": "DISABLED",
            "not polled yet": "new",
        }.get(info.state, info.state)
        # The stored error already names its kind ("dns: name lookup failed").
        error = info.error if info.state in ("failing", "disabled") else ""
        table.add_row(
            plain(info.name),
            info.source,
            state,
            ago(info.last_success, now),
            one_line(error or ""),
        )
    return table


def one_line(text: str) -> Text:
    """Feed text for a table cell that never wraps: cut with an ellipsis where it must."""
    cell = plain(text)
    cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


def ago(moment: datetime | None, now: datetime) -> str:
    """``5m ago``, ``3h ago``, ``2d ago`` or ``never``: short enough for an 80-column line."""
    if moment is None:
        return "never"
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


@feeds_command("check")
def feeds_check(
    ctx: typer.Context, config: ConfigOption = None, log_level: LogLevelOption = None
) -> None:
    """Fetch and parse every configured feed now, storing nothing; exit 1 if any fails."""
    import asyncio

    from rich.table import Table

    from bot.feeds.http import HttpFetcher
    from bot.feeds.poller import FeedTask, poll_feeds

    settings, _env = context_of(ctx, config, log_level)
    tasks = [FeedTask(feed.name, feed.url) for feed in settings.configured_feeds() if feed.enabled]
    collector.imports_done()

    async def check() -> list[FeedOutcome]:
        async with HttpFetcher(settings.fetch) as fetcher:
            return await poll_feeds(fetcher, tasks)

    outcomes = asyncio.run(check())
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


@feeds_command("add")
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", hidden=True)],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", metavar="NAME", help="The feed's name; default: its title."),
    ] = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Add the feed at URL, or the feed a site's page at URL links to.

    It is fetched and parsed first (through the same limits and address checks as every
    poll), then stored in the database, where every replica sees it; the admin channels
    hear of it. Exit status 1 when no feed could be read there, 2 for a mistake.
    """
    from bot.feeds.urls import feed_url_problem, shown_url

    settings, env = context_of(ctx, config, log_level)
    problem = feed_url_problem(url.strip(), ("http", "https"))
    if problem is not None:
        raise fail(f"{shown_url(url)!r} {problem}")
    bot = make_bot(settings, env)
    try:
        change = run_with_adapters(bot, bot.add_feed(url, by=command_line_user(), name=name))
    finally:
        bot.close()
    if not change.ok:
        raise fail(change.message, code=1)
    out.print(plain(change.message))


@feeds_command("remove")
def feeds_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", hidden=True)],
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Remove the feed NAME, added with `feeds add`, `feeds import` or in chat.

    Its stories stay; `feeds add` brings it back. A feed of the config file is removed
    there.
    """
    settings, env = context_of(ctx, config, log_level)
    bot = make_bot(settings, env)
    try:
        change = run_with_adapters(bot, bot.remove_feed(name, by=command_line_user()))
    finally:
        bot.close()
    if not change.ok:
        raise fail(change.message)
    out.print(plain(change.message))


@feeds_command("import")
def feeds_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", hidden=True)],
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Add every feed of the OPML file FILE (- for standard input) that is not there yet.

    Categories and site addresses are kept for `feeds export`. Nothing is fetched now:
    each feed is checked at its first poll. Exit status 1 when a feed was refused.
    """
    from bot.feeds.opml import OpmlError

    settings, env = context_of(ctx, config, log_level)
    data = read_capped(path, settings.fetch.max_body_bytes)
    bot = make_bot(settings, env)
    try:
        report = bot.catalog.import_opml(data, added_by=f"{command_line_user()} (OPML import)")
    except OpmlError as error:
        raise fail(f"{path}: {error}") from error
    finally:
        bot.close()
    out.print(
        f"{plural(len(report.added), 'feed')} added, {len(report.already_there)} already "
        f"there, {len(report.refused)} refused.",
        highlight=False,
    )
    for label, reason in report.refused:
        err.print(Text.assemble(("refused:", "yellow"), " ", plain(f"{label}: {reason}")))
    if report.refused:
        raise typer.Exit(1)


@feeds_command("export")
def feeds_export(
    ctx: typer.Context,
    with_credentials: Annotated[
        bool,
        flag(
            "--with-credentials",
            help="Keep user names, passwords and key-like query values in the addresses.",
        ),
    ] = False,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Print every feed (configured and added) as an OPML 2.0 file, for a feed reader or
    another install (`feeds import`).

    Credentials in feed addresses are masked unless --with-credentials.
    """
    from bot.services.feeds import FeedCatalog

    settings, env = context_of(ctx, config, log_level)
    with read_only(settings, env) as sessions:
        catalog = FeedCatalog(sessions, settings.configured_feeds, settings.fetch)
        document, masked = catalog.export_opml(with_credentials=with_credentials)
    sys.stdout.buffer.write(document)
    sys.stdout.flush()
    if masked:
        err.print(
            f"{masked} feed addresses hold credentials, masked as [redacted]; "
            "--with-credentials keeps them.",
            highlight=False,
        )


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


@feeds_command("enable")
def feeds_enable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", hidden=True)],
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Re-enable the feed NAME, disabled after repeated failures."""
    from bot.pipeline import DigestBot
    from bot.store.feeds import enable_feed, sync_feeds

    settings, env = context_of(ctx, config, log_level)
    bot = DigestBot(settings, env=env)
    try:
        with bot.sessions.begin() as session:
            sync_feeds(session, settings.configured_feeds())
            found = enable_feed(session, name)
    finally:
        bot.close()
    if not found:
        raise fail(f"no feed named {name!r}; see `meta-ai-digest feeds list`")
    out.print(f"feed {name!r} enabled; it is polled in the next cycle.")


@command()
def migrate(
    ctx: typer.Context, config: ConfigOption = None, log_level: LogLevelOption = None
) -> None:
    """Create the database, or bring its schema up to this version, keeping all data.

    A PostgreSQL database that does not exist yet is created, as `createdb` would.
    """
    from bot.store.database import (
        create_database_engine,
        describe_database,
        ensure_database,
        schema_revision,
    )
    from bot.store.database import migrate as upgrade

    settings, env = context_of(ctx, config, log_level)
    url = settings.database_url(env)
    engine = create_database_engine(url)
    try:
        name = ensure_database(engine)
        created = f"database {name} created, " if name else ""
        before = schema_revision(engine)
        upgrade(engine)
        after = schema_revision(engine)
    finally:
        engine.dispose()
    change = "up to date" if before == after else f"migrated from {before or 'nothing'}"
    out.print(plain(f"{describe_database(url)}: {created}schema {after}, {change}"))


@command()
def defaults() -> None:
    """Print the shipped configuration (every key, commented) to start a config file from."""
    from bot.defaults import shipped_text

    sys.stdout.write(shipped_text())


DemoFormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        metavar="text|json",
        show_default=False,
        help="text or json; default text (the demo reads no config).",
    ),
]


@command()
def demo(
    ctx: typer.Context,
    log_level: LogLevelOption = None,
    output_format: DemoFormatOption = None,
) -> None:
    """Poll the sample feeds shipped with the bot and print their digest: offline, in seconds.

    The stories are made up; the database is a throwaway one, deleted at the end. Your
    config file, your database and your chat platforms are not used.
    """
    import tempfile

    from bot.adapters.terminal import TerminalAdapter
    from bot.config import FeedConfig, load_settings
    from bot.demo import write_sample_feeds
    from bot.pipeline import DigestBot
    from bot.store.settings import DatabaseSettings

    parent: Context = ctx.obj
    configure_logging((log_level or parent.log_level).upper(), load_environment())
    chosen = output_format or OutputFormat.text
    with tempfile.TemporaryDirectory(prefix="meta-ai-digest-demo-") as scratch:
        directory = Path(scratch)
        feeds = [
            FeedConfig(name=name, url=path.as_uri()) for name, path in write_sample_feeds(directory)
        ]
        err.print(
            f"meta-ai-digest demo: {len(feeds)} sample feeds (made-up stories), a throwaway "
            "database, nothing posted anywhere.",
            highlight=False,
        )
        # The shipped settings alone: no user config, no DATABASE_URL, no chat platform.
        settings = load_settings(None, env={}).model_copy(
            update={
                "feeds": feeds,
                "extra_feeds": [],
                "database": DatabaseSettings.model_validate(
                    {"url": f"sqlite:///{directory / 'demo.db'}"}
                ),
            }
        )
        bot = DigestBot(settings, [TerminalAdapter(chosen.value)], env={})
        collector.imports_done()

        async def poll_then_digest() -> PollReport:
            report = await bot.poll()
            err.print(
                f"polled {plural(len(report.feeds), 'feed')}: {plural(report.new_items, 'item')}, "
                f"{len(report.kept_ids)} about Meta's AI work, "
                f"{plural(report.new_stories, 'story')}.",
                highlight=False,
            )
            await bot.post_digest(max_wait_seconds=0)
            return report

        try:
            report = run_with_adapters(bot, poll_then_digest())
        finally:
            bot.close()
    err.print(
        "That was the demo. `meta-ai-digest run` polls the real feeds; set a chat platform's "
        "variables (README: Chat platforms) to post there.",
        highlight=False,
    )
    if report.failed:
        raise typer.Exit(1)


@command()
def summarize(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="PATH|URL|-", hidden=True)] = "-",
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    sentences: Annotated[
        int | None,
        typer.Option("--sentences", "-n", metavar="N", min=1, help="Sentences to choose."),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", "-t", metavar="TITLE", help="The article's title, if known."),
    ] = None,
    jsonl: Annotated[
        bool,
        flag("--jsonl", help='Batch: {"id","title","text"} lines in, {"id","summary"} lines out.'),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, help="With --jsonl: processes to spread a long batch over."
        ),
    ] = None,
) -> None:
    """Summarize one article (or JSON lines) with the extractive rules.

    The article is a file PATH, an http(s) URL (its main text is extracted) or - for
    standard input (the default).
    """
    from bot.summarize.jsonl import summarize_jsonl
    from bot.summarize.summarizer import Summarizer
    from bot.topic.classifier import TopicClassifier

    settings, _env = context_of(ctx, config, log_level)
    summarizer = Summarizer(settings.summarize, topic_terms=TopicClassifier(settings.topic).terms())
    collector.imports_done()
    if jsonl:
        from bot.common.workers import available_cores

        for line in summarize_jsonl(sys.stdin, summarizer, sentences, workers or available_cores()):
            sys.stdout.write(line + "\n")
        return
    text = read_article(source, settings)
    for sentence in summarizer.summarize(text, title=title, max_sentences=sentences):
        out.print(plain(sentence))


def read_article(source: str, settings: Settings) -> str:
    """Plain text of a file, stdin, or a web page (main text via trafilatura)."""
    import asyncio

    from bot.feeds.article import fetch_article_html
    from bot.feeds.http import FetchError, HttpFetcher
    from bot.feeds.text import clean_text
    from bot.feeds.urls import shown_url
    from bot.summarize.fulltext import extract_main_text

    if source.startswith(("http://", "https://")):

        async def fetch() -> str:
            async with HttpFetcher(settings.fetch) as fetcher:
                return await fetch_article_html(fetcher, source, trusted=True)

        try:
            html = asyncio.run(fetch())
        except FetchError as error:
            raise fail(f"cannot fetch {shown_url(source)}: {error}") from error
        text = extract_main_text(html, source, settings=settings.summarize)
        if not text:
            raise fail(f"no article text found at {source}")
        return text
    try:
        raw = (
            sys.stdin.read()
            if source == "-"
            else Path(source).read_text(encoding="utf-8", errors="replace")
        )
    except OSError as error:
        raise fail(f"cannot read {source}: {error.strerror or error}") from error
    return clean_text(raw, keep_paragraphs=True) if "<" in raw else raw


def main() -> None:
    """Console-script entry point.

    Errors the commands do not handle themselves end here rather than in
    typer's traceback printer, which knows nothing of secrets.
    """
    collector.pause_for_imports()
    try:
        app()
    except Exception as error:
        raise SystemExit(report_failure(error)) from None
    finally:
        collector.before_exit()


def report_failure(error: Exception) -> int:
    """Print an unhandled error without secrets and return the exit code.

    A database URL that cannot work, or a database that cannot be reached or
    is not a database, is the admin's to fix: one line says what is wrong.
    Anything else is a bug: its traceback, redacted, shows where.
    """
    import traceback

    from sqlalchemy.exc import DatabaseError, OperationalError

    from bot.store.database import DatabaseURLError, missing_database

    if isinstance(error, DatabaseURLError):
        print_error(redact_secrets(str(error)))
        return 2
    if type(error) in (OperationalError, DatabaseError) and (name := missing_database(error)):
        print_error(
            f'the database "{name}" does not exist on the server: `meta-ai-digest migrate` '
            f"creates it (or `createdb {name}` as its owner)"
        )
        return 1
    if type(error) in (OperationalError, DatabaseError):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print_error(f"the database cannot be used: {redact_secrets(reason)}")
        return 1
    trace = "".join(traceback.format_exception(error))
    err.print(plain(redact_secrets(trace), multiline=True))
    print_error("unexpected failure; the traceback above shows where")
    return 1


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


if __name__ == "__main__":
    main()
