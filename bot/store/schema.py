"""The database schema (SQLAlchemy 2 ORM). Alembic migrations in ``migrations/`` build it.

Portable types only, so the same schema runs on SQLite (the default) and
PostgreSQL. Timestamps are stored as UTC and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Column ``info`` of texts that come from errors (a server's words, a platform's answer):
#: they may echo a secret, so sessions made by ``session_factory(..., redact=...)`` pass
#: them through the redactor before they are written.
ERROR_TEXT: dict[str, Any] = {"error_text": True}


class Fit(StrEnum):
    """What is done with a text longer than its column allows (bot/store/bounds.py does it).

    Every string column has a limit: its ``String(n)`` length, or ``max_chars`` for TEXT
    (PostgreSQL refuses a longer value for the former, SQLite stores anything, so the
    limit is the code's on both). ``tests/store/test_bounds.py`` checks that none lacks one.
    """

    #: A label (title, name, error): cut between words, ending in "…".
    CUT = "cut"
    #: A key (guid, normalised link): its end becomes a digest of the whole, so distinct
    #: keys stay distinct (bot.common.bounds.fit_key).
    KEY = "key"
    #: Worth nothing cut (a validator, a link, a platform's id): not stored (NULL).
    DROP = "drop"
    #: Code writes it and it never is too long (a status word, a channel id); a longer one
    #: is a bug or an attack: the flush fails with UnstorableValueError naming the column.
    REFUSE = "refuse"


def bound(fit: Fit, max_chars: int | None = None, **info: Any) -> dict[str, Any]:
    """Column ``info`` declaring how a too-long value fits (and the limit of a TEXT column)."""
    return {"fit": fit, "max_chars": max_chars, **info}


# The longest address stored (a feed's, an item's link, an image): bot.feeds.urls.MAX_URL_CHARS.
URL_CHARS = 2048
# Longest title stored. Real headlines are far shorter (the longest of the 1,271 titles in
# the shared 62-feed corpus has 282 characters; Slack shows 150 in a header, Discord 256 in
# a title), but a hostile feed's title can be megabytes (a 4.8 MB title made a 24 MB
# database, copied into the story, its features and its digest).
MAX_TITLE_CHARS = 1000
# Enough of an error to act on; the rest is noise.
ERROR_CHARS = 2000
# An entry's summary and its content, and an article's main text: far above any real
# article (the longest of the shared corpus is under 100,000 characters), far below the
# 5 MB body cap.
SNIPPET_CHARS = 100_000
ARTICLE_CHARS = 1_000_000

#: Where a feed row came from (``Feed.source``).
SOURCE_CONFIG: Final = "config"
SOURCE_ADDED: Final = "added"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Feed(Base):
    """A configured feed and its health: validators for conditional GET, errors, backoff."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, info=bound(Fit.CUT))
    url: Mapped[str] = mapped_column(Text, info=bound(Fit.REFUSE, URL_CHARS))
    # Validators are sent back as they came or not at all: a cut one is a wrong one.
    etag: Mapped[str | None] = mapped_column(Text, info=bound(Fit.DROP, 1000))
    last_modified: Mapped[str | None] = mapped_column(String(100), info=bound(Fit.DROP))
    last_status: Mapped[str | None] = mapped_column(String(40), info=bound(Fit.CUT))
    last_error: Mapped[str | None] = mapped_column(
        Text, info=bound(Fit.CUT, ERROR_CHARS, **ERROR_TEXT)
    )
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    first_polled_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    # The publisher's floor on our poll interval (Cache-Control max-age, <ttl>), seconds.
    min_interval_seconds: Mapped[float | None] = mapped_column(Float)
    # SHA-256 of the last document fetched: an identical body is not parsed again.
    body_sha256: Mapped[str | None] = mapped_column(String(64), info=bound(Fit.DROP))
    disabled_at: Mapped[datetime | None]
    disabled_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Revision 0004. "config": the config file lists it (its entry there decides the URL,
    # topic and whether it is polled); "added": `feeds add`, `feeds import` or chat added it.
    source: Mapped[str] = mapped_column(
        String(20), default=SOURCE_CONFIG, server_default="config", info=bound(Fit.REFUSE)
    )
    # "rules" or "all", as a config entry's `topic`.
    topic: Mapped[str] = mapped_column(
        String(20), default="rules", server_default="rules", info=bound(Fit.REFUSE)
    )
    # The site the feed belongs to (OPML htmlUrl, a feed's <link>), and its OPML category
    # path ("Tech/AI"), kept for `feeds export`.
    site_url: Mapped[str | None] = mapped_column(Text, info=bound(Fit.DROP, URL_CHARS))
    category: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, 500))
    # Who added it ("cli", "slack U0123 (ada)", "opml import") and when.
    added_by: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, 300))
    added_at: Mapped[datetime | None]
    # Set when an added feed is removed: it is no longer polled or listed, and its items
    # and stories stay (`feeds add` brings it back).
    removed_at: Mapped[datetime | None]


