"""The reads behind the admins' reports (``status``, ``explain``, ``feeds list``).

bot/services/reports.py turns these records into lines and feed health; it builds no query.
The outbox's pending messages come from :func:`bot.store.outbox.pending_messages`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from bot.common.bounds import fit_key
from bot.feeds.records import MAX_KEY_CHARS
from bot.feeds.urls import normalize_url
from bot.store.database import database_size
from bot.store.records import columns_of, fields_of
from bot.store.schema import Feed, Item, Story


@dataclass(frozen=True, slots=True)
class ExplainedStory:
    """The story an explained article was grouped into, with the title and text of each of
    its kept articles (oldest first): what its kind is judged on."""

    id: int
    title: str
    representative_item_id: int | None
    kind: str | None
    posted_digest_id: int | None
    posted_at: datetime | None
    articles: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ExplainedItem:
    """One stored article as ``explain`` tells it: its feed's name, the topic verdict, and
    its story (None while it has none)."""

    id: int
    title: str
    feed_name: str
    published_at: datetime
    fetched_at: datetime
    kept: bool
    topic_score: float
    topic_reasons: tuple[Any, ...]
    backfill: bool
    story_reason: str | None
    story: ExplainedStory | None


def unposted_count(session: Session) -> int:
    """How many stories wait for the next digest."""
    waiting = select(func.count()).select_from(Story).where(Story.posted_at.is_(None))
    return session.scalar(waiting) or 0


def size_of_database(session: Session) -> int | None:
    """The size in bytes of the database ``session`` is bound to, when it can be told."""
    engine = session.get_bind()
    return database_size(engine) if isinstance(engine, Engine) else None


_ITEM_SKIP, _STORY_SKIP = {"feed_name", "story"}, {"articles"}
_ITEM_FIELDS = fields_of(ExplainedItem, skip=_ITEM_SKIP)
_STORY_FIELDS = fields_of(ExplainedStory, skip=_STORY_SKIP)


def items_at(session: Session, url: str) -> list[ExplainedItem]:
    """The items any feed carried for ``url`` (by normalized URL, by guid, or by the URL
    exactly as stored), in the order stored, each with its feed's name and its story: one query
    for the items, their feeds and stories, one for those stories' kept articles."""
    query = (
        select(
            *columns_of(Item, ExplainedItem, skip=_ITEM_SKIP),
            Feed.name,
            *columns_of(Story, ExplainedStory, skip=_STORY_SKIP),
        )
        .join(Feed, Feed.id == Item.feed_id)
        .outerjoin(Story, Story.id == Item.story_id)
        .where(
            or_(
                Item.normalized_url == fit_key(normalize_url(url), MAX_KEY_CHARS),
                Item.guid == fit_key(url, MAX_KEY_CHARS),
                Item.url == url,
            )
        )
        .order_by(Item.id)
    )
    rows = [_split(row) for row in session.execute(query)]
    story_ids = {story["id"] for _, _, story in rows if story["id"] is not None}
    articles = _kept_articles(session, story_ids)
    return [_explained(item, feed_name, story, articles) for item, feed_name, story in rows]


def _split(row: Sequence[Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A row of :func:`items_at` as its item's columns, its feed's name, its story's columns
    (all None when it has no story)."""
    width = len(_ITEM_FIELDS)
    item = dict(zip(_ITEM_FIELDS, row[:width], strict=True))
    story = dict(zip(_STORY_FIELDS, row[width + 1 :], strict=True))
    return item, row[width], story


def _explained(
    item: dict[str, Any],
    feed_name: str,
    story: dict[str, Any],
    articles: dict[int, tuple[tuple[str, str], ...]],
) -> ExplainedItem:
    """The record of one split row of :func:`items_at`, its story's articles from ``articles``."""
    explained_story = None
    if story["id"] is not None:
        explained_story = ExplainedStory(**story, articles=articles.get(story["id"], ()))
    reasons = tuple(item.pop("topic_reasons") or ())
    return ExplainedItem(**item, topic_reasons=reasons, feed_name=feed_name, story=explained_story)


def _kept_articles(
    session: Session, story_ids: Collection[int]
) -> dict[int, tuple[tuple[str, str], ...]]:
    """(title, best text) of the kept items of each story, by publication, in one query."""
    if not story_ids:
        return {}
    query = (
        select(Item)
        .where(Item.story_id.in_(story_ids), Item.kept)
        .order_by(Item.published_at, Item.id)
    )
    articles: dict[int, list[tuple[str, str]]] = {}
    for item in session.scalars(query):
        if item.story_id is not None:
            articles.setdefault(item.story_id, []).append((item.title, item.text))
    return {story_id: tuple(texts) for story_id, texts in articles.items()}
