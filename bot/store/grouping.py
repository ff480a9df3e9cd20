"""The story stage's writes: a story created, an item attached to its story, two stories
merged into one, and a story's representative article and summary refreshed.

Plain values in, ids out: the story stage decides, this module writes what it decided, in
the caller's transaction. Core statements, each string fitted to its column
(:func:`~bot.store.bounds.fit_values`): no ORM row is held, so what the next statement
reads is what the last one wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bot.store.bounds import fit_values
from bot.store.items import update_items
from bot.store.schema import Item, Story
from bot.store.search import forget_stories


def create_story(
    session: Session,
    *,
    title: str,
    url: str,
    first_published_at: datetime,
    now: datetime,
    posted_at: datetime | None = None,
) -> int:
    """Store a new story, its summary still to come; its id."""
    values = {
        "title": title,
        "url": url,
        "first_published_at": first_published_at,
        "last_updated_at": now,
        "created_at": now,
        "summary": [],
        "sources_announced": 0,
        "posted_at": posted_at,
    }
    statement = insert(Story).values(fit_values(Story, values)).returning(Story.id)
    return session.execute(statement).scalar_one()


@dataclass(frozen=True, slots=True)
class Placement:
    """An item put in a story, with the reason it belongs there."""

    item_id: int
    story_id: int
    reason: str


def attach_items(session: Session, placements: Sequence[Placement]) -> None:
    """Put each item in its story, with its reason (one statement for all of them)."""
    update_items(
        session,
        [
            {"b_id": one.item_id, "story_id": one.story_id, "story_reason": one.reason}
            for one in placements
        ],
    )


def posted_at_of(session: Session, story_ids: Collection[int]) -> dict[int, datetime | None]:
    """When each of these stories was posted (None: not yet); a deleted one is left out."""
    query = select(Story.id, Story.posted_at).where(Story.id.in_(story_ids))
    return {story_id: posted_at for story_id, posted_at in session.execute(query)}


def merge_stories(session: Session, keep: int, gone: int, reason: str) -> None:
    """Move story ``gone``'s items into ``keep`` and delete ``gone`` (one event told twice).

    Each moved item's reason gains a note naming the merge, which ``explain`` shows. When
    ``gone`` was posted, what either announced counts as announced.
    """
    note = f"; story #{gone} merged into #{keep}: {reason}"
    moved = session.execute(select(Item.id, Item.story_reason).where(Item.story_id == gone))
    update_items(
        session,
        [
            {"b_id": item_id, "story_id": keep, "story_reason": (was or "") + note}
            for item_id, was in moved
        ],
    )
    columns = (Story.id, Story.posted_at, Story.sources_announced, Story.first_published_at)
    both = {
        row.id: row for row in session.execute(select(*columns).where(Story.id.in_((keep, gone))))
    }
    kept, merged = both[keep], both[gone]
    changes: dict[str, Any] = {
        "first_published_at": min(kept.first_published_at, merged.first_published_at)
    }
    if merged.posted_at is not None:
        # Both were announced: what either said counts as said.
        changes["sources_announced"] = kept.sources_announced + merged.sources_announced
        changes["posted_at"] = min(kept.posted_at or merged.posted_at, merged.posted_at)
    session.execute(update(Story).where(Story.id == keep).values(changes))
    forget_stories(session, [gone])
    session.execute(delete(Story).where(Story.id == gone))


def update_story(
    session: Session,
    story_id: int,
    *,
    representative_item_id: int,
    title: str,
    url: str | None,
    first_published_at: datetime,
    kind: str,
    summary: Sequence[str],
    summary_note: str | None,
    now: datetime,
) -> None:
    """Rewrite what a story says from its articles; ``url`` None keeps its link."""
    values: dict[str, Any] = {
        "representative_item_id": representative_item_id,
        "title": title,
        "first_published_at": first_published_at,
        "last_updated_at": now,
        "kind": kind,
        "summary": list(summary),
        "summary_note": summary_note,
    }
    if url:
        values["url"] = url
    session.execute(update(Story).where(Story.id == story_id).values(fit_values(Story, values)))
