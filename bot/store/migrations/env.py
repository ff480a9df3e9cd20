"""Alembic environment: runs migrations on the engine the bot hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bot.store.schema import Base
from bot.store.search import is_search_object

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError(
        "migrations run through bot.store.database.migrate(), which passes the engine"
    )

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite's batch mode rebuilds a table to alter it (copy, drop, rename); with foreign
        # keys on, dropping `feeds` would cascade to every item. The pragma only takes effect
        # outside a transaction, so it is set here and restored below.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
            # The search index (revision 0004) is not in the models: autogenerate leaves it be.
            include_name=lambda name, type_, _parents: not is_search_object(name, type_),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