class Item(Base):
    """One feed entry, kept or dropped by the topic rules, with the reasons."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid", name="uq_items_feed_guid"),
        Index("ix_items_normalized_url", "normalized_url"),
        Index("ix_items_story_id", "story_id"),
        Index("ix_items_published_at", "published_at"),
        # Revision 0007: kept items still without a story (a fault interrupted grouping), which
        # every poll cycle looks for; normally none, so the index stays empty.
        Index(
            "ix_items_ungrouped",
            "published_at",
            "id",
            sqlite_where=text("kept AND story_id IS NULL"),
            postgresql_where=text("kept AND story_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000), info=bound(Fit.KEY))
    url: Mapped[str | None] = mapped_column(Text, info=bound(Fit.DROP, URL_CHARS))
    normalized_url: Mapped[str | None] = mapped_column(String(1000), info=bound(Fit.KEY))
    title: Mapped[str] = mapped_column(Text, info=bound(Fit.CUT, MAX_TITLE_CHARS))
    summary: Mapped[str] = mapped_column(Text, default="", info=bound(Fit.CUT, SNIPPET_CHARS))
    content: Mapped[str] = mapped_column(Text, default="", info=bound(Fit.CUT, ARTICLE_CHARS))
    image: Mapped[str | None] = mapped_column(Text, info=bound(Fit.DROP, URL_CHARS))
    comments_url: Mapped[str | None] = mapped_column(Text, info=bound(Fit.DROP, URL_CHARS))
    author: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, 500))
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    kept: Mapped[bool] = mapped_column(Boolean)
    topic_score: Mapped[float] = mapped_column(Float, default=0.0)
    topic_reasons: Mapped[list[Any]] = mapped_column(default=list)
    # Older than the backfill window on the feed's first poll: seen, never posted.
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    story_reason: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, 1000))
    full_text: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, ARTICLE_CHARS))
    full_text_status: Mapped[str | None] = mapped_column(String(40), info=bound(Fit.CUT))

    feed: Mapped[Feed] = relationship()

    @property
    def text(self) -> str:
        """The best text known (:func:`bot.store.items.best_text`, which the records use)."""
        from bot.store.items import best_text  # bot.store.items imports this module

        return best_text(self.full_text, self.content, self.summary)


class Story(Base):
    """Articles from several outlets about one event, and whether it was posted."""

    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_posted_digest_id", "posted_digest_id"),
        # Revision 0004: `latest` and /meta-ai (a time window, newest first), the digest's
        # unposted stories (oldest first) and its stories updated since (new sources) read
        # these indexes, never the whole table.
        Index("ix_stories_first_published_at", "first_published_at", "id"),
        Index(
            "ix_stories_unposted",
            "first_published_at",
            "id",
            sqlite_where=text("posted_at IS NULL"),
            postgresql_where=text("posted_at IS NULL"),
        ),
        Index("ix_stories_last_updated_at", "last_updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text, info=bound(Fit.CUT, MAX_TITLE_CHARS))
    url: Mapped[str] = mapped_column(Text, info=bound(Fit.CUT, URL_CHARS))
    representative_item_id: Mapped[int | None] = mapped_column(Integer)
    first_published_at: Mapped[datetime]
    last_updated_at: Mapped[datetime]
    created_at: Mapped[datetime]
    summary: Mapped[list[Any]] = mapped_column(default=list)
    summary_note: Mapped[str | None] = mapped_column(Text, info=bound(Fit.CUT, 1000))
    posted_digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL")
    )
    posted_at: Mapped[datetime | None]
    # Sources already announced (when posted, plus any "+N more sources" since).
    sources_announced: Mapped[int] = mapped_column(Integer, default=0)
    # What kind of news it is ([kinds] rules over its articles; revision 0008).
    kind: Mapped[str | None] = mapped_column(String(40), info=bound(Fit.CUT, 40))

    items: Mapped[list[Item]] = relationship(order_by="Item.published_at", viewonly=True)


class DigestRecord(Base):
    """A digest as it was built, kept for the record and for `explain`."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), default="digest", info=bound(Fit.REFUSE))
    payload: Mapped[dict[str, Any]] = mapped_column()


