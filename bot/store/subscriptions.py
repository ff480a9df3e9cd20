"""The subscriptions tables: each channel's subscription, and every story posted to it.

Exactly once across replicas: a scheduled run is claimed by moving ``last_run_at`` with a
conditional UPDATE (of two replicas, one moves it), and a story is recorded for a
subscription with ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key
``(subscription_id, story_id)``, so a story is posted to a channel once however many
processes try. An update moves ``sources_announced`` the same conditional way.

Reads return :class:`SubscriptionRecord` and :class:`PostRecord`; stories come as
:class:`~bot.store.stories.StoryRecord`, read in bulk by bot/store/stories.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.bounds import fit_values
from bot.store.records import columns_of
from bot.store.schema import Story, Subscription, SubscriptionPost
from bot.store.stories import StoryRecord, load_stories, story_select

#: The columns a subscription's settings fill (the rest is bookkeeping).
SETTINGS_COLUMNS = (
    "kinds",
    "words",
    "min_outlets",
    "schedule",
    "timezone",
    "form",
    "alerts",
    "alert_words",
)


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """One channel's subscription: its settings and the bookkeeping of its runs."""

    id: int
    adapter: str
    destination: str
    #: Story kinds ([kinds] names); empty: every kind.
    kinds: tuple[str, ...]
    words: str
    min_outlets: int
    schedule: str
    timezone: str
    form: str
    alerts: bool
    alert_words: str
    origin: str
    created_by: str | None
    created_at: datetime
    last_run_at: datetime | None
    last_alert_at: datetime | None


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A story posted to a subscription's channel, and the sources announced there."""

    subscription_id: int
    story_id: int
    digest_id: int | None
    sources_announced: int


_SUBSCRIPTION_COLUMNS = columns_of(Subscription, SubscriptionRecord)


def _subscriptions(session: Session, *where: Any) -> list[SubscriptionRecord]:
    """The subscriptions matching ``where``, in the order they were made."""
    query = select(*_SUBSCRIPTION_COLUMNS).where(*where).order_by(Subscription.id)
    return [
        SubscriptionRecord(**{**row._asdict(), "kinds": tuple(row.kinds or ())})
        for row in session.execute(query)
    ]


def all_subscriptions(session: Session) -> list[SubscriptionRecord]:
    """Every subscription, in the order they were made."""
    return _subscriptions(session)


def subscription_by_id(session: Session, subscription_id: int) -> SubscriptionRecord | None:
    """The subscription ``subscription_id``, or None when it was removed."""
    found = _subscriptions(session, Subscription.id == subscription_id)
    return found[0] if found else None


def subscription_of(session: Session, adapter: str, destination: str) -> SubscriptionRecord | None:
    """The channel's subscription, if it has one."""
    found = _subscriptions(
        session, Subscription.adapter == adapter, Subscription.destination == destination
    )
    return found[0] if found else None


def save_subscription(
    session: Session,
    adapter: str,
    destination: str,
    settings: Mapping[str, Any],
    *,
    origin: str,
    now: datetime,
    by: str | None = None,
) -> tuple[SubscriptionRecord, bool]:
    """Create the channel's subscription or replace its settings; True when created.

    A replaced subscription keeps what it posted (no story is posted twice to the channel)
    and its last run.
    """
    values = {column: settings[column] for column in SETTINGS_COLUMNS}
    values["kinds"] = list(values["kinds"])  # a JSON array, whatever sequence came
    created = _insert_if_missing(session, adapter, destination, values, origin, now)
    session.execute(
        update(Subscription)
        .where(Subscription.adapter == adapter, Subscription.destination == destination)
        .values(fit_values(Subscription, {**values, "origin": origin, "created_by": by}))
        .execution_options(synchronize_session=False)
    )
    row = subscription_of(session, adapter, destination)
    assert row is not None
    return row, created


def _insert_if_missing(
    session: Session,
    adapter: str,
    destination: str,
    values: Mapping[str, Any],
    origin: str,
    now: datetime,
) -> bool:
    """Insert the channel's row unless it exists; True when this call inserted it. ``ON
    CONFLICT DO NOTHING``: replicas starting together with one config file never collide."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {
        "adapter": adapter,
        "destination": destination,
        "origin": origin,
        "created_at": now,
        **values,
    }
    statement = (
        insert(Subscription)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["adapter", "destination"])
        .returning(Subscription.id)
    )
    return session.execute(statement).first() is not None


def delete_subscription(session: Session, adapter: str, destination: str) -> bool:
    """Remove the channel's subscription (and the record of its posts); True if it had one."""
    row = subscription_of(session, adapter, destination)
    if row is None:
        return False
    session.execute(delete(SubscriptionPost).where(SubscriptionPost.subscription_id == row.id))
    session.execute(
        delete(Subscription)
        .where(Subscription.id == row.id)
        .execution_options(synchronize_session=False)
    )
    return True


