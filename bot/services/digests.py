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
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryReport, Outbox, enqueue, record_digest
from bot.digest.builder import build_digest, latest_digest, mark_posted
from bot.digest.model import Digest, Notice
from bot.store.schema import Feed, utc_now

if TYPE_CHECKING:
    from bot.adapters.base import ChatAdapter
    from bot.digest.settings import DigestSettings

log = logging.getLogger(__name__)


@dataclass
class DigestResult:
    digest: Digest
    queued_messages: int = 0
    delivery: DeliveryReport | None = None


def disabled_feed_notice(feed: Feed) -> str:
    """What an admin reads when a feed is disabled, with the command that brings it back."""
    return (
        f"meta-ai-digest disabled the feed “{feed.name}” after "
        f"{feed.consecutive_failures} "
        f"consecutive failures (last: {feed.last_error}). "
        f'Re-enable it with: meta-ai-digest feeds enable "{feed.name}"'
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

    def queue(self) -> tuple[Digest, int]:
        """Build the next digest, store its messages in the outbox and mark its stories posted."""
        with self.sessions.begin() as session:
            now = utc_now()
            digest, stories = build_digest(session, self.settings, now)
            if not digest.stories:
                return digest, 0
            if not any(adapter.destinations() for adapter in self.adapters):
                # Marking the stories posted would lose them: keep them for a configured channel.
                log.error("no adapter has a destination; %d stories stay pending", len(stories))
                return digest, 0
            record = record_digest(session, digest)
            queued = enqueue(session, self.adapters, digest, digest_id=record.id)
            mark_posted(stories, record.id, now)
            return digest, queued

    async def post(self, max_wait_seconds: float) -> DigestResult:
        """Deliver anything pending, then queue and deliver the next digest."""
        await self.outbox.deliver(max_wait_seconds=0)
        digest, queued = await asyncio.to_thread(self.queue)
        delivery = await self.outbox.deliver(max_wait_seconds=max_wait_seconds)
        return DigestResult(digest=digest, queued_messages=queued, delivery=delivery)

    async def latest(self, query: str | None) -> Digest:
        """The /meta-ai answer: the most recent stories, those matching ``query`` if given."""
        return await asyncio.to_thread(self._latest, query)

    def _latest(self, query: str | None) -> Digest:
        with self.sessions() as session:
            return latest_digest(session, self.settings, utc_now(), query)

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
                feed = session.scalar(select(Feed).where(Feed.name == name))
                if feed is None or feed.disabled_notice_sent:
                    continue
                notice = Notice(generated_at=utc_now(), text=disabled_feed_notice(feed))
                count += enqueue(session, self.adapters, notice, admin=True)
                feed.disabled_notice_sent = True
            return count
