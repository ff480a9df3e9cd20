"""The Discord adapter: digests to channels (bot) or a webhook, and /meta-ai (bot).

Bot mode (``DISCORD_TOKEN``) posts through discord.py's REST client, so a
one-shot ``digest`` run needs no gateway; :meth:`DiscordAdapter.start` adds the
gateway connection that receives /meta-ai. Webhook mode (``DISCORD_WEBHOOK_URL``)
only posts, through :class:`discord.Webhook` on our own aiohttp session.

Every request goes to ``discord.http.Route.BASE``, which ``DISCORD_API_BASE``
overrides for the whole process (REST proxies, tests).

This module imports discord.py (and the modules built on it) only inside the
methods that use it: the entry point loads this class in every run, and a run
without Discord configured must not pay for importing discord.py (measured:
0.13 s with the aiohttp it pulls in, 0.03 s when aiohttp is already loaded).
:meth:`DiscordAdapter.from_environment` returns None before anything is imported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from bot.adapters.base import (
    ChatAdapter,
    CommandHandler,
    DeliveryError,
    Payload,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from bot.adapters.discord.redact import install_log_filter, redact, register_secrets
from bot.adapters.discord.settings import (
    GUILD_ENV,
    WEBHOOK_DESTINATION,
    DiscordSettings,
    load_settings,
    parse_options,
)
from bot.digest.model import Digest, Notice, StoryUpdate

if TYPE_CHECKING:
    import aiohttp
    import discord
    from discord import app_commands

    from bot.adapters.discord.outgoing import OutgoingMessage

log = logging.getLogger("bot.adapters.discord")

#: Discord accepts nonces of up to 25 characters.
NONCE_LENGTH = 25


def nonce_for(key: str) -> str:
    """A Discord message nonce derived from the outbox key: equal keys, equal nonces.

    Sent with ``enforce_nonce``, it makes Discord return the already-created
    message instead of posting a duplicate when a send is retried after a crash
    (Discord remembers nonces for a few minutes).
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:NONCE_LENGTH]


