"""The /meta-ai handler every platform calls, and the CLI's changes that admins hear of.

Each command goes to its service (digests, the feed catalog, subscriptions); changes are
told to the admin channels through the outbox. This object is the
:class:`bot.adapters.base.CommandHandler` the adapters are started with: the runtime
(bot/pipeline.py) holds no use case itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.digest.model import CommandReply, Digest, FeedChange, FeedInfo

if TYPE_CHECKING:
    from bot.services.digests import DigestService
    from bot.services.feeds import FeedCatalog
    from bot.services.subscriptions import SubscriptionService


class ChatCommands:
    """``/meta-ai`` and the feed and channel changes, over the services."""

    def __init__(
        self,
        digests: DigestService,
        catalog: Callable[[], FeedCatalog],
        subscriptions: Callable[[], SubscriptionService],
        claim: Callable[[str], bool],
    ) -> None:
        self.digests = digests
        #: Built on first use (the feed stage loads then): a /meta-ai answer needs neither.
        self._catalog = catalog
        self._subscriptions = subscriptions
        self._claim = claim

    async def claim(self, key: str) -> bool:
        """True when this process answers the command ``key`` (replicas: the first to claim)."""
        return await asyncio.to_thread(self._claim, key)

    async def latest(self, query: str | None = None) -> Digest:
        """The /meta-ai answer: the latest stories, or those matching ``query``."""
        return await self.digests.latest(query)

    # ------------------------------------------------------------------ the feed list
    async def feeds(self) -> list[FeedInfo]:
        """Every feed with its health (``/meta-ai feeds``)."""
        return await asyncio.to_thread(lambda: self._catalog().infos())

    async def add_feed(self, url: str, *, by: str, name: str | None = None) -> FeedChange:
        """Add a feed from its address or its site's; the admin channels hear of it."""
        catalog = await asyncio.to_thread(self._catalog)
        change = await catalog.add(url, added_by=by, name=name)
        if change.ok:
            await self.digests.notify(f"{by} added the feed “{change.name}”: {change.url}")
        return change

    async def remove_feed(self, name: str, *, by: str) -> FeedChange:
        """Remove a feed added at run time; the admin channels hear of it."""
        catalog = await asyncio.to_thread(self._catalog)
        change = await asyncio.to_thread(catalog.remove, name, removed_by=by)
        if change.ok:
            await self.digests.notify(f"{by} removed the feed “{change.name}” ({change.url})")
        return change

    async def enable_feed(self, name: str, *, by: str) -> FeedChange:
        """Re-enable a feed disabled after repeated failures; the admin channels hear of it."""
        catalog = await asyncio.to_thread(self._catalog)
        change = await asyncio.to_thread(catalog.enable, name, enabled_by=by)
        if change.ok:
            await self.digests.notify(f"{by} re-enabled the feed “{change.name}” ({change.url})")
        return change

    # ------------------------------------------------------------------ subscriptions
    async def subscribe(self, channel: str, words: str, *, by: str) -> CommandReply:
        """``/meta-ai subscribe``: the channel's own subscription, read from ``words``; the
        admin channels hear of it."""
        from bot.services.subscriptions import subscribe_from_words

        service = self._subscriptions()
        reply = await asyncio.to_thread(subscribe_from_words, service, channel, words, by)
        if reply.ok:
            await self.digests.notify(f"{by}: {reply.message}")
        return reply

    async def unsubscribe(self, channel: str, *, by: str) -> CommandReply:
        """``/meta-ai unsubscribe``: the channel gets the default digest again."""
        removed = await asyncio.to_thread(self._subscriptions().unsubscribe, channel)
        if not removed:
            return CommandReply(
                ok=False,
                message="This channel has no subscription of its own: it gets the default "
                "digest. /meta-ai subscribe gives it one.",
            )
        message = "This channel's subscription is removed: it gets the default digest again."
        await self.digests.notify(f"{by} removed the subscription of {channel}.")
        return CommandReply(ok=True, message=message)

    async def describe_channel(self, channel: str) -> CommandReply:
        """``/meta-ai channel``: what this channel gets and when it next posts."""
        from bot.services.subscriptions import channel_sentence

        return await asyncio.to_thread(channel_sentence, self._subscriptions(), channel)
