"""Sending one rendered message to Slack, and telling the outbox what went wrong.

slack_sdk's own retry handlers absorb the short hiccups (a 429 with a short
Retry-After, a 500/503, a dropped connection). Whatever is left becomes a
:class:`TransientDeliveryError` (the outbox retries later) or a
:class:`PermanentDeliveryError` whose message names the channel and the fix.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.base import (
    Payload,
    PermanentDeliveryError,
    TransientDeliveryError,
    parse_retry_after,
)
from bot.adapters.slack.redaction import redact
from bot.adapters.slack.settings import WEBHOOK_HOST, SlackOptions

log = logging.getLogger(__name__)

_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page "
    "into SLACK_BOT_TOKEN and restart"
)
# Web API error codes that retrying cannot fix, with what the admin should do.
_PERMANENT_FIXES: Mapping[str, str] = {
    "not_in_channel": "the bot is not a member of channel {channel}; invite it there "
    "(type /invite @<bot name> in the channel)",
    "channel_not_found": "channel {channel} does not exist or the bot cannot see it; check "
    "the ID in SLACK_CHANNEL_ID or [adapters.slack] channels, and invite the bot to a "
    "private channel",
    "is_archived": "channel {channel} is archived; unarchive it or configure another channel",
    "invalid_auth": "Slack rejected SLACK_BOT_TOKEN; " + _TOKEN_FIX,
    "not_authed": "no token reached Slack; " + _TOKEN_FIX,
    "token_revoked": "SLACK_BOT_TOKEN was revoked; " + _TOKEN_FIX,
    "token_expired": "SLACK_BOT_TOKEN expired; " + _TOKEN_FIX,
    "account_inactive": "the bot user or its workspace is deactivated; reinstall the app",
    "missing_scope": "the bot token lacks the scope {needed}; add it under OAuth & "
    "Permissions, reinstall the app and restart",
    "restricted_action": "the workspace does not let the bot post in {channel}; ask an "
    "admin to allow it",
    "ekm_access_denied": "the workspace's key management denies access; ask an admin",
}
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_WEBHOOK_FIX = (
    "the incoming webhook was revoked, or its channel deleted or archived; create a new "
    "incoming webhook for the app and put its URL in SLACK_WEBHOOK_URL"
)
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class ProportionalJitter(Jitter):
    """Jitter of ±50 % of the delay, so small test backoffs stay small (the SDK adds up to 1 s)."""

    def recalculate(self, duration: float) -> float:
        return duration * random.uniform(0.5, 1.5)


class BoundedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 inside the send only when Slack asks for a short wait.

    A long Retry-After goes back to the outbox as ``retry_after`` instead of
    holding the whole posting run (and the channel's other messages) hostage.
    """

    def __init__(self, max_retry_count: int, max_wait_seconds: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return wait is None or wait <= self.max_wait_seconds


def retry_handlers(options: SlackOptions) -> list[AsyncRetryHandler]:
    """The SDK's retry handlers, tuned by ``[adapters.slack]``."""
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=options.retry_backoff_seconds, jitter=ProportionalJitter()
    )
    return [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=options.max_retries, interval_calculator=backoff
        ),
        BoundedRateLimitRetryHandler(options.max_retries, options.max_retry_after_seconds),
        AsyncServerErrorRetryHandler(
            max_retry_count=options.max_retries, interval_calculator=backoff
        ),
    ]


def retry_after_seconds(headers: Mapping[str, Any]) -> float | None:
    """Retry-After in seconds from any header mapping (lists or strings), None if absent."""
    for name, value in headers.items():
        if name.lower() != "retry-after":
            continue
        raw = value[0] if isinstance(value, list) and value else value
        return parse_retry_after(str(raw))
    return None


class ChannelPacer:
    """At most one message per ``interval`` seconds per destination, in call order.

    Slack allows about one message per second per channel and answers bursts
    with 429; pacing up front is cheaper than being rate limited.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_sent: dict[str, float] = {}

    @asynccontextmanager
    async def turn(self, destination: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(destination, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            last = self._last_sent.get(destination)
            if last is not None:
                wait = last + self.interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last_sent[destination] = loop.time()


async def post_message(client: AsyncWebClient, channel: str, payload: Payload) -> str | None:
    """``chat.postMessage``; returns the message ``ts``."""
    try:
        response = await client.chat_postMessage(channel=channel, **payload)
    except SlackApiError as error:
        raise _web_api_error(error, channel) from None
    except _NETWORK_ERRORS as error:
        raise _network_error(error, f"posting to {channel}") from None
    ts = response.get("ts")
    return str(ts) if ts is not None else None


def api_error_code(error: SlackApiError) -> str:
    """Slack's error code ("invalid_auth"), or the HTTP status when the body has none."""
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error", "") or f"HTTP {error.response.status_code}")