class DiscordAdapter(ChatAdapter):
    """Posts digests to Discord channels or a webhook and serves /meta-ai in bot mode."""

    name: ClassVar[str] = "discord"
    supports_commands: ClassVar[bool] = True

    def __init__(self, settings: DiscordSettings) -> None:
        self.settings = settings
        self._client: discord.Client | None = None
        self._tree: app_commands.CommandTree[discord.Client] | None = None
        self._login_lock = asyncio.Lock()
        self._webhook_session: aiohttp.ClientSession | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._previous_api_base: str | None = None
        register_secrets(*settings.secrets())
        install_log_filter()
        if settings.api_base:
            from discord.http import Route

            # Process-wide: discord.py reads this class attribute for every route.
            self._previous_api_base = Route.BASE
            Route.BASE = settings.api_base

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str], options: Mapping[str, Any]
    ) -> DiscordAdapter | None:
        """The adapter when DISCORD_TOKEN or DISCORD_WEBHOOK_URL is set, else None."""
        settings = load_settings(env, options)
        return cls(settings) if settings is not None else None

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        parse_options(options)

    @property
    def client(self) -> discord.Client | None:
        """The logged-in discord.py client (bot mode, after the first login), else None."""
        return self._client

    def destinations(self) -> list[str]:
        """Channel ids in config order, then "webhook" when DISCORD_WEBHOOK_URL is set."""
        found = list(self.settings.channels)
        if self.settings.webhook is not None:
            found.append(WEBHOOK_DESTINATION)
        return found

    def admin_destinations(self) -> list[str]:
        return [self.settings.admin_channel] if self.settings.admin_channel else []

    def render(self, digest: Digest) -> list[Payload]:
        from bot.adapters.discord.render import render_digest

        return render_digest(digest)

    def render_notice(self, notice: Notice) -> list[Payload]:
        from bot.adapters.discord.render import render_notice

        return render_notice(notice)

    def render_update(self, update: StoryUpdate, thread: str | None) -> list[Payload]:
        """A reply to the story's post (a message reference) in a channel; the webhook,
        which cannot reply, gets the same text without one (``send`` drops it there)."""
        payloads = super().render_update(update, thread)  # the update as a notice
        if thread is None:
            return payloads
        return [{**payload, "reply_to": thread} for payload in payloads]

    async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
        """Post one rendered message; the message id on success.

        Raises PermanentDeliveryError (bad token, unknown channel or webhook,
        missing permission, malformed payload) or TransientDeliveryError (rate
        limit, Discord server error, network).
        """
        from bot.adapters.discord.outgoing import OutgoingMessage

        try:
            message = OutgoingMessage.parse(payload)
        except ValueError as error:
            raise PermanentDeliveryError(
                f"outbox message for Discord {destination}: {error}"
            ) from None
        if destination == WEBHOOK_DESTINATION:
            return await self._send_to_webhook(message)
        if not destination.isdigit():
            raise PermanentDeliveryError(
                f"unknown Discord destination {destination!r}: expected a channel id or "
                f"{WEBHOOK_DESTINATION!r}"
            )
        return await self._send_to_channel(destination, message, key)

    async def register_commands(self, commands: CommandHandler) -> None:
        """Log in and register /meta-ai with Discord (no gateway).

        Guild-scoped when DISCORD_GUILD_ID is set (the command appears at once),
        global otherwise (Discord may take a while to show it everywhere).
        """
        import discord
        from discord import app_commands

        from bot.adapters.discord.commands import build_command
        from bot.adapters.discord.errors import NETWORK_ERRORS

        client = await self._logged_in_client()
        if self._tree is None:
            self._tree = app_commands.CommandTree(client)
        guild = discord.Object(self.settings.guild_id) if self.settings.guild_id else None
        command = build_command(commands, self.settings.defer_after_seconds)
        self._tree.add_command(command, guild=guild, override=True)
        try:
            synced = await self._tree.sync(guild=guild)
        except (discord.HTTPException, *NETWORK_ERRORS) as error:
            raise await self._sync_error(error) from None
        scope = f"server {self.settings.guild_id}" if guild else "all servers (global)"
        log.info("registered %s in %s", ", ".join(f"/{c.name}" for c in synced), scope)

    async def start(self, commands: CommandHandler) -> None:
        """Bot mode: register /meta-ai and connect to the gateway in the background."""
        if not self.settings.bot_mode:
            log.info("Discord webhook mode: posting digests only, /meta-ai is not served")
            return
        if self._gateway is not None:
            return
        from bot.adapters.discord.gateway import run_gateway

        await self.register_commands(commands)
        client = await self._logged_in_client()
        self._gateway = asyncio.create_task(run_gateway(client), name="discord-gateway")
        self._gateway.add_done_callback(_report_gateway_end)

    async def close(self) -> None:
        """Disconnect the gateway, close the HTTP sessions, restore the API base URL."""
        client, self._client, self._tree = self._client, None, None
        if client is not None:
            await client.close()
        if self._gateway is not None:
            gateway, self._gateway = self._gateway, None
            await _stop_task(gateway)
        if self._webhook_session is not None:
            session, self._webhook_session = self._webhook_session, None
            await session.close()
        if self._previous_api_base is not None:
            from discord.http import Route

            if self.settings.api_base == Route.BASE:
                Route.BASE = self._previous_api_base
                self._previous_api_base = None

    async def _send_to_channel(self, channel_id: str, message: OutgoingMessage, key: str) -> str:
        import discord

        from bot.adapters.discord.errors import NETWORK_ERRORS, delivery_error

        where = f"channel {channel_id}"
        client = await self._logged_in_client()
        channel = client.get_partial_messageable(int(channel_id))
        kwargs = message.send_kwargs()
        if message.reply_to:
            kwargs["reference"] = discord.MessageReference(
                message_id=int(message.reply_to),
                channel_id=int(channel_id),
                fail_if_not_exists=False,  # the post was deleted: the update stands alone
            )
        try:
            sent = await channel.send(**kwargs, nonce=nonce_for(key))
        except (discord.HTTPException, discord.RateLimited, *NETWORK_ERRORS) as error:
            raise await delivery_error(error, where) from None
        return str(sent.id)

    async def _send_to_webhook(self, message: OutgoingMessage) -> str:
        import aiohttp
        import discord

        from bot.adapters.discord.errors import (
            NETWORK_ERRORS,
            delivery_error,
            long_rate_limit_guard,
        )

        target = self.settings.webhook
        if target is None:
            raise PermanentDeliveryError(
                "Discord destination 'webhook' but DISCORD_WEBHOOK_URL is not set"
            )
        if self._webhook_session is None or self._webhook_session.closed:
            self._webhook_session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), trace_configs=[long_rate_limit_guard()]
            )
        webhook = discord.Webhook.partial(target.id, target.token, session=self._webhook_session)
        try:
            sent = await webhook.send(**message.send_kwargs(), wait=True)
        except (discord.HTTPException, discord.RateLimited, *NETWORK_ERRORS) as error:
            raise await delivery_error(error, "the webhook") from None
        return str(sent.id)

    async def _logged_in_client(self) -> discord.Client:
        """The bot's client, logged in over REST on first use (GET /users/@me)."""
        import discord

        from bot.adapters.discord.errors import (
            MAX_RATELIMIT_WAIT_SECONDS,
            NETWORK_ERRORS,
            delivery_error,
        )
        from bot.adapters.discord.outgoing import NO_MENTIONS

        async with self._login_lock:
            if self._client is not None:
                return self._client
            token = self.settings.token
            if token is None:
                raise PermanentDeliveryError("Discord channels need bot mode: set DISCORD_TOKEN")
            # The bot never joins voice: skip discord.py's warnings about voice libraries.
            discord.VoiceClient.warn_nacl = False
            discord.VoiceClient.warn_dave = False
            client = discord.Client(
                intents=discord.Intents(guilds=True),
                allowed_mentions=NO_MENTIONS,
                max_ratelimit_timeout=MAX_RATELIMIT_WAIT_SECONDS,
            )
            try:
                await client.login(token)
            except (discord.DiscordException, *NETWORK_ERRORS) as error:
                await client.close()
                raise await delivery_error(error, "login") from None
            self._client = client
            return client

    async def _sync_error(self, error: BaseException) -> DeliveryError:
        """Why /meta-ai could not be registered, and what to change."""
        import discord

        from bot.adapters.discord.errors import delivery_error

        if isinstance(error, discord.Forbidden) and self.settings.guild_id:
            return PermanentDeliveryError(
                f"could not register /meta-ai in Discord server {self.settings.guild_id} "
                f"({error.status} {redact(error.text)}): invite the bot to that server with the "
                f"applications.commands scope (invite URL in docs/discord.md) or fix {GUILD_ENV}"
            )
        base = await delivery_error(error, "command registration")
        if isinstance(base, TransientDeliveryError):
            return TransientDeliveryError(f"could not register /meta-ai: {base}", base.retry_after)
        return PermanentDeliveryError(f"could not register /meta-ai: {base}")


async def _stop_task(task: asyncio.Task[None]) -> None:
    """End the gateway task after its client closed.

    With the websocket closed the task is at most sleeping in a reconnect
    backoff (discord.py's or ours), so cancelling it at once loses nothing and
    keeps shutdown fast.
    """
    task.cancel()
    await asyncio.wait({task})  # its outcome, if an error, was logged by _report_gateway_end


def _report_gateway_end(task: asyncio.Task[None]) -> None:
    """Log why the gateway connection stopped, since nothing awaits it until close()."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Discord gateway connection stopped: %s", redact(repr(error)))
