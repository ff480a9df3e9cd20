"""The command line: ``meta-ai-digest`` (also ``python -m bot``).

Every command takes ``--config PATH`` (or META_AI_DIGEST_CONFIG). Nothing
imports this module: it sits on top of the pipeline and only formats output.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from apscheduler.triggers.cron import CronTrigger
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DatabaseError, OperationalError

from bot.adapters.registry import AdapterConfigError, select_adapters
from bot.adapters.terminal import TerminalAdapter, render_digest
from bot.common.redaction import Redactor
from bot.config import ConfigError, Settings, load_settings
from bot.environment import (
    SecretsFileError,
    configure_logging,
    load_environment,
    secret_values,
)
from bot.feeds.http import HttpFetcher
from bot.feeds.poller import FeedOutcome, FeedTask, poll_feeds
from bot.pipeline import DigestBot, PollReport
from bot.reports import explain_url, feed_health_rows, status_lines
from bot.store.database import DatabaseURLError

app = typer.Typer(
    name="meta-ai-digest",
    no_args_is_help=True,
    add_completion=False,
    help="Keeps a team up to date on Meta's AI work: "
    "polls feeds, groups stories, posts extractive digests.",
)
feeds_app = typer.Typer(no_args_is_help=True, help="The configured feeds and their health.")
app.add_typer(feeds_app, name="feeds")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class Context:
    config_path: Path | None
    log_level: str


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="META_AI_DIGEST_CONFIG",
        help="TOML config merged over the shipped defaults.",
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="text or json")]


def print_error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def fail(message: str, code: int = 2) -> typer.Exit:
    print_error(message)
    return typer.Exit(code)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", envvar="META_AI_DIGEST_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR"
        ),
    ] = "WARNING",
) -> None:
    ctx.obj = Context(config_path=config, log_level=log_level)


def context_of(ctx: typer.Context, config: Path | None) -> tuple[Settings, dict[str, str]]:
    """Settings and environment for a command; --config after the command wins."""
    parent: Context = ctx.obj
    try:
        env = load_environment()
        configure_logging(parent.log_level, env)
        settings = load_settings(config or parent.config_path, env)
    except (ConfigError, SecretsFileError) as error:
        raise fail(str(error)) from error
    except ValueError as error:
        raise fail(f"--log-level: {error}") from error
    return settings, env


def make_bot(
    settings: Settings, env: dict[str, str], output_format: OutputFormat | None = None
) -> DigestBot:
    def options_for(name: str) -> dict[str, object]:
        options = settings.adapters.options_for(name)
        if name == TerminalAdapter.name and output_format is not None:
            options["format"] = output_format.value
        return options

    try:
        adapters = select_adapters(settings.adapters.enabled, options_for, env)
        return DigestBot(settings, adapters, env=env)
    except (AdapterConfigError, ConfigError, ValueError) as error:
        raise fail(str(error)) from error


ProgressHooks = tuple[Callable[[int], None] | None, Callable[[FeedOutcome], None] | None]


@contextmanager
def poll_progress(enabled: bool) -> Iterator[ProgressHooks]:
    """A progress bar on a terminal; nothing when output is piped."""
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
    table = Table(title="poll", show_lines=False)
    for column in ("feed", "status", "new items", "kept", "error"):
        table.add_column(column, overflow="fold")
    for line in report.feeds:
        status = (
            line.status if not line.warning else f"{line.status} (recovered: {line.warning[:60]})"
        )
        table.add_row(line.name, status, str(line.new_items), str(line.kept), line.error or "")
    out.print(table)
    out.print(f"{report.new_items} new items, {report.new_stories} new stories.")
    for name in report.disabled:
        out.print(f"[yellow]feed disabled after repeated failures:[/] {name}")


@app.command()
def poll(
    ctx: typer.Context,
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option(help="Poll feeds that are backing off or asked us to wait.")
    ] = False,
) -> None:
    """One poll cycle: fetch due feeds, keep Meta-AI items, group stories, summarize."""
    settings, env = context_of(ctx, config)
    bot = make_bot(settings, env)
    try:
        with poll_progress(sys.stderr.isatty()) as (on_start, on_done):
            report = asyncio.run(bot.poll(force=force, on_start=on_start, on_feed_done=on_done))
    finally:
        bot.close()
    print_poll_report(report)


@app.command()
def digest(
    ctx: typer.Context,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest; mark nothing posted.")
    ] = False,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Post the digest of stories not yet posted through the enabled adapters."""
    settings, env = context_of(ctx, config)
    bot = make_bot(settings, env, output_format)
    try:
        if dry_run:
            out.print(
                render_digest(bot.preview_digest(), output_format.value),
                markup=False,
                highlight=False,
            )
            return
        result = asyncio.run(bot.post_digest())
    finally:
        bot.close()
    if not result.digest.stories and not any(a.name == TerminalAdapter.name for a in bot.adapters):
        err.print("nothing new to post")
    elif not result.digest.stories:
        out.print(render_digest(result.digest, output_format.value), markup=False, highlight=False)
    if result.digest.stories and not result.queued_messages:
        err.print("no enabled adapter has a channel to post to; the stories stay pending")
        raise typer.Exit(1)
    delivery = result.delivery
    if delivery and delivery.errors:
        for problem in delivery.errors:
            err.print(f"[red]not delivered:[/] {problem}", highlight=False)
        raise typer.Exit(1)
    if delivery and delivery.waiting:
        err.print(
            f"{delivery.waiting} message(s) still pending; they are retried later (see `status`)."
        )


