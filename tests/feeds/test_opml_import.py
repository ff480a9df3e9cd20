"""`feeds import` in linear time, in short transactions (issue 21, point 9): 10,000
outlines in well under 10 s with a bounded number of statements, and polls and digests of
another process keep working while an import runs on the same SQLite file."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, func, select

from bot.adapters.terminal import TerminalAdapter
from bot.config import FetchSettings, load_settings
from bot.feeds.opml import OpmlFeed, write_opml
from bot.pipeline import DigestBot
from bot.services.feeds import IMPORT_BATCH, FeedCatalog
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import SOURCE_ADDED, Feed
from tests.fakes.feed_server import FeedServer
from tests.harness import BotProcess
from tests.helpers import fresh_feed, write_config

TARGET_SECONDS = 10.0


def outlines(count: int, host: str = "site{n}.example") -> bytes:
    feeds = [
        OpmlFeed(
            f"Feed {number % 7000}",  # names repeat: the later ones get "(host)"
            f"https://{host.format(n=number)}/feed{number}.xml",
            f"https://{host.format(n=number)}/",
            ("Imported", str(number % 10)),
        )
        for number in range(count)
    ]
    return write_opml(feeds, title="many", created=datetime.now(UTC))


def test_ten_thousand_outlines_import_in_linear_time(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    catalog = FeedCatalog(session_factory(engine), list, FetchSettings())
    data = outlines(10_000)
    try:
        started = time.perf_counter()
        report = catalog.import_opml(data, added_by="test")
        seconds = time.perf_counter() - started
        assert (len(report.added), report.already_there, report.refused) == (10_000, [], [])
        assert seconds <= TARGET_SECONDS, f"10,000 outlines took {seconds:.1f} s"
        # One read of the names and URLs taken, then one insert per batch: not one per feed.
        writes = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(writes) <= 2 * (10_000 // IMPORT_BATCH) and len(reads) <= 2
        with catalog.sessions() as session:
            names = session.scalars(select(Feed.name)).all()
        assert len(set(names)) == 10_000
        assert "Feed 1 (site7001.example)" in names

        statements.clear()
        again = catalog.import_opml(data, added_by="test")
        assert (len(again.added), len(again.already_there)) == (0, 10_000)
        assert len(statements) <= 2
    finally:
        engine.dispose()


def test_polls_and_digests_keep_working_during_an_import(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The real `feeds import` process inserts 10,000 feeds while this process polls and
    posts digests on the same SQLite file: every one of them succeeds, promptly (before,
    the import held the write lock for minutes and they failed with "database is locked"
    after 30 s). The imported feeds are on a loopback address the URL gate refuses, so
    polling them costs no network."""
    feed = feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))
    config = write_config(tmp_path / "c.toml", [("Outlet A", feed)], tmp_path / "bot.db")
    source = tmp_path / "many.opml"
    source.write_bytes(outlines(10_000, host="127.0.0.1:9/n{n}"))
    bot = DigestBot.migrated(
        load_settings(config, env={}), [TerminalAdapter("json", io.StringIO())], env={}
    )

    def added() -> int:
        with bot.sessions() as session:
            count = select(func.count()).select_from(Feed).where(Feed.source == SOURCE_ADDED)
            return int(session.scalar(count) or 0)

    importer: BotProcess | None = None
    try:
        asyncio.run(bot.poll())  # the database exists and Outlet A is stored
        importer = BotProcess(
            ["feeds", "import", str(source), "--config", str(config)],
            log=tmp_path / "import.out",
            stderr_log=tmp_path / "import.err",
            env={"COLUMNS": "200"},
        )
        # (feeds added when it began, when it ended, seconds)
        during: list[tuple[int, int, float]] = []
        while importer.running():
            before = added()
            started = time.perf_counter()
            report = asyncio.run(bot.poll(force=True))
            asyncio.run(bot.digests.post(max_wait_seconds=0))
            during.append((before, added(), time.perf_counter() - started))
            statuses = [line.status for line in report.feeds if line.name == "Outlet A"]
            assert statuses in (["ok"], ["not-modified"])
        assert importer.process.wait(timeout=60) == 0, importer.errors()
        assert "10000 feeds added, 0 already there, 0 refused." in importer.output()
    finally:
        if importer is not None:
            importer.close()
        bot.close()
    # A poll overlapped the writing: it began before the last feed was in and ended after
    # the first (on a loaded machine the whole import may fit inside one poll).
    overlapping = [seconds for before, after, seconds in during if before < 10_000 and after > 0]
    assert overlapping, f"no poll ran while the import was writing: {during}"
    assert max(seconds for _before, _after, seconds in during) < 15
