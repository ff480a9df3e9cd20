"""Discord failures as the core's delivery errors, with a message that says what to fix.

The core keeps a message pending on :class:`PermanentDeliveryError` and shows
the message in ``meta-ai-digest status``, so each one names the channel (or
webhook) and the fix. Nothing here ever includes a token: every message goes
through :func:`redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import discord

from bot.adapters.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    parse_retry_after,
)
from bot.adapters.discord.redact import redact
from bot.adapters.discord.settings import TOKEN_ENV, WEBHOOK_ENV

# Discord JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_CHANNEL = 10003
UNKNOWN_WEBHOOK = 10015
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035

NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)

BOT_PERMISSIONS_HINT = "View Channel, Send Messages and Embed Links"

#: Longest rate-limit wait discord.py may sleep through inside one call; longer ones
#: become a TransientDeliveryError the core schedules (30 is discord.py's minimum).
MAX_RATELIMIT_WAIT_SECONDS = 30.0


def invalid_token_error() -> PermanentDeliveryError:
    """The bot token was refused (401): only a new token helps."""
    return PermanentDeliveryError(
        f"Discord rejected {TOKEN_ENV} (401 Unauthorized): reset the token in the Developer "
        f"Portal (your application → Bot → Reset Token) and set the new one in {TOKEN_ENV}"
    )


async def delivery_error(error: BaseException, where: str) -> DeliveryError:
    """The delivery error for a failed call to ``where`` ("channel 123" or "the webhook")."""
    if isinstance(error, discord.LoginFailure):
        return invalid_token_error()
    if isinstance(error, discord.RateLimited):
        return TransientDeliveryError(
            f"Discord rate limit on {where}: retry in {error.retry_after:.1f} s",
            retry_after=error.retry_after,
        )
    if isinstance(error, discord.HTTPException):
        return await _http_error(error, where)
    if isinstance(error, NETWORK_ERRORS):
        detail = redact(str(error)) or type(error).__name__
        return TransientDeliveryError(f"could not reach Discord for {where}: {detail}")
    return PermanentDeliveryError(redact(f"sending to {where} failed: {error!r}"))


async def _http_error(error: discord.HTTPException, where: str) -> DeliveryError:
    status, code = error.status, error.code
    webhook = where == "the webhook"
    summary = f"{status} {_short(error.text) or _reason(error)}"
    if status == 429:
        retry_after = await retry_after_of(error)
        cloudflare = "" if error.response.headers.get("Via") else _CLOUDFLARE_HINT
        wait = f"retry in {retry_after:.1f} s" if retry_after is not None else "retry later"
        return TransientDeliveryError(
            f"Discord rate limit on {where} (429): {wait}{cloudflare}", retry_after=retry_after
        )
    if status >= 500:
        return TransientDeliveryError(f"Discord server error for {where}: {summary}")
    if (status == 401 and webhook) or code == INVALID_WEBHOOK_TOKEN:
        return PermanentDeliveryError(
            f"Discord rejected the webhook token ({summary}): create a new webhook "
            f"(channel settings → Integrations → Webhooks) and set its URL in {WEBHOOK_ENV}"
        )
    if status == 401:
        return invalid_token_error()
    if status == 404 and (webhook or code == UNKNOWN_WEBHOOK):
        return PermanentDeliveryError(
            f"the Discord webhook no longer exists ({summary}): create a new one and set its "
            f"URL in {WEBHOOK_ENV}"
        )
    if status == 404:
        return PermanentDeliveryError(
            f"Discord {where} does not exist or the bot cannot see it ({summary}): check the "
            f"id in DISCORD_CHANNEL_ID or [adapters.discord] channels (Developer Mode → "
            f"right-click the channel → Copy Channel ID)"
        )
    if status == 403:
        return PermanentDeliveryError(_forbidden_message(where, code, summary))
    return PermanentDeliveryError(f"Discord refused the message for {where}: {summary}")


def _forbidden_message(where: str, code: int, summary: str) -> str:
    if code == MISSING_ACCESS:
        return (
            f"the bot has no access to Discord {where} ({summary}): invite the bot to that "
            f"server with the invite URL in docs/discord.md and let it view the channel"
        )
    return (
        f"the bot lacks permission to post in Discord {where} ({summary}): grant it "
        f"{BOT_PERMISSIONS_HINT} in that channel (channel settings → Permissions)"
    )


_CLOUDFLARE_HINT = (
    " (no Via header: Cloudflare, not Discord, refused the request; this happens after "
    "many invalid requests from this address)"
)


async def retry_after_of(error: discord.HTTPException) -> float | None:
    """Seconds to wait after a 429: the JSON ``retry_after``, else the Retry-After header."""
    body: object = None
    if isinstance(error.response, aiohttp.ClientResponse):
        # The body was read (and cached) by discord.py before it raised.
        with contextlib.suppress(Exception):
            body = json.loads(await error.response.text())
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and value >= 0:
            return float(value)
    return parse_retry_after(error.response.headers.get("Retry-After"))


def _short(text: str, limit: int = 200) -> str:
    """Discord's error text, on one line and short (a Cloudflare page is long HTML)."""
    if text.lstrip().startswith("<"):
        return ""
    line = " ".join(redact(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _reason(error: discord.HTTPException) -> str:
    return str(getattr(error.response, "reason", "") or "")


def long_rate_limit_guard() -> aiohttp.TraceConfig:
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
        return  # without Via discord.py raises at once; retry_after_of reads the wait
    wait = parse_retry_after(headers.get("Retry-After")) or parse_retry_after(
        headers.get("X-RateLimit-Reset-After")
    )
    if wait is not None and wait > MAX_RATELIMIT_WAIT_SECONDS:
        raise discord.RateLimited(wait)