@app.command()
def latest(
    ctx: typer.Context,
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.text,
    query: Annotated[
        list[str] | None, typer.Argument(help="Only stories matching these words.")
    ] = None,
) -> None:
    """What /meta-ai answers: the most recent stories with summaries and sources."""
    settings, env = context_of(ctx, config)
    bot = DigestBot(settings, env=env)
    try:
        answer = asyncio.run(bot.latest(" ".join(query) if query else None))
    finally:
        bot.close()
    out.print(render_digest(answer, output_format.value), markup=False, highlight=False)


@app.command()
def run(ctx: typer.Context, config: ConfigOption = None) -> None:
    """The long-running bot: poll, post on schedule and answer /meta-ai until stopped."""
    from bot.scheduler import run_forever

    settings, env = context_of(ctx, config)
    bot = make_bot(settings, env)
    err.print(run_banner(settings, [adapter.name for adapter in bot.adapters]), highlight=False)
    try:
        asyncio.run(run_forever(bot))
    finally:
        bot.close()


def run_banner(settings: Settings, adapter_names: list[str]) -> str:
    """One line for the admin who just started the bot: what it does next."""
    schedule = settings.schedule
    if schedule.digest_interval_minutes:
        digests = f"every {schedule.digest_interval_minutes:g} minutes"
    else:
        trigger = CronTrigger.from_crontab(schedule.digest_cron, timezone=schedule.timezone)
        upcoming = trigger.get_next_fire_time(None, datetime.now(trigger.timezone))
        digests = f"next at {upcoming:%Y-%m-%d %H:%M %Z}" if upcoming else "never"
    return (
        f"meta-ai-digest: {len(settings.feeds)} feeds, polled every "
        f"{schedule.poll_interval_minutes:g} minutes; digests {digests} "
        f"via {', '.join(adapter_names)}. Ctrl-C stops."
    )


@app.command()
def status(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Feed health, pending and blocked deliveries, last digest."""
    settings, env = context_of(ctx, config)
    bot = DigestBot(settings, env=env)
    try:
        with bot.sessions() as session:
            lines = status_lines(session)
    finally:
        bot.close()
    for line in lines:
        out.print(line, highlight=False, markup=False)


@app.command()
def explain(ctx: typer.Context, url: str, config: ConfigOption = None) -> None:
    """Why an article was or was not posted."""
    settings, env = context_of(ctx, config)
    bot = DigestBot(settings, env=env)
    try:
        with bot.sessions() as session:
            lines = explain_url(session, url)
    finally:
        bot.close()
    for line in lines:
        out.print(line, highlight=False, markup=False)


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, config: ConfigOption = None) -> None:
    """The configured feeds with their stored health."""
    settings, env = context_of(ctx, config)
    bot = DigestBot(settings, env=env)
    try:
        with bot.sessions.begin() as session:
            rows = feed_health_rows(session, settings.feeds)
    finally:
        bot.close()
    table = Table()
    for column in ("feed", "enabled", "last status", "last success", "errors", "next poll", "url"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@feeds_app.command("check")
def feeds_check(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Fetch and parse every configured feed now, storing nothing; exit 1 if any fails."""
    settings, _env = context_of(ctx, config)
    tasks = [FeedTask(feed.name, feed.url) for feed in settings.feeds if feed.enabled]

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
            outcome.name,
            outcome.status,
            entries,
            f"{outcome.elapsed:.2f}s",
            str(outcome.error or ""),
        )
    out.print(table)
    if any(not outcome.ok for outcome in outcomes):
        raise typer.Exit(1)


