"""Read-only reports for admins: feed health, delivery status, why an article was (not) posted.

:class:`Reports` is the service the commands call (``status``, ``explain``, ``feeds list``,
``/meta-ai feeds``); the functions under it take a session, for the services that
already hold one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from bot.common.redaction import redact_url, redact_urls
from bot.common.times import utc_minute as when
from bot.common.times import utc_now
from bot.digest.model import FeedInfo
from bot.feeds.settings import FeedConfig
from bot.store.digests import last_digest as newest_digest
from bot.store.feeds import SOURCE_ADDED, SOURCE_CONFIG, FeedRecord, active_feeds, all_feeds
from bot.store.outbox import pending_messages
from bot.store.reports import (
    ExplainedItem,
    ExplainedStory,
    items_at,
    size_of_database,
    unposted_count,
)
from bot.stories.settings import KindSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


class Reports:
    """The read-only reports over the database: each reads in a session of its own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        configured: Callable[[], Sequence[FeedConfig]],
        kinds: KindSettings | None = None,
    ) -> None:
        self.sessions = sessions
        self.configured = configured
        self.kinds = kinds

    def feeds(self) -> list[FeedInfo]:
        """Every feed the bot has, with its stored health (see :func:`feed_infos`)."""
        with self.sessions() as session:
            return feed_infos(session, self.configured())

    def status(self) -> list[str]:
        """The database, the feeds in trouble, the deliveries, the last digest."""
        with self.sessions() as session:
            return status_lines(session, self.configured())

    def explain(self, url: str) -> list[str]:
        """Why the article at ``url`` was or was not posted; nothing if no feed carried it."""
        with self.sessions() as session:
            return explain_url(session, url, self.kinds)


def feed_infos(session: Session, configured: Sequence[FeedConfig]) -> list[FeedInfo]:
    """Every feed the bot has: the configured ones in config order, then those added at run
    time by name, each with its stored health.

    Reads only: a configured feed not polled yet has no row, and shows as such; feeds dropped
    from the config or removed are not listed.
    """
    stored = {feed.name: feed for feed in all_feeds(session)}
    infos: list[FeedInfo] = []
    for config in configured:
        feed = stored.get(config.name)
        if feed is not None and feed.url != config.url:
            feed = None  # a new URL starts a new history when the next poll syncs the row
        infos.append(feed_info(config.name, config.url, SOURCE_CONFIG, config.enabled, feed))
    added = sorted(
        (feed for feed in active_feeds(session, configured) if feed.source == SOURCE_ADDED),
        key=lambda feed: feed.name.lower(),
    )
    infos.extend(feed_info(feed.name, feed.url, SOURCE_ADDED, True, feed) for feed in added)
    return infos


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def feed_info(
    name: str, url: str, source: Literal["config", "added"], enabled: bool, feed: FeedRecord | None
) -> FeedInfo:
    """One feed's health; ``feed`` is its stored row, None before its first poll.

    Shown to every member in chat and in every list, so the URL (and any URL the error
    quotes) has no credentials: no user name or password, no key-like query value.
    """
    info = FeedInfo(name=name, url=redact_url(url), source=source, state="not polled yet")
    if not enabled:
        info.state = "off"
    if feed is None:
        return info
    info.error = redact_urls(feed.last_error) if feed.last_error else None
    info.failures = feed.consecutive_failures
    info.last_success = feed.last_success_at
    info.next_poll = feed.next_poll_at
    info.added_by = feed.added_by
    if not enabled:
        return info
    if feed.disabled_at is not None:
        info.state = "disabled"
    elif feed.consecutive_failures:
        info.state = "failing"
    elif feed.last_status is not None:
        info.state = "ok"
    return info