def claim_run(session: Session, row: SubscriptionRecord, now: datetime) -> bool:
    """Take the subscription's scheduled run; False when another process took it first."""
    return _move(session, row, Subscription.last_run_at, row.last_run_at, now)


def claim_alert(session: Session, row: SubscriptionRecord, now: datetime) -> bool:
    """Take the subscription's alert slot; False when another process took it first."""
    return _move(session, row, Subscription.last_alert_at, row.last_alert_at, now)


def _move(
    session: Session, row: SubscriptionRecord, column: Any, seen: datetime | None, now: datetime
) -> bool:
    unchanged = column.is_(None) if seen is None else column == seen
    result = session.execute(
        update(Subscription)
        .where(Subscription.id == row.id, unchanged)
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def unposted_for(
    session: Session, subscription_id: int, since: datetime, limit: int
) -> list[StoryRecord]:
    """Stories updated since ``since`` not yet posted to the subscription, oldest first."""
    posted = exists().where(
        SubscriptionPost.subscription_id == subscription_id,
        SubscriptionPost.story_id == Story.id,
    )
    query = (
        story_select()
        .where(Story.last_updated_at >= since, ~posted)
        .order_by(Story.first_published_at, Story.id)
        .limit(limit)
    )
    return load_stories(session, query)


def record_posts(
    session: Session,
    subscription_id: int,
    stories: Sequence[StoryRecord],
    digest_id: int,
    now: datetime,
) -> set[int]:
    """Record ``stories`` as posted to the subscription; the ids this call recorded (a
    story another process recorded first is left out, and must not be posted again)."""
    if not stories:
        return set()
    rows = [
        {
            "subscription_id": subscription_id,
            "story_id": story.id,
            "digest_id": digest_id,
            "posted_at": now,
            "sources_announced": story.kept_sources,
        }
        for story in stories
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SubscriptionPost)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["subscription_id", "story_id"])
        .returning(SubscriptionPost.story_id)
    )
    return set(session.scalars(statement))


def grown_posts(
    session: Session, subscription_id: int, since: datetime
) -> list[tuple[StoryRecord, PostRecord]]:
    """Stories posted to the subscription that gained sources since, with their post."""
    query = (
        select(
            SubscriptionPost.subscription_id,
            SubscriptionPost.story_id,
            SubscriptionPost.digest_id,
            SubscriptionPost.sources_announced,
        )
        .join(Story, SubscriptionPost.story_id == Story.id)
        .where(
            and_(
                SubscriptionPost.subscription_id == subscription_id,
                Story.last_updated_at >= since,
            )
        )
    )
    posts = {row.story_id: PostRecord(**row._asdict()) for row in session.execute(query)}
    if not posts:
        return []
    stories = load_stories(session, story_select().where(Story.id.in_(list(posts))))
    return [
        (story, posts[story.id])
        for story in stories
        if story.kept_sources > posts[story.id].sources_announced
    ]


def claim_growth(session: Session, post: PostRecord, sources: int) -> bool:
    """Move the post's announced sources to ``sources``; False when another process did."""
    result = session.execute(
        update(SubscriptionPost)
        .where(
            SubscriptionPost.subscription_id == post.subscription_id,
            SubscriptionPost.story_id == post.story_id,
            SubscriptionPost.sources_announced == post.sources_announced,
        )
        .values(sources_announced=sources)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def subscribed_channels(session: Session) -> set[tuple[str, str]]:
    """Every ``(adapter, destination)`` that has a subscription."""
    rows = session.execute(select(Subscription.adapter, Subscription.destination))
    return {(adapter, destination) for adapter, destination in rows}


def remove_config_subscriptions(session: Session, keep: Iterable[tuple[str, str]]) -> int:
    """Delete the subscriptions the config file made that it no longer lists."""
    kept = set(keep)
    removed = 0
    for row in all_subscriptions(session):
        if row.origin == "config" and (row.adapter, row.destination) not in kept:
            delete_subscription(session, row.adapter, row.destination)
            removed += 1
    return removed
