"""Stories out to chat: the digest preview, queueing and posting it, the /meta-ai answer, and
notices to admins. Messages go through the outbox, so a crash never loses or repeats one.

Nothing here needs the feed, topic, story or summary stages, so answering `latest`
loads none of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.common.times import utc_now
from bot.digest.builder import (
    GROWN_WINDOW,
    alert_candidates,
    build_digest,
    digest_of,
    latest_digest,
    update_of,
)
from bot.digest.model import Digest, Notice, StoryUpdate
from bot.outbox.delivery import (
    DeliveryReport,
    Outbox,
    Target,
    digest_targets,
    enqueue,
    enqueue_digest,
)
from bot.store.database import begin_writing
from bot.store.digests import delete_digest, fill_digest, last_posted_at, new_digest
from bot.store.feeds import feed_named, note_disabled_notice_sent
from bot.store.stories import StoryRecord, claim_grown, claim_unposted, has_unposted
from bot.store.subscriptions import subscribed_channels

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.adapters.base import ChatAdapter
    from bot.digest.settings import DigestSettings

log = logging.getLogger(__name__)

#: The default digest's channels, and the channels with a subscription of their own.
Routes = tuple[list[Target], set[tuple[str, str]]]


@dataclass
class DigestResult:
    digest: Digest
    queued_messages: int = 0
    delivery: DeliveryReport | None = None
    #: Every channel has a subscription of its own: the default digest went nowhere, by
    #: design (its stories are claimed so that none waits forever).
    subscribed_only: bool = False


def disabled_feed_notice(name: str, failures: int, last_error: str | None) -> str:
    """What an admin reads when a feed is disabled, with the command that brings it back."""
    return (
        f"meta-ai-digest disabled the feed “{name}” after {failures} "
        f"consecutive failures (last: {last_error}). "
        f'Re-enable it with: meta-ai-digest feeds enable "{name}"'
    )


class DigestService:
    """Digests and answers built from the stored stories, delivered through the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: DigestSettings,
        adapters: Sequence[ChatAdapter],
        outbox: Outbox,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.adapters = adapters
        self.outbox = outbox

    def preview(self) -> Digest:
        """The digest `digest` would post now, without marking anything."""
        with self.sessions() as session:
            digest, _stories = build_digest(session, self.settings, utc_now())
            return digest

    def queue(self, routes: Routes | None = None) -> tuple[Digest, int]:
        """Claim the next digest's stories, store its messages in the outbox, in one transaction.

        The claim is atomic (see :func:`claim_unposted`): however many processes queue a
        digest at the same moment, each story goes into exactly one of their digests, and a
        process that finds its stories already claimed queues nothing. ``routes``: what
        :meth:`targets` answered, when the caller has read it already.
        """
        targets, subscribed = routes or self.targets()
        if not targets and not subscribed:
            digest = self.preview()
            if digest.stories:
                # Marking the stories posted would lose them: keep them for a configured channel.
                log.error(
                    "no adapter has a destination; %d stories stay pending", len(digest.stories)
                )
            return digest, 0
        # With every channel subscribed, the default digest goes nowhere: its stories are
        # claimed all the same (each subscription posts what it selects on its own), so that
        # none waits forever and retention can prune them.
        with self.sessions.begin() as session:
            begin_writing(session)
            now = utc_now()
            digest_id = new_digest(session, "digest", now)
            stories: list[StoryRecord] = []
            if has_unposted(session):
                stories = claim_unposted(session, digest_id, self.settings.max_stories, now)
            updates: list[tuple[int | None, StoryUpdate]] = []
            if self.settings.show_new_sources:
                claimed = [story.id for story in stories]
                updates = [
                    (story.posted_digest_id, update_of(session, story, extra))
                    for story, extra in claim_grown(session, now - GROWN_WINDOW, exclude=claimed)
                ]
            digest = digest_of(stories, now)
            if not stories and not updates:  # nothing new, or another process claimed it
                delete_digest(session, digest_id)
                return digest, 0
            digest = digest.model_copy(update={"updates": [update for _at, update in updates]})
            kind = "digest" if stories else "update"
            fill_digest(session, digest_id, kind, digest.to_json_dict())
            queued = enqueue_digest(
                session,
                targets,
                digest.model_copy(update={"updates": []}),
                updates,
                digest_id,
            )
            return digest, queued

    def queue_alert(self) -> Digest | None:
        """Claim the stories that crossed the alert threshold and queue them as one alert.

        None when alerts are off, none is due, or the last alert is more recent than
        ``alert_gap_minutes`` (the stories wait for the next alert or digest). The claim is
        the digest's (:func:`claim_unposted`), so a story is posted once whoever claims it.
        """
        settings = self.settings
        targets, subscribed = self.targets()
        if not settings.alerts or not targets:
            return None
        with self.sessions.begin() as session:
            begin_writing(session)
            now = utc_now()
            last = last_posted_at(session, "alert")
            if last is not None and now - last < timedelta(minutes=settings.alert_gap_minutes):
                return None
            due = alert_candidates(session, settings, now)
            if not due:
                return None
            digest_id = new_digest(session, "alert", now)
            stories = claim_unposted(session, digest_id, settings.max_stories, now, only=due)
            if not stories:
                delete_digest(session, digest_id)
                return None
            digest = digest_of(stories, now).model_copy(update={"kind": "alert"})
            fill_digest(session, digest_id, "alert", digest.to_json_dict())
            enqueue(session, self.adapters, digest, digest_id=digest_id, skip=subscribed)
            return digest

    def targets(self) -> Routes:
        """The default digest's channels (every adapter's, but those with a subscription of
        their own, which get only that), and the subscribed ones."""
        with self.sessions() as session:
            subscribed = subscribed_channels(session)
        return digest_targets(self.adapters, subscribed), subscribed

    async def post_alert(self) -> Digest | None:
        """Queue and deliver an alert if one is due (``run`` calls this after each poll)."""
        digest = await asyncio.to_thread(self.queue_alert)
        if digest is not None:
            await self.outbox.deliver(max_wait_seconds=0)
        return digest

    async def post(self, max_wait_seconds: float = 60.0) -> DigestResult:
        """Deliver anything pending, then queue and deliver the next digest."""
        await self.outbox.deliver(max_wait_seconds=0)
        routes = await asyncio.to_thread(self.targets)
        digest, queued = await asyncio.to_thread(self.queue, routes)
        delivery = await self.outbox.deliver(max_wait_seconds=max_wait_seconds)
        targets, subscribed = routes
        return DigestResult(
            digest=digest,
            queued_messages=queued,
            delivery=delivery,
            subscribed_only=not targets and bool(subscribed),
        )

    async def latest(self, query: str | None) -> Digest:
        """The /meta-ai answer: the most recent stories, those matching ``query`` if given."""
        return await asyncio.to_thread(self.answer, query)

    def answer(self, query: str | None = None) -> Digest:
        """:meth:`latest`, in this thread (the ``latest`` command)."""
        with self.sessions() as session:
            return latest_digest(session, self.settings, utc_now(), query)

    async def show_latest(self) -> None:
        """The /meta-ai answer to every adapter's channels, through the outbox (what a bot
        with only the terminal shows when it starts)."""
        digest = await self.latest(None)
        if await asyncio.to_thread(self._queue_latest, digest):
            await self.outbox.deliver(max_wait_seconds=0)

    def _queue_latest(self, digest: Digest) -> int:
        with self.sessions.begin() as session:
            return enqueue(session, self.adapters, digest)

    async def notify(self, text: str) -> None:
        """One notice to every adapter's admin channels (a feed added or removed in chat)."""
        if await asyncio.to_thread(self._queue_notice, text):
            await self.outbox.deliver(max_wait_seconds=0)

    def _queue_notice(self, text: str) -> int:
        with self.sessions.begin() as session:
            notice = Notice(generated_at=utc_now(), text=text)
            return enqueue(session, self.adapters, notice, admin=True)

    async def notify_admins(self, disabled_feeds: Sequence[str]) -> None:
        """One notice per disabled feed to the adapters' admin channels, sent once."""
        if await asyncio.to_thread(self._queue_notices, disabled_feeds):
            await self.outbox.deliver(max_wait_seconds=0)

    def _queue_notices(self, disabled_feeds: Sequence[str]) -> int:
        with self.sessions.begin() as session:
            count = 0
            for name in disabled_feeds:
                feed = feed_named(session, name)
                if feed is None or feed.disabled_notice_sent:
                    continue
                text = disabled_feed_notice(feed.name, feed.consecutive_failures, feed.last_error)
                notice = Notice(generated_at=utc_now(), text=text)
                count += enqueue(session, self.adapters, notice, admin=True)
                note_disabled_notice_sent(session, feed.id)
            return count
