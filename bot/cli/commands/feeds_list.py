"""``feeds list``: every feed and its health."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from bot.cli.bootstrap import context_of, open_readonly, terminal_format
from bot.cli.groups import TidyCommand
from bot.cli.options import FormatOption, OutputFormat, configured
from bot.cli.output import one_line, out, plain
from bot.common.times import ago_short

if TYPE_CHECKING:
    from rich.table import Table

    from bot.digest.model import FeedInfo

commands = typer.Typer(add_completion=False)


@commands.command("list", cls=TidyCommand)
@configured()
def feeds_list(
    ctx: typer.Context,
    output_format: FormatOption = None,
) -> None:
    """Every feed, one a line: where it comes from (config or added), its state, its last
    success and its last error. --format json adds URLs and schedules."""
    settings, env = context_of(ctx)
    with open_readonly(settings, env) as bot:
        infos = bot.reports.feeds()
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
            ago_short(info.last_success, now),
            one_line(error or ""),
        )
    return table
