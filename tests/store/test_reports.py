"""Admin reports read the store and never write it: listing feeds adds no rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bot.config import FeedConfig
from bot.feeds.urls import normalize_url
from bot.services.reports import explain_url, feed_infos, kind_evidence
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.reports import items_at
from bot.store.schema import Feed, Item, Story

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


LLAMA_URL = "https://outlet.example/meta-releases-llama"


def test_explain_reads_every_item_with_its_story_and_kept_articles_in_two_queries(
    tmp_path: Path,
) -> None:
    """Two feeds carried the article, both grouped into one story: explain tells each with
    its feed and story, judges the kind on the story's kept articles only (oldest first),
    and reads it all in two statements, not one per item."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with session_factory(engine).begin() as session:
        feeds = [
            Feed(name=name, url=f"https://{name}.example/feed", disabled_notice_sent=False)
            for name in ("outlet-a", "outlet-b")
        ]
        story = Story(title="Meta releases Llama", url=LLAMA_URL, kind="release")
        story.first_published_at = story.last_updated_at = story.created_at = at
        session.add_all([*feeds, story])
        session.flush()
        session.add_all(
            [
                article(feeds[1], story, LLAMA_URL, "B covers Llama", at + timedelta(hours=1)),
                article(feeds[0], story, LLAMA_URL, "A reports Llama", at),
                article(feeds[0], story, "https://outlet.example/other", "Dropped", at, False),
            ]
        )
        story_id = story.id
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with session_factory(engine)() as session:
        items = items_at(session, LLAMA_URL)
        lines = explain_url(session, LLAMA_URL)

    # Two each time: the items with their feeds and stories, then the stories' articles.
    assert len(statements) == 4
    assert [(item.title, item.feed_name) for item in items] == [
        ("B covers Llama", "outlet-b"),
        ("A reports Llama", "outlet-a"),
    ]
    stories = {item.story for item in items}
    assert len(stories) == 1
    (explained,) = stories
    assert explained is not None and explained.id == story_id
    assert [title for title, _text in explained.articles] == ["A reports Llama", "B covers Llama"]
    assert f"  story #{story_id}: Meta releases Llama (joined)" in lines
    assert "  feed: outlet-a; published 2026-03-01 09:00 UTC; first seen 2026-03-01 09:00 UTC" in (
        lines
    )
    kind = f"  kind: {kind_evidence(explained, None)}"
    assert [line for line in lines if line.startswith("  kind: ")] == [kind, kind]
    engine.dispose()


def article(
    feed: Feed, story: Story, url: str, title: str, published: datetime, kept: bool = True
) -> Item:
    """A stored article of ``feed`` grouped into ``story``."""
    return Item(
        feed_id=feed.id,
        guid=f"{feed.name}:{title}",
        url=url,
        normalized_url=normalize_url(url),
        title=title,
        summary=f"{title}: Meta released a new Llama model.",
        published_at=published,
        fetched_at=published,
        kept=kept,
        topic_score=2.0,
        topic_reasons=["names Llama"],
        story_id=story.id,
        story_reason="joined",
    )