@feeds_app.command("enable")
def feeds_enable(ctx: typer.Context, name: str, config: ConfigOption = None) -> None:
    """Re-enable a feed that was disabled after repeated failures."""
    from bot.store.feeds import enable_feed, sync_feeds

    settings, env = context_of(ctx, config)
    bot = DigestBot(settings, env=env)
    try:
        with bot.sessions.begin() as session:
            sync_feeds(session, settings.feeds)
            found = enable_feed(session, name)
    finally:
        bot.close()
    if not found:
        raise fail(f"no feed named {name!r}; see `meta-ai-digest feeds list`")
    out.print(f"feed {name!r} enabled; it is polled in the next cycle.")


@app.command()
def summarize(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="A file path, an http(s) URL, or - for standard input.")
    ] = "-",
    config: ConfigOption = None,
    sentences: Annotated[
        int | None, typer.Option("--sentences", "-n", min=1, help="Sentences to choose.")
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", "-t", help="The article's title, if known.")
    ] = None,
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl", help='Batch: {"id","title","text"} lines in, {"id","summary"} lines out.'
        ),
    ] = False,
) -> None:
    """Summarize one article (or JSON lines) with the extractive rules."""
    from bot.summarize import Summarizer, summarize_jsonl
    from bot.topic import TopicClassifier

    settings, _env = context_of(ctx, config)
    summarizer = Summarizer(settings.summarize, topic_terms=TopicClassifier(settings.topic).terms())
    if jsonl:
        for line in summarize_jsonl(sys.stdin, summarizer, sentences):
            sys.stdout.write(line + "\n")
        return
    text = read_article(source, settings)
    for sentence in summarizer.summarize(text, title=title, max_sentences=sentences):
        out.print(sentence, markup=False, highlight=False)


def read_article(source: str, settings: Settings) -> str:
    """Plain text of a file, stdin, or a web page (main text via trafilatura)."""
    from bot.feeds.article import fetch_article_html
    from bot.feeds.http import FetchError
    from bot.feeds.text import clean_text
    from bot.summarize import extract_main_text

    if source.startswith(("http://", "https://")):

        async def fetch() -> str:
            async with HttpFetcher(settings.fetch) as fetcher:
                return await fetch_article_html(fetcher, source, trusted=True)

        try:
            html = asyncio.run(fetch())
        except FetchError as error:
            raise fail(f"cannot fetch {source}: {error}") from error
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
    try:
        app()
    except Exception as error:
        raise SystemExit(report_failure(error)) from None


def report_failure(error: Exception) -> int:
    """Print an unhandled error without secrets and return the exit code.

    A database URL that cannot work, or a database that cannot be reached or
    is not a database, is the admin's to fix: one line says what is wrong.
    Anything else is a bug: its traceback, redacted, shows where.
    """
    if isinstance(error, DatabaseURLError):
        print_error(redact_secrets(str(error)))
        return 2
    if type(error) in (OperationalError, DatabaseError):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print_error(f"the database cannot be used: {redact_secrets(reason)}")
        return 1
    trace = "".join(traceback.format_exception(error))
    err.print(redact_secrets(trace), markup=False, highlight=False)
    print_error("unexpected failure; the traceback above shows where")
    return 1


def redact_secrets(text: str) -> str:
    """``text`` with the values of the environment's secrets replaced."""
    try:
        env = load_environment()
    except SecretsFileError:
        env = dict(os.environ)
    return Redactor(secret_values(env)).redact(text)


if __name__ == "__main__":
    main()
