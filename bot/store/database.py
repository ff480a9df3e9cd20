"""Engine creation and schema migrations.

SQLite runs in WAL mode with a busy timeout, so the scheduler, the command
handlers and a CLI call in another process can share one file. Commands that
write run Alembic's ``upgrade head`` first, so upgrading the bot keeps all
data; commands that only read never create or migrate a database: they check
its revision against :data:`SCHEMA_HEAD` and say what to run when it is
missing or behind. Alembic is imported only to migrate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, ProgrammingError

# The database errors the layers above tell apart, named here so that only the store
# imports sqlalchemy (the CLI's last-resort report, the scheduler's retries, a value or a
# duplicate the database refused).
from sqlalchemy.exc import DatabaseError as DatabaseError
from sqlalchemy.exc import DataError as DataError
from sqlalchemy.exc import DBAPIError as DBAPIError
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.exc import OperationalError as OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.bounds import fit_rows

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
URL_FORMS = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
# The newest revision in migrations/versions (a test keeps the two equal): read-only
# commands compare a database with it without loading Alembic.
SCHEMA_HEAD = "0009"
CREATE_HINT = "`meta-ai-digest migrate` (or `poll`) creates it"


class DatabaseURLError(ValueError):
    """The configured database cannot be used; the message hides any password."""


class DatabaseNotReadyError(Exception):
    """A read-only command found no database, or one whose schema is not this version's."""


def create_database_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; creates the directory of a SQLite file if ``create``.

    A URL that cannot work (unparsable, unknown driver, a SQLite directory that
    cannot be created) raises DatabaseURLError at once rather than an error
    deep inside SQLAlchemy at first use. With ``create`` false a missing SQLite
    file raises DatabaseNotReadyError: a read-only command must not leave an
    empty database behind.
    """
    parsed = usable_url(url)
    shown = parsed.render_as_string(hide_password=True)
    options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and not database.startswith("file:"):
            path = Path(database).expanduser()
            if not create and not path.is_file():
                raise DatabaseNotReadyError(f"no database at {path} yet; {CREATE_HINT}")
            directory = path.parent
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
        engine = create_engine(parsed, **options)
    except NoSuchModuleError:
        raise DatabaseURLError(f"no database driver for {shown}: {URL_FORMS}") from None
    except ImportError as error:  # the dialect is known, its driver is not installed
        raise DatabaseURLError(missing_driver(parsed, error)) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", configure_sqlite_connection)
    return engine


def usable_url(url: str) -> URL:
    """The parsed URL, or DatabaseURLError saying what to write instead.

    ``postgres://`` and ``postgresql://`` (what hosting providers hand out) name no driver;
    they mean psycopg 3, the driver the ``postgres`` extra installs. A SQLite URL must name
    a file: ``sqlite://``, ``sqlite:///`` and ``:memory:`` are databases that vanish when
    the command ends, taking every poll and digest with them.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"the database URL is not valid: {URL_FORMS}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise DatabaseURLError(
            f"the database URL {parsed.render_as_string(hide_password=True)!r} names no file: "
            "SQLite needs a path, e.g. sqlite:////var/lib/meta-ai-digest/meta-ai-digest.db "
            "(an in-memory database loses everything when the command ends)"
        )
    return parsed


def missing_driver(parsed: URL, error: ImportError) -> str:
    """What to install for a database whose driver is missing."""
    shown = parsed.render_as_string(hide_password=True)
    module = getattr(error, "name", None) or str(error)
    if parsed.get_backend_name() == "postgresql":
        return (
            f"{shown} needs a PostgreSQL driver that is not installed ({module}): "
            "pip install 'meta-ai-digest[postgres]' (it installs psycopg 3, "
            "postgresql+psycopg://...)"
        )
    return f"{shown} needs a database driver that is not installed ({module}): {URL_FORMS}"


def configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout instead of 'database is locked', FKs on."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping all data.

    A database already at the newest revision costs one query: Alembic (a quarter of a
    second to import) loads only when there is something to do.
    """
    if revision == "head" and schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def schema_revision(engine: Engine) -> str | None:
    """The database's Alembic revision; None when it holds no schema of ours."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as error:
        if "alembic_version" in str(error):
            return None
        raise


