"""The same pipeline on PostgreSQL: the schema, migrations and queries are portable.

Uses the server named by META_AI_DIGEST_TEST_POSTGRES (default: the local
trust-auth server); skips with the reason when none answers. Each test gets
its own database, dropped afterwards (the ``postgres_url`` fixture, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot.adapters.terminal import TerminalAdapter
from bot.config import load_settings
from bot.pipeline import DigestBot
from tests.fakes.feed_server import FeedServer
from tests.helpers import fresh_feed, write_config


def test_poll_digest_and_latest_on_postgresql(
    feed_server: FeedServer, tmp_path: Path, postgres_url: str
) -> None:
    feeds = [
        ("Outlet A", feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))),
        (
            "Outlet B",
            feed_server.serve("/b.xml", fresh_feed("outlet-b-atom.xml"), "application/atom+xml"),
        ),
    ]
    settings = load_settings(
        write_config(tmp_path / "c.toml", feeds, tmp_path / "unused.db"), env={}
    )
    stream = io.StringIO()
    bot = DigestBot.migrated(
        settings, [TerminalAdapter("json", stream)], env={"DATABASE_URL": postgres_url}
    )
    try:
        assert bot.engine.dialect.name == "postgresql"
        report = asyncio.run(bot.poll())
        assert report.new_items == 5 and report.new_stories == 1
        result = asyncio.run(bot.digests.post(max_wait_seconds=0))
        assert len(result.digest.stories) == 1
        assert sorted(s.feed for s in result.digest.stories[0].sources) == ["Outlet A", "Outlet B"]
        assert asyncio.run(bot.digests.post(max_wait_seconds=0)).digest.stories == []
        assert len(asyncio.run(bot.commands.latest("scout")).stories) == 1
        assert asyncio.run(bot.poll(force=True)).new_items == 0
    finally:
        bot.close()
    assert not (tmp_path / "unused.db").exists()
