"""Alembic environment: runs migrations on the engine the bot hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bot.store.schema import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError(
        "migrations run through bot.store.database.migrate(), which passes the engine"
    )

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
