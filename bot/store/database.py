"""Engine creation and schema migrations.

SQLite runs in WAL mode with a busy timeout, so the scheduler, the command
handlers and a CLI call in another process can share one file. Every start
runs Alembic's ``upgrade head``, so upgrading the bot keeps all data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
URL_FORMS = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"


class DatabaseURLError(ValueError):
    """The configured database cannot be used; the message hides any password."""


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; creates the directory of a SQLite file if needed.

    A URL that cannot work (unparsable, unknown driver, a SQLite directory that
    cannot be created) raises DatabaseURLError at once rather than an error
    deep inside SQLAlchemy at first use.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"the database URL is not valid: {URL_FORMS}") from None
    shown = parsed.render_as_string(hide_password=True)
    options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            directory = Path(database).expanduser().parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseURLError(
                    f"cannot create {directory}, the directory of the SQLite database: "
                    f"{error.strerror}"
                ) from None
        options["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "check_same_thread": False,
        }
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError:
        raise DatabaseURLError(f"no database driver for {shown}: {URL_FORMS}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", configure_sqlite_connection)
    return engine


def configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout instead of 'database is locked', FKs on."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping all data."""
    command.upgrade(alembic_config(engine), revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