class OutboxMessage(Base):
    """One rendered message for one (adapter, destination), stored before it is sent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status", "adapter", "destination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    adapter: Mapped[str] = mapped_column(String(100), info=bound(Fit.REFUSE))
    destination: Mapped[str] = mapped_column(String(500), info=bound(Fit.REFUSE))
    sequence: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column()
    # pending -> sent; a permanent error keeps it pending with `blocked` set.
    status: Mapped[str] = mapped_column(String(20), default="pending", info=bound(Fit.REFUSE))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(
        Text, info=bound(Fit.CUT, ERROR_CHARS, **ERROR_TEXT)
    )
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(200), info=bound(Fit.DROP))
    # Random, set when the message is stored (revision 0002): unique across databases,
    # so a platform's idempotency window never confuses two messages of two installs.
    nonce: Mapped[str | None] = mapped_column(String(40), info=bound(Fit.REFUSE))
    # A delivery lease (revision 0002): the process sending this message right now, so
    # a second process (a manual `digest` next to `run`) never sends it at the same time.
    # host:pid:start, at most 64 + 1 + 7 + 1 + 20 characters (Linux's HOST_NAME_MAX is 64).
    claimed_by: Mapped[str | None] = mapped_column(String(200), info=bound(Fit.REFUSE))
    claimed_until: Mapped[datetime | None]

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and restarts: the platform can drop a duplicate
        (:func:`bot.store.outbox.idempotency_key`, the one rule, which imports this module)."""
        from bot.store.outbox import idempotency_key

        return idempotency_key(self.nonce, self.id)


class Claim(Base):
    """Something only one process may do, taken by inserting its key (revision 0004).

    Replicas sharing the database each run the schedule and serve /meta-ai; the first
    to insert ``digest@<firing time>`` or ``slack:<trigger id>`` does the work, the others
    find the key taken (:mod:`bot.store.claims`).
    """

    __tablename__ = "claims"

    key: Mapped[str] = mapped_column(String(300), primary_key=True, info=bound(Fit.KEY))
    claimed_by: Mapped[str] = mapped_column(String(200), info=bound(Fit.REFUSE))
    claimed_at: Mapped[datetime]


class Subscription(Base):
    """What one channel gets and when (revision 0009): its filter, schedule and form.

    One per channel, ``adapter`` + ``destination`` as the outbox names them (a Slack or
    Discord channel id, ``webhook``, ``stdout``); a webhook's address is a secret and is
    never stored. A channel with a subscription gets only what it selects; the other
    configured channels get the default digest. Seeded from ``[[subscriptions]]`` in the
    config file (``origin`` "config") or made with ``channels add`` / ``/meta-ai subscribe``.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("adapter", "destination", name="uq_subscriptions_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    adapter: Mapped[str] = mapped_column(String(100), info=bound(Fit.REFUSE))
    destination: Mapped[str] = mapped_column(String(500), info=bound(Fit.REFUSE))
    #: Story kinds ([kinds] names); empty: every kind.
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    #: Words every story must match (the /meta-ai search syntax); empty: any story.
    words: Mapped[str] = mapped_column(Text, default="", info=bound(Fit.REFUSE, 500))
    min_outlets: Mapped[int] = mapped_column(Integer, default=1)
    #: A five-field cron expression read in ``timezone``, or "instant".
    schedule: Mapped[str] = mapped_column(String(100), info=bound(Fit.REFUSE))
    timezone: Mapped[str] = mapped_column(String(64), info=bound(Fit.REFUSE))
    #: "full" (summary and sources) or "compact" (one line a story).
    form: Mapped[str] = mapped_column(String(10), default="full", info=bound(Fit.REFUSE))
    #: Breaking stories (and those matching ``alert_words``) are posted at once.
    alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_words: Mapped[str] = mapped_column(Text, default="", info=bound(Fit.REFUSE, 500))
    #: "config", "cli" or "chat": a file's subscriptions follow the file at each start.
    origin: Mapped[str] = mapped_column(String(20), info=bound(Fit.REFUSE))
    created_by: Mapped[str | None] = mapped_column(String(200), info=bound(Fit.CUT))
    created_at: Mapped[datetime]
    #: The scheduled run last claimed (a conditional UPDATE: one replica runs each).
    last_run_at: Mapped[datetime | None]
    last_alert_at: Mapped[datetime | None]


class SubscriptionPost(Base):
    """A story posted to a subscription's channel (revision 0009): the primary key makes
    the post happen once however many replicas try, and ``digest_id`` finds the message
    an update replies to."""

    __tablename__ = "subscription_posts"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime]
    #: The story's sources when posted or last updated in this channel.
    sources_announced: Mapped[int] = mapped_column(Integer, default=0)
