"""The story reads return plain records, read in bulk: a digest of any length costs one
query for its stories and one for all their sources (no query per story), and a claim
returns the stories it marked with their sources counted as announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.digests import new_digest
from bot.store.schema import Feed, Item, Story
from bot.store.stories import claim_unposted, unposted_stories

NOW = datetime.now(UTC)
STORIES = 30


def add_stories(session: Session) -> None:
    """STORIES stories, oldest first, each with a dropped item and two kept ones of two
    feeds, added newest first (the records must put them in published order)."""
    feeds = [Feed(name=f"Outlet {n}", url=f"https://{n}.example/feed") for n in "AB"]
    session.add_all(feeds)
    session.flush()
    for n in range(STORIES):
        published = NOW - timedelta(hours=STORIES - n)
        story = Story(
            title=f"Story {n}",
            url=f"https://a.example/{n}",
            first_published_at=published,
            last_updated_at=published,
            created_at=published,
            summary=[f"Sentence {n}."],
        )
        session.add(story)
        session.flush()
        for k, (feed, kept) in enumerate([(feeds[1], True), (feeds[0], True), (feeds[0], False)]):
            session.add(
                Item(
                    feed_id=feed.id,
                    guid=f"{n}-{k}",
                    url=f"https://{n}.example/{k}",
                    title=f"Article {n}.{k}",
                    published_at=published + timedelta(minutes=10 - k),
                    fetched_at=published,
                    kept=kept,
                    story_id=story.id,
                )
            )


def test_unposted_stories_and_their_sources_are_read_in_two_queries(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        add_stories(session)
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions() as session:
            stories = unposted_stories(session, STORIES)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(selects) == 2, selects
    assert [story.title for story in stories] == [f"Story {n}" for n in range(STORIES)]
    first = stories[0]
    assert first.summary == ("Sentence 0.",) and first.kept_sources == 2
    assert [(item.title, item.feed_name, item.kept) for item in first.items] == [
        ("Article 0.2", "Outlet A", False),
        ("Article 0.1", "Outlet A", True),
        ("Article 0.0", "Outlet B", True),
    ]


def test_a_claim_returns_its_stories_with_their_sources_announced(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        add_stories(session)
        digest_id = new_digest(session, "digest", NOW)
        claimed = claim_unposted(session, digest_id, 3, NOW)
        again = claim_unposted(session, new_digest(session, "digest", NOW), 3, NOW, only=[1])
    assert [story.title for story in claimed] == ["Story 0", "Story 1", "Story 2"]
    assert all(story.posted_digest_id == digest_id for story in claimed)
    assert [story.sources_announced for story in claimed] == [2, 2, 2]
    assert again == []  # story 1 is taken
    with sessions() as session:
        announced = session.scalars(
            select(Story.sources_announced).where(Story.posted_digest_id == digest_id)
        )
        assert list(announced) == [2, 2, 2]
