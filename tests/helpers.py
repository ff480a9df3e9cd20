"""Helpers for tests: fixture feeds with fresh dates, isolated configs, the shared corpus,
scratch databases. Bot processes have their own module, :mod:`tests.harness`."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
FEED_CORPUS = SHARED / "corpus" / "feeds"
# The PostgreSQL server of the tests: the local trust-auth one unless set.
POSTGRES_SERVER = os.environ.get(
    "META_AI_DIGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PLACEHOLDER = re.compile(r"\{\{(rfc822|rfc3339):minutes_ago:(\d+)\}\}")


def fresh_feed(name: str, now: datetime | None = None) -> str:
    """A fixture feed from tests/data/feeds with its date placeholders set relative to now."""
    moment = now or datetime.now(UTC)
    text = (DATA / "feeds" / name).read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        when = moment - timedelta(minutes=int(match.group(2)))
        return (
            format_datetime(when, usegmt=True) if match.group(1) == "rfc822" else when.isoformat()
        )

    return PLACEHOLDER.sub(replace, text)


def write_config(
    path: Path, feeds: list[tuple[str, str]], database: Path | None, extra: str = ""
) -> Path:
    """A user config holding feeds (exactly these: none means none), a database URL (none:
    the caller sets DATABASE_URL) and any extra TOML."""
    lines = [] if feeds else ["feeds = []", ""]
    for name, url in feeds:
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', ""]
    if database is not None:
        lines += ["[database]", f'url = "sqlite:///{database}"', ""]
    lines.append(extra)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def count_items(database: Path, where: str = "") -> int:
    """Rows of a SQLite bot database's items table (with an SQL ``where``); 0 before it exists."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            query = f"SELECT count(*) FROM items {where}"
            return int(connection.execute(text(query)).scalar() or 0)
    except Exception:
        return 0  # not created yet
    finally:
        engine.dispose()


def allow_local(port: int) -> str:
    """The ``[fetch]`` table that lets feeds added at run time reach a local test server on
    ``port``, as an admin allows an intranet host and port."""
    return f'[fetch]\nallowed_private_hosts = ["127.0.0.1:{port}"]\n'


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then closed again): a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_shared_corpus() -> Path:
    """The shared feed corpus, or a skip saying why it is missing."""
    if not FEED_CORPUS.is_dir():
        pytest.skip(
            f"the shared feed corpus is not at {FEED_CORPUS} "
            "(only CI and developers have ../shared)"
        )
    return FEED_CORPUS


def postgres_available() -> str | None:
    """None when the test server answers, else why not (for a skip or a bench's message)."""
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
        return None
    except Exception as error:
        shown = make_url(POSTGRES_SERVER).render_as_string(hide_password=True)
        return f"no PostgreSQL server at {shown}: {error}"
    finally:
        admin.dispose()


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards.

    Skips the test, saying why, when no server answers.
    """
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"mad_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
