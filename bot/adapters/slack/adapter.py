"""The Slack adapter: digests to channels (or a webhook) and ``/meta-ai`` on slack-bolt.

Three connection modes, chosen by which secrets the environment holds (see
:mod:`bot.adapters.slack.settings`): Socket Mode (no public URL), HTTP mode
(an aiohttp server on ``/slack/events`` that checks request signatures before
handing a request to Bolt, :mod:`bot.adapters.slack.endpoint`) and an incoming
webhook (digests only).

This module imports slack-bolt, slack_sdk and aiohttp's web server (and the
modules built on them) only inside the methods that use them: the entry point
loads this class in every run, and a run without Slack configured must not pay
for importing them (measured: 0.15 s, 0.05 s when aiohttp is already loaded).
:meth:`SlackAdapter.from_environment` returns None before anything is imported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from bot.adapters.base import (
    ChatAdapter,
    CommandHandler,
    Payload,
    PermanentDeliveryError,
)
from bot.adapters.slack.redaction import library_logger, redact, register_secret
from bot.adapters.slack.settings import (
    WEBHOOK_DESTINATION,
    ConnectionMode,
    SlackSettings,
    load_settings,
    parse_options,
)
from bot.digest.model import Digest, Notice, StoryUpdate

if TYPE_CHECKING:
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    from bot.adapters.slack.commands import InFlight
    from bot.adapters.slack.delivery import ChannelPacer

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
_APP_TOKEN_FIX = (
    "create an app-level token with the connections:write scope under Basic Information > "
    "App-Level Tokens, put it in SLACK_APP_TOKEN, and enable Socket Mode for the app"
)


class SlackAdapter(ChatAdapter):
    """Slack via slack-bolt's AsyncApp and slack_sdk's async clients."""

    name: ClassVar[str] = "slack"
    supports_commands: ClassVar[bool] = True

    def __init__(self, settings: SlackSettings) -> None:
        # Nothing of slack_sdk or slack_bolt is imported here: `status` and `channels list`
        # build the adapter to show its channels, and must not pay for the SDK. The clients
        # are built on first use (the properties below).
        self.settings = settings
        for secret in (
            settings.bot_token,
            settings.app_token,
            settings.signing_secret,
            settings.webhook_url,
        ):
            register_secret(secret)
        self._logger = library_logger()
        self._app: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket_handler: AsyncSocketModeHandler | None = None
        self._background: set[asyncio.Task[Any]] = set()
        #: HTTP mode: the port actually listened on (useful with http_port = 0).
        self.http_port: int | None = None

    @cached_property
    def _pacer(self) -> ChannelPacer:
        from bot.adapters.slack.delivery import ChannelPacer

        return ChannelPacer(self.settings.options.min_seconds_between_messages)

    @cached_property
    def _in_flight(self) -> InFlight:
        from bot.adapters.slack.commands import InFlight

        return InFlight()

    @cached_property
    def _web_client(self) -> AsyncWebClient | None:
        """The Web API client of the bot modes (None for a webhook)."""
        if not self.settings.bot_token:
            return None
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.adapters.slack.delivery import retry_handlers

        options = self.settings.options
        return AsyncWebClient(
            token=self.settings.bot_token,
            base_url=self.settings.api_url or AsyncWebClient.BASE_URL,
            timeout=options.request_timeout_seconds,
            retry_handlers=retry_handlers(options),
            logger=self._logger,
        )

    @cached_property
    def _webhook(self) -> AsyncWebhookClient | None:
        """The incoming webhook's client (None in the bot modes)."""
        if not self.settings.webhook_url:
            return None
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        from bot.adapters.slack.delivery import retry_handlers

        options = self.settings.options
        return AsyncWebhookClient(
            url=self.settings.webhook_url,
            timeout=options.request_timeout_seconds,
            retry_handlers=retry_handlers(options),
            logger=self._logger,
        )

    # --- construction ----------------------------------------------------------

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str], options: Mapping[str, Any]
    ) -> SlackAdapter | None:
        settings = load_settings(env, options)
        return cls(settings) if settings is not None else None

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        parse_options(options)

    @property
    def mode(self) -> ConnectionMode:
        return self.settings.mode

    def destinations(self) -> list[str]:
        return list(self.settings.channels)

    @property
    def send_timeout_seconds(self) -> float:
        """From ``request_timeout_seconds``, retries and waits: the outbox's lease agrees."""
        from bot.adapters.slack.delivery import send_bound

        return send_bound(self.settings.options)

    def admin_destinations(self) -> list[str]:
        admin = self.settings.options.admin_channel
        if admin is None or self.mode is ConnectionMode.WEBHOOK:
            return []
        return [admin]

    # --- rendering and delivery ------------------------------------------------

    def render(self, digest: Digest) -> list[Payload]:
        from bot.adapters.slack.render import render_digest

        return render_digest(digest)

    def render_notice(self, notice: Notice) -> list[Payload]:
        from bot.adapters.slack.render import render_notice

        return render_notice(notice)

    def render_update(self, update: StoryUpdate, thread: str | None) -> list[Payload]:
        """A reply in the thread of the story's post (``thread_ts``); a webhook, which
        cannot thread, gets the update as a short message of its own."""
        payloads = super().render_update(update, thread)  # the update as a notice
        if thread is None or self.mode is ConnectionMode.WEBHOOK:
            return payloads
        return [{**payload, "thread_ts": thread} for payload in payloads]

    async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
        """Post one message; ``key`` is unused (Slack has no idempotency key)."""
        from bot.adapters.slack.delivery import post_message, post_webhook

        async with self._pacer.turn(destination):
            if self._webhook is not None:
                if destination != WEBHOOK_DESTINATION:
                    raise PermanentDeliveryError(
                        f"Slack: {destination!r} is not a destination of the incoming webhook "
                        f"(only {WEBHOOK_DESTINATION!r}); the bot now posts through a webhook"
                    )
                await post_webhook(self._webhook, payload)
                return None
            assert self._web_client is not None  # bot modes always have one
            return await post_message(self._web_client, destination, payload)

    # --- /meta-ai -------------------------------------------------------------

    async def start(self, commands: CommandHandler) -> None:
        """Serve ``/meta-ai``: Socket Mode or HTTP mode; nothing for a webhook.

        Raises :class:`PermanentDeliveryError` when Slack rejects a token, so a
        misconfigured bot fails at startup rather than at the first command.
        """
        from bot.adapters.slack.commands import SlashCommands

        if self.mode is ConnectionMode.WEBHOOK:
            return
        if self._app is not None:
            raise RuntimeError("the Slack adapter is already started")
        await self._check_bot_token()
        app = self._build_app()
        SlashCommands(
            commands,
            timeout=self.settings.options.command_timeout_seconds,
            in_flight=self._in_flight,
            admin_users=frozenset(self.settings.options.admin_users),
        ).register(app)
        if self.mode is ConnectionMode.SOCKET:
            await self._start_socket_mode(app)
        else:
            await self._start_http(app)
        self._app = app

    def _build_app(self) -> AsyncApp:
        from slack_bolt.async_app import AsyncApp

        return AsyncApp(
            name="meta-ai-digest",
            client=self._web_client,
            # Empty in Socket Mode, where Bolt skips signature checks (the
            # WebSocket is authenticated by the app-level token instead).
            signing_secret=self.settings.signing_secret or "",
            logger=self._logger,
            request_verification_enabled=True,
        )

    async def _check_bot_token(self) -> None:
        from slack_sdk.errors import SlackApiError

        from bot.adapters.slack.delivery import api_error_code, is_transient_api_error

        assert self._web_client is not None
        try:
            identity = await self._web_client.auth_test()
        except SlackApiError as error:
            if not is_transient_api_error(error):
                raise PermanentDeliveryError(
                    f"Slack rejected SLACK_BOT_TOKEN at startup ({api_error_code(error)}); copy "
                    "the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page "
                    "and restart"
                ) from None
            log.warning("Slack: could not verify the bot token now (%s)", api_error_code(error))
            return
        except Exception as error:  # network trouble: aiohttp errors, timeouts
            log.warning("Slack: could not verify the bot token now (%s)", _describe(error))
            return
        log.info("Slack: connected as %s in team %s", identity.get("user"), identity.get("team"))

    async def _start_socket_mode(self, app: AsyncApp) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
        from slack_sdk.errors import SlackApiError

        from bot.adapters.slack.delivery import api_error_code, is_transient_api_error

        handler = AsyncSocketModeHandler(
            app, app_token=self.settings.app_token, logger=self._logger
        )
        self._socket_handler = handler
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as error:
            if not is_transient_api_error(error):
                await self.close()
                raise PermanentDeliveryError(
                    f"Slack rejected SLACK_APP_TOKEN ({api_error_code(error)}); {_APP_TOKEN_FIX}"
                ) from None
            self._connect_in_background(handler, api_error_code(error))
            return
        except Exception as error:  # network trouble
            self._connect_in_background(handler, _describe(error))
            return
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("Slack: serving /meta-ai over Socket Mode")

    def _connect_in_background(self, handler: AsyncSocketModeHandler, reason: str) -> None:
        """Slack unreachable at startup: the SDK keeps trying; startup goes on."""
        log.warning(
            "Slack Socket Mode: cannot connect yet (%s); retrying in the background", reason
        )
        connecting = handler.connect_async()  # type: ignore[no-untyped-call]
        task = asyncio.create_task(connecting, name="slack-socket-connect")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _start_http(self, app: AsyncApp) -> None:
        from aiohttp import web

        from bot.adapters.slack.endpoint import events_app

        host, port = self.settings.http_host, self.settings.http_port
        # Not Bolt's app.web_app(): it parses the body before checking the signature.
        assert self.settings.signing_secret, "HTTP mode has a signing secret"
        web_app = events_app(app, self.settings.signing_secret, EVENTS_PATH)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise RuntimeError(
                f"Slack HTTP mode cannot listen on {host}:{port} ({error.strerror or error}); "
                "free the port or set SLACK_HTTP_PORT / [adapters.slack] http_port"
            ) from None
        self._runner = runner
        self.http_port = _listening_port(runner, port)
        log.info("Slack: serving /meta-ai at http://%s:%s%s", host, self.http_port, EVENTS_PATH)

    async def close(self) -> None:
        """Stop serving and cancel unfinished answers; safe to call more than once."""
        if "_in_flight" in self.__dict__:  # built when serving started
            await self._in_flight.cancel_all()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._socket_handler is not None:
            handler, self._socket_handler = self._socket_handler, None
            await handler.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._app = None
        # Let cancelled library tasks (socket receivers, monitors) finish unwinding.
        await asyncio.sleep(0)


def _describe(error: BaseException) -> str:
    detail = redact(str(error))
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _listening_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured
