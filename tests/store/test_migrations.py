"""Schema upgrades keep every row; the migrated schema is exactly the models';
SQLite runs in WAL mode with a busy timeout, so two processes can share it."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, inspect, select, text

from bot.adapters.slack import SlackAdapter
from bot.outbox.delivery import Outbox
from bot.store.database import alembic_config, create_database_engine, migrate, session_factory
from bot.store.schema import Base, Feed, Item, OutboxMessage, Story
from bot.store.search import is_search_object
from tests.fakes.webhook_sink import SlackWebhookSink

FIRST_REVISION = "0001"
WHEN = "2026-01-02 03:04:05.000000"


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def fill_first_schema(engine: Engine) -> None:
    """Rows as version 0001 of the bot wrote them (raw SQL: the models are newer)."""
    statements = [
        "INSERT INTO feeds (id, name, url, etag, consecutive_failures, disabled_notice_sent,"
        " last_error, next_poll_at) VALUES (1, 'Meta Newsroom', 'https://about.fb.com/news/feed/',"
        f" '\"abc\"', 3, 0, 'timeout: slow', '{WHEN}')",
        "INSERT INTO digests (id, created_at, kind, payload) VALUES"
        f" (1, '{WHEN}', 'digest', '{{\"stories\": []}}')",
        "INSERT INTO stories (id, title, url, first_published_at, last_updated_at, created_at,"
        " summary, sources_announced, posted_digest_id, posted_at) VALUES (1, 'Llama 4 is out',"
        f" 'https://ai.meta.com/blog/llama-4', '{WHEN}', '{WHEN}', '{WHEN}',"
        f" '[\"Meta released Llama 4.\"]', 1, 1, '{WHEN}')",
        "INSERT INTO items (id, feed_id, guid, url, normalized_url, title, summary, content,"
        " published_at, fetched_at, kept, topic_score, topic_reasons, backfill, story_id) VALUES"
        " (1, 1, 'guid-1', 'https://ai.meta.com/blog/llama-4', 'https://ai.meta.com/blog/llama-4',"
        f" 'Llama 4 is out', 'Meta released Llama 4.', '', '{WHEN}', '{WHEN}', 1, 6.0,"
        " '[\"phrase Llama <version>\"]', 0, 1)",
        "INSERT INTO outbox (id, digest_id, adapter, destination, sequence, payload, status,"
        " blocked, attempts, created_at, last_error) VALUES"
        f" (1, 1, 'slack', 'webhook', 0, '{{\"text\": \"sent one\"}}', 'sent', 0, 1,"
        f" '{WHEN}', NULL), (2, 1, 'slack', 'webhook', 1, '{{\"text\": \"pending one\"}}',"
        f" 'pending', 1, 4, '{WHEN}', 'HTTP 503')",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def migration_context(connection: Connection) -> MigrationContext:
    """A comparison context that skips the search index, as migrations/env.py does."""
    return MigrationContext.configure(
        connection,
        opts={"include_name": lambda name, type_, _parents: not is_search_object(name, type_)},
    )


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    created = create_database_engine(f"sqlite:///{tmp_path / 'old.db'}")
    yield created  # type: ignore[misc]
    created.dispose()


async def test_upgrading_a_database_of_the_first_schema_keeps_all_data(engine: Engine) -> None:
    migrate(engine, FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    fill_first_schema(engine)

    migrate(engine)  # what every start of the bot does
    assert current_revision(engine) == head_revision(engine) != FIRST_REVISION

    sessions = session_factory(engine)
    with sessions() as session:
        feed = session.scalars(select(Feed)).one()
        assert (feed.name, feed.etag, feed.consecutive_failures) == ("Meta Newsroom", '"abc"', 3)
        assert feed.next_poll_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        item = session.scalars(select(Item)).one()
        assert item.topic_reasons == ["phrase Llama <version>"] and item.kept
        story = session.scalars(select(Story)).one()
        assert story.summary == ["Meta released Llama 4."] and story.posted_digest_id == 1
        messages = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(m.status, m.payload["text"]) for m in messages] == [
        ("sent", "sent one"),
        ("pending", "pending one"),
    ]
    # A message queued before the upgrade keeps its key: a platform that saw it
    # before the upgrade still recognises a retry after it.
    assert messages[1].idempotency_key == "mad-2"

    sink = SlackWebhookSink().start()
    adapter = SlackAdapter.from_environment(sink.env, {})
    assert adapter is not None
    try:
        with sessions.begin() as session:
            session.execute(text("UPDATE outbox SET next_attempt_at = NULL, blocked = 0"))
        report = await Outbox(sessions, {"slack": adapter}).deliver()
        await adapter.close()
        received = sink.snapshot()
    finally:
        sink.stop()
    assert report.sent == 1
    assert received == [{"text": "pending one"}]  # the old pending message, sent once


def test_the_migrated_schema_is_exactly_the_models(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(migration_context(connection), Base.metadata)
    assert differences == [], "a model changed without a migration"


def test_downgrade_to_the_first_schema_and_back_keeps_the_data(engine: Engine) -> None:
    migrate(engine, FIRST_REVISION)
    fill_first_schema(engine)
    migrate(engine)
    from alembic import command

    command.downgrade(alembic_config(engine), FIRST_REVISION)
    assert "nonce" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 1


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = create_database_engine(url), create_database_engine(url)
    second.dispose()  # its connections are made from here on, each with the trace below
    second_inserting = threading.Event()

    @event.listens_for(second, "connect")
    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # sqlite3 calls this as a statement starts to run, before it asks for any lock.
        def started(statement: str) -> None:
            if statement.startswith("INSERT"):
                second_inserting.set()

        dbapi_connection.set_trace_callback(started)

    order: list[str] = []

    def second_writer() -> None:
        with second.begin() as connection:  # waits for the first to commit, then succeeds
            connection.execute(
                text(
                    "INSERT INTO digests (created_at, kind, payload)"
                    f" VALUES ('{WHEN}', 'latest', '{{}}')"
                )
            )
        order.append("second committed")

    writer = threading.Thread(target=second_writer)
    try:
        migrate(first)
        with first.begin() as connection:  # holds the write lock until the block ends
            connection.execute(
                text(
                    "INSERT INTO digests (created_at, kind, payload)"
                    f" VALUES ('{WHEN}', 'digest', '{{}}')"
                )
            )
            writer.start()
            # The second writer is running its INSERT against the held lock.
            assert second_inserting.wait(10)
            assert writer.is_alive()
            order.append("first committing")
        writer.join(timeout=40)
        assert order == ["first committing", "second committed"]
        with second.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM digests")).scalar() == 2
    finally:
        if writer.is_alive():
            writer.join(timeout=40)
        first.dispose()
        second.dispose()


def test_revision_0005_adds_the_claims_table_and_its_downgrade_removes_only_that(
    engine: Engine,
) -> None:
    migrate(engine, FIRST_REVISION)
    fill_first_schema(engine)
    migrate(engine, "0004")
    migrate(engine, "0005")
    assert "claims" in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO claims (key, claimed_by, claimed_at)"
                f" VALUES ('digest@x', 'here', '{WHEN}')"
            )
        )
    from alembic import command

    command.downgrade(alembic_config(engine), "0004")
    assert "claims" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("feeds", "items", "stories", "digests", "outbox")
        ]
    assert counts == [1, 1, 1, 1, 2]


def test_revision_0006_makes_existing_feeds_config_feeds_and_downgrades_keeping_rows(
    engine: Engine,
) -> None:
    migrate(engine, FIRST_REVISION)
    fill_first_schema(engine)
    migrate(engine, "0005")
    migrate(engine)
    with session_factory(engine).begin() as session:
        feed = session.scalars(select(Feed)).one()
        assert (feed.source, feed.topic, feed.removed_at) == ("config", "rules", None)
        session.add(
            Feed(
                name="Added",
                url="https://added.example/feed",
                consecutive_failures=0,
                disabled_notice_sent=False,
                source="added",
                added_by="ada (command line)",
                added_at=datetime(2026, 11, 30, tzinfo=UTC),
                category="Tech/AI",
            )
        )
    from alembic import command

    command.downgrade(alembic_config(engine), "0005")
    assert "source" not in {c["name"] for c in inspect(engine).get_columns("feeds")}
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feeds")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 1
