"""Retention: rows older than `[database] keep_days` go, in small transactions; unposted
stories and pending messages never do; entries older than that are never posted; `status`
shows the database size. Real rows of known ages, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.adapters.terminal import TerminalAdapter
from bot.cli import app
from bot.config import ConfigError, load_settings
from bot.pipeline import DigestBot
from bot.scheduler import BotJobs
from bot.store.database import create_database_engine, database_size, migrate
from bot.store.retention import prune
from bot.store.schema import Claim, DigestRecord, Feed, Item, OutboxMessage, Story
from bot.store.search import SQLITE_TABLE, index_stories
from tests.fakes.feed_server import FeedServer
from tests.helpers import write_config

NOW = datetime.now(UTC)
KEEP_DAYS = 90
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=10)


class Rows:
    """Rows of known ages, named so the test can say which must stay."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.feed = Feed(name="Outlet", url="https://outlet.example/feed", consecutive_failures=0)
        session.add(self.feed)
        session.flush()
        self.count = 0

    def digest(self, created: datetime) -> DigestRecord:
        record = DigestRecord(created_at=created, kind="digest", payload={"stories": []})
        self.session.add(record)
        self.session.flush()
        return record

    def item(self, seen: datetime, story: Story | None = None, kept: bool = True) -> Item:
        self.count += 1
        item = Item(
            feed_id=self.feed.id,
            guid=f"guid-{self.count}",
            url=f"https://outlet.example/{self.count}",
            normalized_url=f"https://outlet.example/{self.count}",
            title=f"Article {self.count}",
            published_at=seen - timedelta(hours=1),
            fetched_at=seen,
            kept=kept,
            story_id=story.id if story else None,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def story(
        self,
        created: datetime,
        updated: datetime,
        posted: datetime | None,
        digest: DigestRecord | None = None,
        items: int = 1,
    ) -> Story:
        story = Story(
            title="A story",
            url="https://outlet.example/story",
            first_published_at=created,
            last_updated_at=updated,
            created_at=created,
            posted_at=posted,
            posted_digest_id=digest.id if digest else None,
            sources_announced=items,
        )
        self.session.add(story)
        self.session.flush()
        for _ in range(items):
            self.item(created, story)
        return story

    def message(self, digest: DigestRecord, status: str, sent: datetime | None) -> OutboxMessage:
        message = OutboxMessage(
            digest_id=digest.id,
            adapter="slack",
            destination="C0DIGEST1",
            sequence=0,
            payload={"text": "x"},
            status=status,
            blocked=False,
            attempts=1,
            created_at=digest.created_at,
            sent_at=sent,
        )
        self.session.add(message)
        self.session.flush()
        return message


def ids(session: Session, model: type) -> set[int]:
    return set(session.scalars(select(model.id)))  # type: ignore[attr-defined]


def test_old_rows_go_and_what_is_pending_or_recent_stays(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows = Rows(session)
        gone_digest = rows.digest(OLD)
        gone_story = rows.story(OLD, OLD, OLD, gone_digest, items=2)
        gone_message = rows.message(gone_digest, "sent", OLD)
        gone_dropped = rows.item(OLD, kept=False)
        # Posted long ago but still gaining sources: it and its digest stay.
        growing_digest = rows.digest(OLD)
        growing = rows.story(OLD, RECENT, OLD, growing_digest)
        # Never posted: stays however old, with its item.
        waiting = rows.story(OLD, OLD, None)
        # History from a first poll (posted_at set, no digest), old: goes.
        history = rows.story(OLD, OLD, OLD)
        # A pending (blocked) message of an old digest: both stay.
        stuck_digest = rows.digest(OLD)
        stuck = rows.message(stuck_digest, "pending", None)
        # Sent recently, from an old digest: both stay until the message is old too.
        late_digest = rows.digest(OLD)
        late = rows.message(late_digest, "sent", RECENT)
        recent_dropped = rows.item(RECENT, kept=False)
        session.add_all(
            [
                Claim(key="digest@old", claimed_by="here", claimed_at=NOW - timedelta(days=3)),
                Claim(key="digest@new", claimed_by="here", claimed_at=NOW - timedelta(hours=1)),
            ]
        )

    with sessions.begin() as session:
        index_stories(session, ids(session, Story))

    report = prune(sessions, KEEP_DAYS, NOW, batch=2)  # several batches per kind

    assert (report.messages, report.stories, report.items, report.digests, report.claims) == (
        1,
        2,
        1,
        1,
        1,
    )
    assert report.stopped is False
    with sessions() as session:
        assert ids(session, Story) == {growing.id, waiting.id}
        assert gone_story.id not in ids(session, Story) and history.id not in ids(session, Story)
        items = session.scalars(select(Item)).all()
        assert {item.story_id for item in items} == {growing.id, waiting.id, None}
        assert gone_dropped.id not in {item.id for item in items}
        assert recent_dropped.id in {item.id for item in items}
        assert ids(session, OutboxMessage) == {stuck.id, late.id}
        assert gone_message.id not in ids(session, OutboxMessage)
        assert ids(session, DigestRecord) == {growing_digest.id, stuck_digest.id, late_digest.id}
        assert set(session.scalars(select(Claim.key))) == {"digest@new"}
        if session.get_bind().dialect.name == "sqlite":  # PostgreSQL's goes with the row
            indexed = set(session.execute(text(f"SELECT rowid FROM {SQLITE_TABLE}")).scalars())
            assert indexed == {growing.id, waiting.id}
    # Nothing left to do: a second run removes nothing.
    again = prune(sessions, KEEP_DAYS, NOW, batch=2)
    assert (again.messages, again.stories, again.items, again.digests) == (0, 0, 0, 0)


def test_pruning_stops_between_batches_when_asked(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows = Rows(session)
        for _ in range(5):
            rows.item(OLD, kept=False)

    def should_stop() -> bool:  # as a shutdown would, once two batches of items are gone
        with sessions() as session:
            return (session.scalar(select(func.count()).select_from(Item)) or 0) <= 1

    report = prune(sessions, KEEP_DAYS, NOW, should_stop, batch=2)
    assert report.stopped and report.items == 4
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 1


def test_keep_days_is_shipped_and_must_cover_the_story_window(tmp_path: Path) -> None:
    assert load_settings(None, env={}).database.keep_days == 90
    config = tmp_path / "c.toml"
    config.write_text("[database]\nkeep_days = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"database\.keep_days.*greater than or equal to 7"):
        load_settings(config, env={})
    config.write_text("[database]\nkeep_days = 7\n[stories]\nwindow_hours = 200\n")
    with pytest.raises(ConfigError, match=r"must cover stories\.window_hours"):
        load_settings(config, env={})


def rss(entries: list[tuple[str, datetime]]) -> str:
    from email.utils import format_datetime

    items = "".join(
        f"<item><guid>{guid}</guid><title>Meta releases Llama {index + 5} model {guid}</title>"
        f"<link>https://outlet.example/{guid}</link>"
        f"<description>Meta released a Llama model called {guid}.</description>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>"
        for index, (guid, when) in enumerate(entries)
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>"
    )


def test_an_entry_older_than_keep_days_is_history_on_every_poll(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Its item could have been pruned while the feed still lists it: it must not come back
    as news."""
    url = feed_server.serve("/feed.xml", rss([("fresh", NOW - timedelta(hours=1))]))
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[feeds]]\nname = "Llama"\nurl = "{url}"\ntopic = "all"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={})
    bot = DigestBot.migrated(settings, [TerminalAdapter("json", io.StringIO())], env={})
    try:
        asyncio.run(bot.poll())  # the first poll: "fresh" is news
        assert [s.title for s in bot.digests.preview().stories] == [
            "Meta releases Llama 5 model fresh"
        ]
        feed_server.serve(
            "/feed.xml",
            rss([("fresh", NOW - timedelta(hours=1)), ("ancient", OLD), ("new", NOW)]),
        )
        asyncio.run(bot.poll(force=True))
        titles = {s.title for s in bot.digests.preview().stories}
        assert titles == {"Meta releases Llama 5 model fresh", "Meta releases Llama 7 model new"}
        with bot.sessions() as session:
            stored = {
                item.guid.rsplit("/", 1)[-1]: item.backfill
                for item in session.scalars(select(Item))
            }
        assert stored == {"fresh": False, "ancient": True, "new": False}, stored
    finally:
        bot.close()


def test_the_daily_prune_runs_once_however_many_replicas_start(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path / "c.toml", [], tmp_path / "bot.db"), env={})
    first, second = DigestBot.migrated(settings, env={}), DigestBot.migrated(settings, env={})
    second.outbox.identity = "replica-two:4242:1"
    try:
        with first.sessions.begin() as session:
            Rows(session).item(OLD, kept=False)

        async def start_both() -> None:
            await asyncio.gather(
                BotJobs(first, settings.schedule).first_prune(),
                BotJobs(second, settings.schedule).first_prune(),
            )

        asyncio.run(start_both())
        with first.sessions() as session:
            keys = list(session.scalars(select(Claim.key)))
            assert session.scalar(select(func.count()).select_from(Item)) == 0
        assert (
            len(keys) == 1 and keys[0].startswith("prune@") and keys[0].endswith("03:45:00+00:00")
        )
    finally:
        first.close()
        second.close()


def test_status_shows_the_database_size(tmp_path: Path, postgres_url: str) -> None:
    database = tmp_path / "status.db"
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine)
    size = database_size(engine)
    engine.dispose()
    assert size is not None and size >= database.stat().st_size > 0
    result = CliRunner().invoke(app, ["--config", str(config), "status"], catch_exceptions=False)
    assert result.exit_code == 0 and "database size: " in result.output
    assert " kB" in result.output.split("database size: ")[1].splitlines()[0]

    engine = create_database_engine(postgres_url)
    migrate(engine)
    size = database_size(engine)
    engine.dispose()
    assert size is not None and size > 1_000_000  # PostgreSQL's catalog alone is MBs
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "status"],
        env={"DATABASE_URL": postgres_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert " MB" in result.output.split("database size: ")[1].splitlines()[0]