def check_schema(engine: Engine) -> None:
    """Raise DatabaseNotReadyError unless the schema is exactly this version's."""
    revision = schema_revision(engine)
    shown = engine.url.render_as_string(hide_password=True)
    if revision is None:
        raise DatabaseNotReadyError(f"{shown} holds no meta-ai-digest data yet; {CREATE_HINT}")
    if revision != SCHEMA_HEAD:
        raise DatabaseNotReadyError(
            f"{shown} is at schema revision {revision}, this version reads {SCHEMA_HEAD}: "
            "run `meta-ai-digest migrate` (after upgrading meta-ai-digest if the database is newer)"
        )


def describe_database(url: str) -> str:
    """The database URL as it may be shown: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an invalid database URL)"


def database_size(engine: Engine) -> int | None:
    """Bytes the database takes on disk, None when unknown.

    SQLite: the file plus its write-ahead log (which holds recent commits until a
    checkpoint copies them into the file). PostgreSQL: ``pg_database_size``.
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        path = Path(database).expanduser()
        sizes = [part.stat().st_size for part in (path, Path(f"{path}-wal")) if part.is_file()]
        return sum(sizes) if sizes else None
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(current_database())"))
            return int(size.scalar_one())
    return None


def session_factory(
    engine: Engine, redact: Callable[[str], str] | None = None
) -> sessionmaker[Session]:
    """Sessions on ``engine``; every string is fitted to its column (bot.store.bounds), and with
    ``redact`` every error text passes it before it is stored.

    Error texts (columns marked :data:`~bot.store.schema.ERROR_TEXT`: ``feeds.last_error``,
    ``outbox.last_error``) hold what servers and chat platforms answered, which can quote a
    token. The check runs before every flush, on every new or changed row, so no code path
    that sets one through the ORM can skip it.
    """
    sessions = sessionmaker(engine, expire_on_commit=False)
    if redact is not None:
        event.listen(sessions, "before_flush", partial(_redact_error_texts, redact))
    # After redaction, which may lengthen a text: every string fits its column.
    event.listen(sessions, "before_flush", fit_rows)
    return sessions


def _redact_error_texts(
    redact: Callable[[str], str], session: Session, _context: object, _instances: object
) -> None:
    for row in (*session.new, *session.dirty):
        for attribute in inspect(row).mapper.column_attrs:
            if not attribute.columns[0].info.get("error_text"):
                continue
            value = getattr(row, attribute.key, None)
            if isinstance(value, str) and (masked := redact(value)) != value:
                setattr(row, attribute.key, masked)


def begin_writing(session: Session) -> None:
    """Make the session's new transaction a writer from its first statement.

    On SQLite this is ``BEGIN IMMEDIATE``: the database's write lock is taken now (another
    process waits, up to the busy timeout), so nothing this transaction reads can change
    before it commits, and it never fails to upgrade a stale read snapshot to a write.
    PostgreSQL needs nothing here: its callers lock the rows they claim. Call it before
    anything else in the transaction.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')


def missing_database(error: BaseException) -> str | None:
    """The name of the PostgreSQL database the server said does not exist, if it said so."""
    match = _MISSING_DATABASE.search(str(getattr(error, "orig", None) or error))
    return match.group(1) if match else None


def ensure_database(engine: Engine) -> str | None:
    """Create the PostgreSQL database ``engine`` names when the server says it does not
    exist (see :func:`create_missing_database`); its name when it was created."""
    try:
        with engine.connect():
            return None
    except OperationalError as error:
        if missing_database(error) is None:
            raise
    return create_missing_database(engine)


def create_missing_database(engine: Engine) -> str:
    """Create the PostgreSQL database ``engine`` names, as ``createdb`` does: connected to
    the server's ``postgres`` database with the same credentials. Returns its name; raises
    DatabaseURLError naming ``createdb`` when the server refuses (no CREATEDB privilege)."""
    name = engine.url.database or ""
    server = create_engine(
        engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True
    )
    try:
        with server.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
    except (OperationalError, ProgrammingError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise DatabaseURLError(
            f'the database "{name}" does not exist and cannot be created here ({reason}): '
            f"create it as its owner with `createdb {name}` (or CREATE DATABASE {name}), "
            "then run `meta-ai-digest migrate` again"
        ) from None
    finally:
        server.dispose()
    return name
