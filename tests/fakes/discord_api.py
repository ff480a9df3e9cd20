"""A fake Discord REST API on 127.0.0.1 for driving the real discord.py in tests.

It answers the routes the Discord adapter uses the way Discord does (shapes
from https://discord.com/developers/docs), including the parts discord.py is
picky about: JSON bodies with exactly ``Content-Type: application/json`` (its
``json_or_text`` compares the header verbatim), ``Via`` on genuine Discord
responses (a 429 without it is treated as a Cloudflare ban), ``retry_after``
in 429 bodies, and the ``nonce``/``enforce_nonce`` deduplication of channel
messages. It also enforces Discord's message limits with 400 "Invalid Form
Body", so a test that posts through it proves the payload would be accepted.

Every request is recorded; tests can script one-off responses (429, 403, 5xx)
for a route and wait for a request to arrive.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import start_app

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL_FLAG = 1 << 6
# What Google's front end adds to every genuine Discord API response.
VIA = "1.1 google"

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GfAkE0.fake-bot-token-for-tests-only_0123456789"
APPLICATION_ID = 111111111111111111
BOT_USER_ID = 111111111111111111
GUILD_ID = 222222222222222222
CHANNEL_ID = 333333333333333333
WEBHOOK_ID = 444444444444444444
WEBHOOK_TOKEN = "fAkEwEbHoOkToKeN-0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
USER_ID = 555555555555555555
ADMIN_CHANNEL_ID = 888888888888888888
# Permission bits (https://discord.com/developers/docs/topics/permissions).
MEMBER_PERMISSIONS = 2248473465835073  # what Discord resolves for an ordinary member here
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3

# Discord's message limits, enforced on every created message.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_PART_LIMITS = {"title": 256, "description": 4096}
MAX_FIELDS = 25


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Canned:
    """A scripted response returned instead of the normal one."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    via: bool = True


