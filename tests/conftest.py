"""Shared fixtures: a local feed server, the fake Slack, a CLI runner, a scratch PostgreSQL
database, and no leaked platform credentials."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer
from tests.fakes.slack_api import FakeSlack
from tests.helpers import scratch_postgres_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# Chat platform variables a developer may have set; tests never see them.
PLATFORM_VARIABLES = [
    name for name in os.environ if name.startswith(("SLACK_", "DISCORD_", "META_AI_DIGEST_"))
]


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # The default database lives in the user data directory: never the developer's own.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and webhook, response URLs, Socket Mode) on this test's loop."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def misbehaving_server() -> Iterator[MisbehavingServer]:
    """A local origin that answers every way a real feed host can go wrong."""
    server = MisbehavingServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; a skip when none answers."""
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test twice: on a new SQLite file, and on a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated store, on SQLite and on PostgreSQL (``database_url``)."""
    from bot.store.database import create_database_engine, migrate, session_factory

    engine = create_database_engine(database_url)
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