def status_lines(session: Session, configured: Sequence[FeedConfig] | None = None) -> list[str]:
    """Database size, feeds failing or disabled, stories waiting, deliveries pending or
    blocked, last digest.

    With ``configured``, only the feeds the bot has now (see :func:`feed_infos`): a feed
    dropped from the config file or removed keeps its row, but is no longer reported.
    """
    feeds: Sequence[FeedRecord] = (
        all_feeds(session) if configured is None else active_feeds(session, configured)
    )
    failing = [feed for feed in feeds if feed.consecutive_failures and not feed.disabled_at]
    disabled = [feed for feed in feeds if feed.disabled_at]
    waiting = unposted_count(session)
    last_digest = newest_digest(session)
    pending = pending_messages(session)
    size = size_of_database(session)
    lines = [
        f"database size: {human_size(size)}",
        f"feeds: {len(feeds)} known, {len(failing)} failing, {len(disabled)} disabled",
        *(f"  failing: {f.name} ({f.consecutive_failures}x): {f.last_error}" for f in failing),
        *(f"  DISABLED: {f.name} since {when(f.disabled_at)}: {f.last_error}" for f in disabled),
        f"stories waiting for the next digest: {waiting}",
        f"last digest: {when(last_digest.created_at) if last_digest else 'never'}",
        f"deliveries pending: {len(pending)}",
    ]
    now = utc_now()
    for message in pending:
        state = "BLOCKED" if message.blocked else "pending"
        if message.claimed_until is not None and message.claimed_until > now:
            state = f"sending now ({message.claimed_by} until {when(message.claimed_until)})"
        lines.append(
            f"  {state}: {message.adapter} → {message.destination} (digest {message.digest_id}, "
            f"{message.attempts} attempts, next {when(message.next_attempt_at)}): "
            f"{message.last_error or 'not tried yet'}"
        )
    return lines


def explain_url(session: Session, url: str, kinds: KindSettings | None = None) -> list[str]:
    """All the bot knows of an article: kept or dropped and why, its story, when posted;
    nothing when no feed ever carried it."""
    return [line for item in items_at(session, url) for line in explain_item(item, kinds)]


def explain_item(item: ExplainedItem, kinds: KindSettings | None = None) -> list[str]:
    verdict = "KEPT" if item.kept else "DROPPED"
    lines = [
        f"{item.title}",
        f"  feed: {item.feed_name}; published {when(item.published_at)}; "
        f"first seen {when(item.fetched_at)}",
        f"  topic: {verdict} (score {item.topic_score:g})",
        *(f"    - {reason}" for reason in item.topic_reasons),
    ]
    if item.backfill:
        lines.append(
            "  history: older than the backfill window on the feed's first poll, or than "
            "[database] keep_days: stored as seen, never posted"
        )
    if not item.kept:
        return [*lines, "  not posted: dropped by the topic rules."]
    story = item.story
    if story is None:
        return [*lines, "  not grouped into a story yet (the next poll cycle does it)."]
    lines.append(f"  story #{story.id}: {story.title} ({item.story_reason})")
    if story.representative_item_id not in (None, item.id):
        lines.append(
            f"  duplicate coverage: story #{story.id} is represented by "
            f"item #{story.representative_item_id}"
        )
    lines.append(f"  kind: {kind_evidence(story, kinds)}")
    if story.posted_digest_id:
        lines.append(f"  posted in digest #{story.posted_digest_id} at {when(story.posted_at)}")
    elif story.posted_at:
        lines.append(
            "  not posted: the story is history from a feed's first poll (backfill window)"
        )
    else:
        lines.append("  not posted yet: waiting for the next digest")
    return lines


def kind_evidence(story: ExplainedStory, kinds: KindSettings | None) -> str:
    """The story's kind and each kind's score over its kept articles, as the rules see them
    now."""
    from bot.stories.kinds import KindRules

    verdict = KindRules(kinds).story_kind(story.articles)
    stored = (
        f" (stored: {story.kind}, from before the rules changed)"
        if (story.kind and story.kind != verdict.name)
        else ""
    )
    return verdict.describe() + stored