@dataclass
class FakeDiscord:
    """The fake API. ``async with FakeDiscord() as fake:`` starts it on a free port."""

    bot_token: str = BOT_TOKEN
    channels: set[int] = field(default_factory=lambda: {CHANNEL_ID, ADMIN_CHANNEL_ID})
    forbidden_channels: set[int] = field(default_factory=set)
    webhooks: dict[int, str] = field(default_factory=lambda: {WEBHOOK_ID: WEBHOOK_TOKEN})
    guilds: set[int] = field(default_factory=lambda: {GUILD_ID})
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)
    interaction_tokens: dict[str, int] = field(default_factory=dict)
    _scripted: dict[tuple[str, str], deque[Canned]] = field(default_factory=dict)
    _nonces: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _sequence: int = 0
    _server: TestServer | None = None
    _port: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._server = await start_app(app)
        self._port = self._server.port or 0
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    def bot_env(self, *, guild: bool = True) -> dict[str, str]:
        """The environment of a bot posting to ``CHANNEL_ID`` through this fake (its /meta-ai
        registered in ``GUILD_ID`` unless ``guild`` is False)."""
        env = {
            "DISCORD_TOKEN": self.bot_token,
            "DISCORD_CHANNEL_ID": str(CHANNEL_ID),
            "DISCORD_API_BASE": self.api_base,
        }
        return {**env, "DISCORD_GUILD_ID": str(GUILD_ID)} if guild else env

    @property
    def api_base(self) -> str:
        """What DISCORD_API_BASE should be set to."""
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    @property
    def webhook_url(self) -> str:
        """A real-looking webhook URL; requests still go to DISCORD_API_BASE."""
        return f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    def script(
        self,
        method: str,
        path: str,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        *,
        via: bool = True,
    ) -> None:
        """Answer the next ``times`` requests to ``method path`` with this response.

        ``via=False`` leaves out the ``Via`` header, as responses from Cloudflare
        (not Discord) do.
        """
        queue = self._scripted.setdefault((method.upper(), path), deque())
        queue.extend(Canned(status, body, dict(headers or {}), via) for _ in range(times))

    def rate_limit(
        self, method: str, path: str, retry_after: float, *, via: bool, times: int = 1
    ) -> None:
        """Script a 429 as Discord (``via=True``) or Cloudflare (``via=False``) sends it."""
        headers = {"Retry-After": str(max(1, round(retry_after)))}
        if via:
            headers |= {"X-RateLimit-Scope": "user", "X-RateLimit-Remaining": "0"}
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        self.script(method, path, 429, body, headers, times, via=via)

    def made(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests to ``method path`` (path without the /api/v10 prefix)."""
        return [r for r in self.requests if r.method == method and r.path == path]

    async def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        """The first recorded request matching ``predicate``, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        while True:
            for request in self.requests:
                if predicate(request):
                    return request
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests]
                raise AssertionError(f"no matching request within {timeout}s; seen: {seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
            except TimeoutError:
                continue

    # --- request handling -------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        body: Any = None
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        path = request.path.removeprefix(API_PREFIX)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
        )
        self.requests.append(record)
        response = self._respond(record)
        record.status = response.status
        self._arrived.set()
        return response

    def _respond(self, request: RecordedRequest) -> web.Response:
        canned = self._scripted.get((request.method, request.path))
        if canned:
            reply = canned.popleft()
            return _json(reply.status, reply.body, reply.headers, via=reply.via)
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, **match.groupdict())
        return _error(404, "404: Not Found", 0)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., web.Response]]]:
        return [
            ("GET", re.compile(r"/users/@me"), self._get_me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._get_application),
            ("PUT", re.compile(r"/applications/(?P<app>\d+)/commands"), self._put_commands),
            (
                "PUT",
                re.compile(r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands"),
                self._put_commands,
            ),
            ("POST", re.compile(r"/channels/(?P<channel>\d+)/messages"), self._post_message),
            (
                "POST",
                re.compile(r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback"),
                self._post_callback,
            ),
            ("POST", re.compile(r"/webhooks/(?P<hook>\d+)/(?P<token>[^/]+)"), self._post_webhook),
        ]

    def _authorised(self, request: RecordedRequest) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.bot_token}"

    def _get_me(self, request: RecordedRequest) -> web.Response:
        if not self._authorised(request):
            return _error(401, "401: Unauthorized", 0)
        return _json(200, bot_user())

    def _get_application(self, request: RecordedRequest) -> web.Response:
        if not self._authorised(request):
            return _error(401, "401: Unauthorized", 0)
        return _json(200, application_info())

    def _put_commands(
        self, request: RecordedRequest, app: str, guild: str | None = None
    ) -> web.Response:
        if not self._authorised(request):
            return _error(401, "401: Unauthorized", 0)
        if int(app) != APPLICATION_ID:
            return _error(403, "Missing Access", 50001)
        if guild is not None and int(guild) not in self.guilds:
            return _error(403, "Missing Access", 50001)
        registered = []
        for command in request.body or []:
            registered.append(
                {
                    **command,
                    "id": str(self._snowflake()),
                    "application_id": str(APPLICATION_ID),
                    "version": str(self._snowflake()),
                    "default_member_permissions": None,
                    "type": command.get("type", 1),
                    **({"guild_id": guild} if guild else {}),
                }
            )
        self.commands[int(guild) if guild else None] = registered
        return _json(200, registered)

    def _post_message(self, request: RecordedRequest, channel: str) -> web.Response:
        if not self._authorised(request):
            return _error(401, "401: Unauthorized", 0)
        channel_id = int(channel)
        if channel_id in self.forbidden_channels:
            return _error(403, "Missing Permissions", 50013)
        if channel_id not in self.channels:
            return _error(404, "Unknown Channel", 10003)
        body = request.body or {}
        problem = message_limit_problem(body)
        if problem:
            return _error(400, f"Invalid Form Body: {problem}", 50035)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None:
                return _json(200, earlier)
        message = self._message(channel_id, body, author=bot_user())
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = message
        return _json(200, message)

    def _post_callback(
        self, request: RecordedRequest, interaction: str, token: str
    ) -> web.Response:
        body = request.body or {}
        callback_type = body.get("type")
        data = body.get("data") or {}
        if callback_type not in (4, 5):
            return _error(400, "Invalid Form Body: type", 50035)
        # A deferral (type 5) carries only flags; a message (type 4) must be a valid one.
        problem = message_limit_problem(data) if callback_type == 4 else None
        if problem:
            return _error(400, f"Invalid Form Body: {problem}", 50035)
        self.interaction_tokens[token] = int(interaction)
        ephemeral = bool(int(data.get("flags", 0)) & EPHEMERAL_FLAG)
        message = self._message(CHANNEL_ID, data, author=bot_user(), keep=callback_type == 4)
        message["interaction_metadata"] = {
            "id": interaction,
            "type": 2,
            "user": user(),
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
        }
        if callback_type == 5:
            message["flags"] = int(data.get("flags", 0)) | (1 << 7)  # LOADING
        return _json(
            200,
            {
                "interaction": {
                    "id": interaction,
                    "type": 2,
                    "response_message_id": message["id"],
                    "response_message_loading": callback_type == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": {"type": callback_type, "message": message},
            },
        )

    def _post_webhook(self, request: RecordedRequest, hook: str, token: str) -> web.Response:
        hook_id = int(hook)
        if hook_id == APPLICATION_ID:
            if token not in self.interaction_tokens:
                return _error(404, "Unknown Webhook", 10015)
        elif hook_id not in self.webhooks:
            return _error(404, "Unknown Webhook", 10015)
        elif self.webhooks[hook_id] != token:
            return _error(401, "Invalid Webhook Token", 50027)
        body = request.body or {}
        problem = message_limit_problem(body)
        if problem:
            return _error(400, f"Invalid Form Body: {problem}", 50035)
        message = self._message(CHANNEL_ID, body, author=webhook_user(hook_id))
        message["webhook_id"] = hook
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(200, message)
        return web.Response(status=204, headers={"Via": VIA})

    # --- payload helpers -----------------------------------------------------------------

    def _snowflake(self) -> int:
        self._sequence += 1
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (self._sequence & 0xFFF)

    def _message(
        self, channel_id: int, body: Mapping[str, Any], *, author: dict[str, Any], keep: bool = True
    ) -> dict[str, Any]:
        message = {
            "id": str(self._snowflake()),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts", False)),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()),
            "edited_timestamp": None,
            "flags": int(body.get("flags", 0) or 0),
            "components": [],
            "author": author,
            "nonce": body.get("nonce"),
            "allowed_mentions": body.get("allowed_mentions"),
        }
        if body.get("message_reference"):
            # A reply names the message it answers, as Discord returns it.
            message["message_reference"] = body["message_reference"]
        if keep:
            self.messages.append(message)
        return message


def message_limit_problem(body: Mapping[str, Any]) -> str | None:
    """Why Discord would reject this message body, or None when it is within limits."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > MAX_CONTENT:
        return "content: Must be 2000 or fewer in length."
    if len(embeds) > MAX_EMBEDS:
        return "embeds: Must be 10 or fewer in length."
    total = 0
    for index, embed in enumerate(embeds):
        for key, limit in EMBED_PART_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                return f"embeds.{index}.{key}: Must be {limit} or fewer in length."
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            return f"embeds.{index}.fields: Must be 25 or fewer in length."
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        parts = [embed.get("title") or "", embed.get("description") or "", footer, author]
        parts += [f.get("name", "") + f.get("value", "") for f in fields]
        total += sum(len(p) for p in parts)
    if total > MAX_EMBED_TOTAL:
        return "embeds: Embed size exceeds maximum size of 6000"
    if not content and not embeds and not body.get("type"):
        return "Cannot send an empty message"
    return None


def user(user_id: int = USER_ID, name: str = "reader") -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "public_flags": 0,
    }


def bot_user() -> dict[str, Any]:
    return {
        **user(BOT_USER_ID, "meta-ai-digest"),
        "bot": True,
        "verified": True,
        "flags": 0,
        "mfa_enabled": False,
        "locale": "en-US",
    }


def webhook_user(hook_id: int) -> dict[str, Any]:
    return {**user(hook_id, "Meta AI digest"), "bot": True}


def application_info() -> dict[str, Any]:
    """GET /oauth2/applications/@me, as Discord returns it for a bot's own application."""
    return {
        "id": str(APPLICATION_ID),
        "name": "meta-ai-digest",
        "icon": None,
        "description": "Meta AI news digests",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "bot": bot_user(),
        "terms_of_service_url": None,
        "privacy_policy_url": None,
        "owner": user(),
        "verify_key": "0" * 64,
        "team": None,
        "guild_id": None,
        "flags": 0,
        "tags": [],
        "install_params": None,
        "custom_install_url": None,
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "approximate_guild_count": 1,
        "integration_types_config": {"0": {}},
    }


def interaction_create(
    options: Mapping[str, Any] | None = None,
    *,
    interaction_id: int = 666666666666666666,
    token: str = "aW50ZXJhY3Rpb246NjY2NjY2NjY2NjY2NjY2NjY2OmZha2UtaW50ZXJhY3Rpb24tdG9rZW4",
    command_id: int = 777777777777777777,
    guild_id: int | None = GUILD_ID,
    permissions: int = MEMBER_PERMISSIONS,
) -> dict[str, Any]:
    """An INTERACTION_CREATE dispatch payload for /meta-ai typed in a server channel, by a
    member whose resolved ``permissions`` Discord sends with it."""
    typed = [
        {"name": name, "type": 5 if isinstance(value, bool) else 3, "value": value}
        for name, value in (options or {}).items()
    ]
    data: dict[str, Any] = {"id": str(command_id), "name": "meta-ai", "type": 1}
    if typed:
        data["options"] = typed
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(APPLICATION_ID),
        "type": 2,
        "data": data,
        "channel_id": str(CHANNEL_ID),
        "channel": {
            "id": str(CHANNEL_ID),
            "type": 0,
            "name": "meta-ai-news",
            "position": 0,
            "guild_id": str(guild_id or GUILD_ID),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        },
        "token": token,
        "version": 1,
        "app_permissions": "2248473465835073",
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id or GUILD_ID)},
        "context": 0,
        "attachment_size_limit": 10_485_760,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["guild_locale"] = "en-US"
        payload["member"] = {
            "user": user(),
            "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "nick": None,
            "avatar": None,
            "flags": 0,
            "permissions": str(permissions),
        }
    else:
        payload["user"] = user()
    return payload


def _json(
    status: int, body: Any, headers: Mapping[str, str] | None = None, *, via: bool = True
) -> web.Response:
    """A JSON response with exactly ``Content-Type: application/json`` (no charset)."""
    merged = {"Content-Type": "application/json", **({"Via": VIA} if via else {})}
    merged |= headers or {}
    if isinstance(body, str):
        merged["Content-Type"] = "text/html"
        return web.Response(status=status, body=body.encode(), headers=merged)
    return web.Response(status=status, body=json.dumps(body).encode(), headers=merged)


def _error(status: int, message: str, code: int) -> web.Response:
    return _json(status, {"message": message, "code": code})
