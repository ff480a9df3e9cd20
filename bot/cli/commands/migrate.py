"""``migrate``: create the database or bring its schema up to date."""

from __future__ import annotations

import typer

from bot.cli.bootstrap import context_of
from bot.cli.groups import TidyCommand
from bot.cli.options import configured
from bot.cli.output import out, plain

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def migrate(ctx: typer.Context) -> None:
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

    settings, env = context_of(ctx)
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
