"""``demo``: the sample feeds, polled and digested offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.bootstrap import open_app, run_with_adapters
from bot.cli.groups import TidyCommand
from bot.cli.options import Context, OutputFormat, configured
from bot.cli.output import err
from bot.common.text import plural
from bot.environment import configure_logging, load_environment

if TYPE_CHECKING:
    from bot.pipeline import DigestBot, PollReport

commands = typer.Typer(add_completion=False)


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


@commands.command(cls=TidyCommand)
@configured(config=False)
def demo(
    ctx: typer.Context,
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
    from bot.store.settings import DatabaseSettings

    options: Context = ctx.obj
    configure_logging(options.log_level.upper(), load_environment())
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

        async def poll_then_digest(bot: DigestBot) -> PollReport:
            report = await bot.poll()
            err.print(
                f"polled {plural(len(report.feeds), 'feed')}: {plural(report.new_items, 'item')}, "
                f"{len(report.kept_ids)} about Meta's AI work, "
                f"{plural(report.new_stories, 'story')}.",
                highlight=False,
            )
            await bot.digests.post(max_wait_seconds=0)
            return report

        with open_app(settings, {}, adapters=[TerminalAdapter(chosen.value)]) as bot:
            report = run_with_adapters(bot, poll_then_digest(bot))
    err.print(
        "That was the demo. `meta-ai-digest run` polls the real feeds; set a chat platform's "
        "variables (README: Chat platforms) to post there.",
        highlight=False,
    )
    if report.failed:
        raise typer.Exit(1)
