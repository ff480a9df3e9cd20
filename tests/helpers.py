"""Helpers for tests: fixture feeds with fresh dates, isolated configs, the shared corpus,
the bot's command."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
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
# The installed console script, as an admin runs it (it goes through bot.cli:main).
BOT_COMMAND = (
    [str(Path(sys.executable).parent / "meta-ai-digest")]
    if (Path(sys.executable).parent / "meta-ai-digest").exists()
    else [sys.executable, "-m", "bot"]
)
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


def clean_env() -> dict[str, str]:
    """This process's environment without the bot's own settings (chat tokens, config path,
    database URL), for a bot process that must read only the config it is given."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "META_AI_DIGEST_", "DATABASE_URL"))
    }


@contextmanager
def bot_process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The bot started in a session of its own, its output in ``log``; killed with its
    process group on the way out if it is still running."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


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


def parent_of(pid: int) -> int | None:
    """The parent process of ``pid`` (Linux /proc), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 4; the command name (field 2) may hold spaces, so count from its ")".
    return int(stat.rsplit(")", 1)[-1].split()[1])


def descendants(pid: int) -> list[int]:
    """Every living process descending from ``pid`` (Linux /proc), in no particular order."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def pool_workers(pid: int | None = None) -> list[int]:
    """The worker processes of ``pid``'s process pools: forked by its fork server, so its
    grandchildren (its children are the fork server and the resource tracker)."""
    pid = pid or os.getpid()
    return [process for process in descendants(pid) if parent_of(process) not in (pid, None)]


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
