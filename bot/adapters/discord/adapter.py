"""The Discord adapter: digests to channels (bot) or a webhook, and /meta-ai (bot).

Bot mode (``DISCORD_TOKEN``) posts through discord.py's REST client, so a
one-shot ``digest`` run needs no gateway; :meth:`DiscordAdapter.start` adds the
gateway connection that receives /meta-ai. Webhook mode (``DISCORD_WEBHOOK_URL``)
only posts, through :class:`discord.Webhook` on our own aiohttp session.

Every request goes to ``discord.http.Route.BASE``, which ``DISCORD_API_BASE``
overrides for the whole process (REST proxies, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp
import discord
from discord import app_commands
from discord.backoff import ExponentialBackoff
from discord.http import Route

from bot.adapters.base import (
    ChatAdapter,
    CommandHandler,
    DeliveryError,
    Payload,
    PermanentDeliveryError,
    TransientDeliveryError,
    parse_retry_after,
)
from bot.adapters.discord.commands import build_command
from bot.adapters.discord.errors import NETWORK_ERRORS, delivery_error
from bot.adapters.discord.outgoing import NO_MENTIONS, OutgoingMessage
from bot.adapters.discord.redact import install_log_filter, redact, register_secrets
from bot.adapters.discord.render import render_digest, render_notice
from bot.adapters.discord.settings import (
    GUILD_ENV,
    WEBHOOK_DESTINATION,
    DiscordSettings,
    load_settings,
)
from bot.digest.model import Digest, Notice

log = logging.getLogger("bot.adapters.discord")

#: Longest rate-limit wait discord.py may sleep through inside one bot call;
#: longer ones become a TransientDeliveryError the core schedules (30 is discord.py's minimum).
MAX_RATELIMIT_WAIT_SECONDS = 30.0
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
        return render_digest(digest)

    def render_notice(self, notice: Notice) -> list[Payload]:
        return render_notice(notice)

    async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
        """Post one rendered message; the message id on success.

        Raises PermanentDeliveryError (bad token, unknown channel or webhook,
        missing permission, malformed payload) or TransientDeliveryError (rate
        limit, Discord server error, network).
        """
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
        await self.register_commands(commands)
        client = await self._logged_in_client()
        self._gateway = asyncio.create_task(_run_gateway(client), name="discord-gateway")
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
        if self._previous_api_base is not None and self.settings.api_base == Route.BASE:
            Route.BASE = self._previous_api_base
            self._previous_api_base = None

    async def _send_to_channel(self, channel_id: str, message: OutgoingMessage, key: str) -> str:
        where = f"channel {channel_id}"
        client = await self._logged_in_client()
        channel = client.get_partial_messageable(int(channel_id))
        try:
            sent = await channel.send(**message.send_kwargs(), nonce=nonce_for(key))
        except (discord.HTTPException, discord.RateLimited, *NETWORK_ERRORS) as error:
            raise await delivery_error(error, where) from None
        return str(sent.id)

    async def _send_to_webhook(self, message: OutgoingMessage) -> str:
        target = self.settings.webhook
        if target is None:
            raise PermanentDeliveryError(
                "Discord destination 'webhook' but DISCORD_WEBHOOK_URL is not set"
            )
        if self._webhook_session is None or self._webhook_session.closed:
            self._webhook_session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), trace_configs=[_long_rate_limit_guard()]
            )
        webhook = discord.Webhook.partial(target.id, target.token, session=self._webhook_session)
        try:
            sent = await webhook.send(**message.send_kwargs(), wait=True)
        except (discord.HTTPException, discord.RateLimited, *NETWORK_ERRORS) as error:
            raise await delivery_error(error, "the webhook") from None
        return str(sent.id)

    async def _logged_in_client(self) -> discord.Client:
        """The bot's client, logged in over REST on first use (GET /users/@me)."""
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


async def _run_gateway(client: discord.Client) -> None:
    """Keep the gateway connected until the client is closed.

    discord.py reconnects by itself once connected, but when the very first
    connection fails (network down at start-up) its reconnect loop ends with an
    AttributeError instead of retrying (2.7.1). Connecting again here, with
    discord.py's own backoff, keeps /meta-ai coming back once the network does.
    Errors that a retry cannot fix (bad token, intents refused) end the task.
    """
    backoff = ExponentialBackoff()
    while not client.is_closed():
        try:
            await client.connect(reconnect=True)
        except (discord.LoginFailure, discord.PrivilegedIntentsRequired):
            raise
        except Exception as error:
            if client.is_closed():
                return
            delay = backoff.delay()
            log.warning(
                "Discord gateway connection failed (%s); retrying in %.1f s",
                redact(repr(error)),
                delay,
            )
            await asyncio.sleep(delay)


def _long_rate_limit_guard() -> aiohttp.TraceConfig:
    """A trace that stops discord.py's webhook client from sleeping through a long 429.

    For bot calls ``max_ratelimit_timeout`` does this; discord.py's webhook
    client has no such bound and would sleep for whatever Discord asks. A 429
    means nothing was posted, so giving up here and letting the core retry
    later is safe.
    """
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_refuse_long_rate_limit)
    return trace


async def _refuse_long_rate_limit(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    headers = params.response.headers
    if params.response.status != 429 or "Via" not in headers:
        return  # without Via discord.py raises at once; errors.py reads the wait
    wait = parse_retry_after(headers.get("Retry-After")) or parse_retry_after(
        headers.get("X-RateLimit-Reset-After")
    )
    if wait is not None and wait > MAX_RATELIMIT_WAIT_SECONDS:
        raise discord.RateLimited(wait)


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
