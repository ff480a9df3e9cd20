"""``poll``: one poll cycle, and its report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from bot.cli.bootstrap import context_of, open_app, run_with_adapters
from bot.cli.groups import TidyCommand
from bot.cli.options import configured, flag
from bot.cli.output import err, out, plain
from bot.common.text import plural

if TYPE_CHECKING:
    from bot.feeds.records import FeedOutcome
    from bot.services.poll_report import FeedReport, PollReport

commands = typer.Typer(add_completion=False)


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


@commands.command(cls=TidyCommand)
@configured()
def poll(
    ctx: typer.Context,
    force: Annotated[
        bool, flag("--force", help="Poll feeds that are backing off or asked us to wait.")
    ] = False,
) -> None:
    """One poll cycle: fetch due feeds, keep Meta-AI items, group stories, summarize.

    Exit status: 0 when every feed polled was fine, 1 when one or more failed (each is
    listed), 2 for a usage or configuration mistake.
    """
    settings, env = context_of(ctx)
    # The fetcher's stack (aiohttp) loads with the rest of start-up, before open_app lets
    # the collector run again (see bot.common.collector).
    import importlib

    importlib.import_module("bot.services.ingest")
    with open_app(settings, env) as bot, poll_progress(sys.stderr.isatty()) as hooks:
        on_start, on_done = hooks
        # A feed disabled in this cycle sends its admin notice through the adapters.
        report = run_with_adapters(
            bot, bot.poll(force=force, on_start=on_start, on_feed_done=on_done)
        )
    print_poll_report(report)
    if report.failed:
        raise typer.Exit(1)
