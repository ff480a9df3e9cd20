"""The channels the bot posts to, and a test post to any of them now.

An admin who sets up a channel wants to know at once that the bot may post there, not at
the next digest (issue 23). ``test`` renders one sample entry (the newest story, or a
sample when the database holds none) for the chosen channels, stores it in the outbox like
every message, sends it once, and reports each platform's answer. A message the platform
refused is then withdrawn, so a failed test never posts later by surprise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.adapters.base import ChatAdapter
from bot.common.times import utc_now
from bot.digest.model import Digest, DigestSource, DigestStory
from bot.outbox.delivery import Outbox
from bot.store.outbox import messages_by_id, store_messages, withdraw_messages

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.services.subscriptions import SubscriptionInfo

SAMPLE_TITLE = "meta-ai-digest test post: this channel receives the digests"
SAMPLE_URL = "https://ai.meta.com/blog/"
SAMPLE_SUMMARY = [
    "This is a sample entry, posted by `meta-ai-digest channels test` to check the set-up.",
    "Digests and /meta-ai answers look like this in this channel.",
]


@dataclass(frozen=True, slots=True)
class Channel:
    """One place the bot posts to: an adapter's destination, and what it receives there."""

    adapter: str
    destination: str
    receives: str  # "digests", "admin notices", or both


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """What the platform answered to a test post."""

    channel: Channel
    sent: bool
    answer: str


class ChannelService:
    """The channels of the enabled adapters, and test posts through the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapters: Sequence[ChatAdapter],
        outbox: Outbox,
        latest: Callable[[], Digest],
        subscriptions: Callable[[], list[SubscriptionInfo]],
    ) -> None:
        self.sessions = sessions
        self.adapters = list(adapters)
        self.outbox = outbox
        self.latest = latest
        self.subscriptions = subscriptions

    def channels(self) -> list[Channel]:
        """Every destination of every enabled adapter, and every subscribed channel of
        theirs, once, with what it receives there: the default digest, or its subscription."""
        receives: dict[tuple[str, str], list[str]] = {}
        subscribed = {(info.adapter, info.destination): info for info in self.subscriptions()}
        for adapter in self.adapters:
            for destination in adapter.destinations():
                if (adapter.name, destination) not in subscribed:
                    receives.setdefault((adapter.name, destination), []).append("digests")
            for (name, destination), info in subscribed.items():
                if name == adapter.name:
                    receives.setdefault((name, destination), []).append(
                        f"its subscription ({info.description})"
                    )
            for destination in adapter.admin_destinations():
                receives.setdefault((adapter.name, destination), []).append("admin notices")
        return [
            Channel(adapter, destination, " and ".join(roles))
            for (adapter, destination), roles in receives.items()
        ]

    def select(self, target: str | None) -> list[Channel]:
        """The channels ``target`` names: all, an adapter (``slack``), or one destination
        (``slack:C0123``). A ValueError names the choices when nothing matches."""
        channels = self.channels()
        if not target:
            return channels
        adapter, _, destination = target.partition(":")
        chosen = [
            channel
            for channel in channels
            if channel.adapter == adapter and destination in ("", channel.destination)
        ]
        if not chosen:
            known = ", ".join(f"{c.adapter}:{c.destination}" for c in channels) or "none"
            raise ValueError(f"no channel {target!r}; the channels are: {known}")
        return chosen

    async def test(self, target: str | None = None) -> list[TestOutcome]:
        """Post a sample entry to the chosen channels now, once each; what each platform said."""
        channels = self.select(target)
        sample = await asyncio.to_thread(self._sample)
        queued = await asyncio.to_thread(self._queue, channels, sample)
        ids = {message_id for message_ids in queued.values() for message_id in message_ids}
        await self.outbox.deliver(max_wait_seconds=0, only=ids)
        return await asyncio.to_thread(self._outcomes, queued)

    def _sample(self) -> Digest:
        stories = self.latest().stories[:1] or [sample_story()]
        return Digest(generated_at=utc_now(), stories=stories, kind="latest")

    def _queue(self, channels: Sequence[Channel], sample: Digest) -> dict[Channel, list[int]]:
        adapters = {adapter.name: adapter for adapter in self.adapters}
        queued: dict[Channel, list[int]] = {}
        with self.sessions.begin() as session:
            for channel in channels:
                payloads = adapters[channel.adapter].render(sample)
                queued[channel] = store_messages(
                    session, channel.adapter, channel.destination, payloads
                )
        return queued

    def _outcomes(self, queued: dict[Channel, list[int]]) -> list[TestOutcome]:
        outcomes = []
        with self.sessions.begin() as session:
            for channel, ids in queued.items():
                messages = messages_by_id(session, ids)
                unsent = [message for message in messages if message.status != "sent"]
                if unsent:
                    answer = unsent[0].last_error or "not sent (another process holds it)"
                    # Withdrawn: a failed test must not post later when the channel is fixed.
                    withdraw_messages(session, ids)
                    outcomes.append(TestOutcome(channel, False, answer))
                    continue
                posted = ", ".join(
                    message.platform_message_id or "accepted" for message in messages
                )
                outcomes.append(TestOutcome(channel, True, f"posted ({posted})"))
        return outcomes


def sample_story() -> DigestStory:
    """The entry a test posts when the database holds no story yet."""
    return DigestStory(
        id="test",
        title=SAMPLE_TITLE,
        url=SAMPLE_URL,
        published=utc_now(),
        summary=list(SAMPLE_SUMMARY),
        sources=[DigestSource(title=SAMPLE_TITLE, url=SAMPLE_URL, feed="meta-ai-digest")],
    )
