"""The ``meta-ai-digest`` command group, its options before the command, and ``main``."""

from __future__ import annotations

from typing import Annotated, ClassVar

import typer

from bot.cli.groups import LazyGroup
from bot.cli.options import ConfigOption, LogLevelOption, root_context
from bot.cli.output import err, out, plain, print_error, redact_secrets
from bot.common import collector


class Commands(LazyGroup):
    """Every command, in the order ``--help`` lists them, and its module in bot/cli/commands/."""

    lazy: ClassVar[dict[str, str]] = {
        "poll": "poll",
        "digest": "digest",
        "latest": "latest",
        "run": "run",
        "status": "reports",
        "explain": "reports",
        "migrate": "migrate",
        "defaults": "defaults",
        "demo": "demo",
        "summarize": "summarize",
        "feeds": "feeds",
        "channels": "channels",
    }


app = typer.Typer(
    name="meta-ai-digest",
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    help="Keeps a team up to date on Meta's AI work: "
    "polls feeds, groups stories, posts extractive digests.",
)


def show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        out.print(f"meta-ai-digest {version('meta-ai-digest')}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOption = None,
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
    ctx.obj = root_context(config, log_level)


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

    from bot.store.database import (
        DatabaseError,
        DatabaseURLError,
        OperationalError,
        missing_database,
    )

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