def is_transient_api_error(error: SlackApiError) -> bool:
    """True for rate limits and Slack-side trouble, where waiting can help."""
    status = int(error.response.status_code or 0)
    return status == 429 or status >= 500 or api_error_code(error) in _TRANSIENT_ERRORS


def _web_api_error(error: SlackApiError, channel: str) -> Exception:
    response = error.response
    data = response.data if isinstance(response.data, dict) else {}
    code = api_error_code(error)
    # Slack's error text is its own words, which may quote the token: masked like the rest.
    prefix = redact(f"Slack chat.postMessage to {channel} failed ({code})")
    if response.status_code == 429 or code == "ratelimited":
        wait = retry_after_seconds(dict(response.headers or {}))
        return TransientDeliveryError(f"{prefix}: rate limited", retry_after=wait)
    if is_transient_api_error(error):
        return TransientDeliveryError(f"{prefix}: Slack is having trouble; retrying later")
    needed = str(data.get("needed", "") or "chat:write")
    fix = _PERMANENT_FIXES.get(code)
    if fix is None:
        fix = "Slack refused the message; if it keeps happening, report it with this error code"
    return PermanentDeliveryError(redact(f"{prefix}: {fix.format(channel=channel, needed=needed)}"))


def _network_error(error: BaseException, doing: str) -> TransientDeliveryError:
    if is_unanswered(error):
        return TransientDeliveryError(
            f"Slack did not answer in time while {doing}: it may have posted the message",
            maybe_delivered=True,
        )
    detail = redact(str(error)) or type(error).__name__
    return TransientDeliveryError(
        f"Slack unreachable while {doing}: {type(error).__name__}: {detail}"
    )


def is_unanswered(error: BaseException) -> bool:
    """A request that timed out once connected: Slack may have acted on it.

    slack_sdk bounds a whole request with ``request_timeout_seconds`` (aiohttp raises a
    plain TimeoutError then, which the SDK does not retry); a connection that was never
    made (``ConnectionTimeoutError``) posted nothing.
    """
    return isinstance(error, TimeoutError) and not isinstance(error, aiohttp.ConnectionTimeoutError)


def send_bound(options: SlackOptions) -> float:
    """The longest one send can take: pacing, every attempt's request timeout, every wait.

    Derived from the same options the clients get, so the outbox's lease and its wait
    agree with the request timeout (ChatAdapter.send_timeout_seconds).
    """
    retries = options.max_retries
    longest_backoff = options.retry_backoff_seconds * 2.0**retries * 1.5  # ProportionalJitter
    waits = retries * max(options.max_retry_after_seconds, longest_backoff)
    attempts = (retries + 1) * options.request_timeout_seconds
    return options.min_seconds_between_messages + attempts + waits


async def post_webhook(client: AsyncWebhookClient, payload: Payload) -> None:
    """One message through the incoming webhook (which returns no message id)."""
    try:
        response = await client.send_dict(payload)
    except _NETWORK_ERRORS as error:
        raise _network_error(error, "posting to the incoming webhook") from None
    status = response.status_code
    if status == 200:
        return
    host = urlsplit(client.url).hostname or "the webhook's host"
    who = "Slack" if host == WEBHOOK_HOST else host
    prefix = f"incoming webhook at {host} answered {status} {answer_text(status, response.body)}"
    if status == 429:
        wait = retry_after_seconds(dict(response.headers or {}))
        raise TransientDeliveryError(f"{prefix}: rate limited", retry_after=wait)
    if status in _TRANSIENT_STATUSES:
        raise TransientDeliveryError(f"{prefix}: {who} is having trouble; retried later")
    if status in {401, 403, 404, 410}:
        raise PermanentDeliveryError(f"{prefix}: {_WEBHOOK_FIX}")
    raise PermanentDeliveryError(
        f"{prefix}: {who} refused the message; check SLACK_WEBHOOK_URL (the Webhook URL "
        "from the app's Incoming Webhooks page)"
    )


# Server answers that waiting can fix; any other status (501 Not Implemented...) cannot.
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


def answer_text(status: int, body: object) -> str:
    """A server's answer in a few words for one log line: Slack's short error code
    (``no_service``), else the status's reason phrase; never a page of HTML."""
    text = redact(" ".join(str(body or "").split()))
    if text and len(text) <= 60 and "<" not in text:
        return f"({text})"
    try:
        return f"({HTTPStatus(status).phrase})"
    except ValueError:
        return "(no reason given)"
