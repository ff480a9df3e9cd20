"""Alembic environment: runs migrations on the engine the bot hands over.

Every command that writes migrates first, so replicas starting together migrate together:
the upgrade takes a lock, one process migrates and the others wait, then find the schema
at head and do nothing. PostgreSQL: a transaction-level advisory lock taken before Alembic
reads the current revision (the whole upgrade is one transaction there). SQLite: the whole
upgrade is one ``BEGIN IMMEDIATE`` transaction (the database's write lock, waited for up to
the busy timeout), which also makes it all-or-nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from bot.store.schema import Base
from bot.store.search import is_search_object

# The advisory lock key of this schema's migrations ("mad_migr" in ASCII): one lock
# per database, held only while migrating.
MIGRATION_LOCK_KEY = 0x6D61645F6D696772

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError(
        "migrations run through bot.store.database.migrate(), which passes the engine"
    )

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    postgresql = connection.dialect.name == "postgresql"
    if sqlite:
        # SQLite's batch mode rebuilds a table to alter it (copy, drop, rename); with foreign
        # keys on, dropping `feeds` would cascade to every item. The pragma only takes effect
        # outside a transaction, so it is set here and restored below.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        # Then the write lock, before Alembic reads the revision. Alembic sees a transaction
        # already begun and leaves committing it to the commit() below.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
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
            if postgresql:
                # Released when the migration transaction ends, however it ends.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
