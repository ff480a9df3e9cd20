"""Admin reports read the store and never write it: listing feeds adds no rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import FeedConfig
from bot.services.reports import feed_infos
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import Feed

CONFIGURED = [
    FeedConfig(name="Polled", url="https://polled.example/feed"),
    FeedConfig(name="New", url="https://new.example/feed"),
    FeedConfig(name="Moved", url="https://moved.example/new-feed"),
    FeedConfig(name="Off", url="https://off.example/feed", enabled=False),
]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    with session_factory(engine).begin() as session:
        session.add_all(
            [
                Feed(
                    name="Polled",
                    url="https://polled.example/feed",
                    consecutive_failures=2,
                    disabled_notice_sent=False,
                    last_status="http-status",
                    last_error="http-status: HTTP 503",
                    last_success_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                    next_poll_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                ),
                Feed(
                    name="Moved",
                    url="https://moved.example/old-feed",
                    consecutive_failures=7,
                    disabled_notice_sent=False,
                    last_status="http-status",
                ),
            ]
        )
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_feed_health_lists_every_configured_feed_and_adds_no_rows(session: Session) -> None:
    infos = feed_infos(session, CONFIGURED)

    polled = infos[0]
    assert (polled.name, polled.source, polled.state, polled.failures) == (
        "Polled",
        "config",
        "failing",
        2,
    )
    assert polled.error == "http-status: HTTP 503"
    assert polled.last_success == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert polled.next_poll == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert [(info.name, info.state, info.failures, info.url) for info in infos[1:]] == [
        ("New", "not polled yet", 0, "https://new.example/feed"),
        # The old URL's failures are not the new URL's: the next poll starts it afresh.
        ("Moved", "not polled yet", 0, "https://moved.example/new-feed"),
        ("Off", "off", 0, CONFIGURED[3].url),
    ]
    assert not session.new and not session.dirty
    assert session.scalar(select(func.count()).select_from(Feed)) == 2
