"""A fake Slack on 127.0.0.1 for driving the real slack-bolt and slack_sdk in tests.

It serves what the Slack adapter talks to, shaped like Slack's answers
(https://docs.slack.dev/reference/methods):

* the Web API under ``/api/``: ``auth.test``, ``chat.postMessage``,
  ``users.info`` (admins, owners and members of the workspace) and
  ``apps.connections.open`` (checking the bearer token like Slack does:
  ``invalid_auth``; and channel membership: ``channel_not_found``,
  ``not_in_channel``);
* a Socket Mode WebSocket at ``/socket`` that says ``hello`` and lets a test
  push envelopes (slash commands, button clicks) and see the acks;
* ``response_url`` endpoints (``/response/<name>``) and an incoming webhook
  (``/services/...``).

Every message is checked against Slack's Block Kit limits and refused with
``invalid_blocks`` the way Slack refuses it, so a test that posts through the
fake proves the payload would be accepted. Every request is recorded; tests can
script one-off replies (429 with Retry-After, 5xx, Slack errors) per endpoint, and
make an endpoint slow to answer what it already did.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier

from tests.fakes.server import start_app

BOT_TOKEN = "xoxb-1111-2222-fAkEbOtToKeNfOrTeStSoNlY"
APP_TOKEN = "xapp-1-A0001-3333-fAkEaPpToKeNfOrTeStS"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
WEBHOOK_PATH = "/services/T0001/B0001/fAkEwEbHoOkSeCrEtPaTh"
TEAM_ID = "T0001"
BOT_USER_ID = "U0BOT0001"
USER_ID = "U0USER001"  # a member, not an admin
ADMIN_ID = "U0ADMIN01"  # a workspace admin
OWNER_ID = "U0OWNER01"  # the primary owner
DIGEST_CHANNEL = "C0DIGEST1"
OTHER_CHANNEL = "C0OTHER01"
OUTSIDER_CHANNEL = "C0NOTIN01"  # exists, but the bot is not a member

# Slack's Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT = 40_000


@dataclass
class Reply:
    """A scripted answer: JSON (dict) or text (str) body, status and headers."""

    body: dict[str, Any] | str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One request as the fake received it."""

    endpoint: str
    headers: dict[str, str]
    body: Any
    at: float


def ratelimited(retry_after: float) -> Reply:
    return Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})


def slack_error(code: str, status: int = 200, **extra: Any) -> Reply:
    return Reply({"ok": False, "error": code, **extra}, status)


def slack_user(
    user_id: str,
    name: str,
    *,
    is_admin: bool = False,
    is_owner: bool = False,
    is_primary_owner: bool = False,
) -> dict[str, Any]:
    """A user object as users.info returns it (the fields the bot reads, and a few more)."""
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "deleted": False,
        "real_name": name.title(),
        "tz": "Europe/London",
        "is_admin": is_admin,
        "is_owner": is_owner,
        "is_primary_owner": is_primary_owner,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": 1700000000,
    }


def block_kit_problem(message: dict[str, Any]) -> str | None:
    """Why Slack would refuse this message, or None."""
    blocks = message.get("blocks") or []
    text = message.get("text") or ""
    if not blocks and not text:
        return "no_text"
    if len(text) > MAX_TEXT:
        return "msg_too_long"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if kind == "section" and len(block.get("text", {}).get("text", "")) > MAX_SECTION_TEXT:
            return "invalid_blocks"
        if kind == "section" and not block.get("text", {}).get("text", "").strip():
            return "invalid_blocks"
        if kind == "header" and len(block.get("text", {}).get("text", "")) > MAX_HEADER_TEXT:
            return "invalid_blocks"
        if kind == "context" and len(block.get("elements", [])) > MAX_CONTEXT_ELEMENTS:
            return "invalid_blocks"
    return None


class FakeSlack:
    """The fake server; use ``async with FakeSlack() as slack``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.acks: list[dict[str, Any]] = []
        self.member_channels = {DIGEST_CHANNEL, OTHER_CHANNEL}
        self.known_channels = {DIGEST_CHANNEL, OTHER_CHANNEL, OUTSIDER_CHANNEL}
        # users.info answers, as Slack's user object has them.
        self.users: dict[str, dict[str, Any]] = {
            USER_ID: slack_user(USER_ID, "ada"),
            ADMIN_ID: slack_user(ADMIN_ID, "grace", is_admin=True),
            OWNER_ID: slack_user(OWNER_ID, "linus", is_owner=True, is_primary_owner=True),
        }
        self._scripts: dict[str, deque[Reply]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Event()
        self._ts = itertools.count(1)
        self._envelopes = itertools.count(1)
        self._server: TestServer | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        self._server = await start_app(app)
        self.port = self._server.port or 0
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._server is not None:
            await self._server.close()

    # --- addresses ---------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base}{WEBHOOK_PATH}"

    def response_url(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def http_mode_env(self) -> dict[str, str]:
        """The environment of a bot in HTTP mode against this fake, on a free local port."""
        return {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
            "SLACK_API_URL": self.api_url,
            "SLACK_HTTP_HOST": "127.0.0.1",
            "SLACK_HTTP_PORT": "0",
        }

    # --- scripting and inspection -----------------------------------------------

    def script(self, endpoint: str, *replies: Reply) -> None:
        """Answer the next requests to ``endpoint`` (e.g. "chat.postMessage", "webhook")."""
        self._scripts.setdefault(endpoint, deque()).extend(replies)

    def slow(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Act on the next ``times`` requests to ``endpoint`` at once (a message is posted),
        but answer only ``seconds`` later: a Slack that is slow to say it accepted."""
        self._delays.setdefault(endpoint, deque()).extend([seconds] * times)

    def calls_to(self, endpoint: str) -> list[Call]:
        return [call for call in self.calls if call.endpoint == endpoint]

    def bodies(self, endpoint: str) -> list[Any]:
        return [call.body for call in self.calls_to(endpoint)]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds after some request; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push a Socket Mode envelope to the connected client; returns its id."""
        await self.wait_for(lambda: bool(self._sockets))
        return await self._send(kind, payload, self._sockets[-1:])

    async def send_envelope_to_all(
        self, kind: str, payload: dict[str, Any], connections: int
    ) -> str:
        """The same envelope to each of ``connections`` connected clients (replicas of one
        app), as when Slack redelivers an envelope another connection did not ack in time."""
        await self.wait_for(lambda: len(self._sockets) >= connections)
        return await self._send(kind, payload, list(self._sockets))

    async def _send(
        self, kind: str, payload: dict[str, Any], sockets: list[web.WebSocketResponse]
    ) -> str:
        envelope_id = f"env-{next(self._envelopes)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
        }
        for socket in sockets:
            await socket.send_str(json.dumps(envelope))
        return envelope_id

    def acks_of(self, envelope_id: str) -> int:
        return sum(1 for ack in self.acks if ack.get("envelope_id") == envelope_id)

    def acked(self, envelope_id: str) -> bool:
        return any(ack.get("envelope_id") == envelope_id for ack in self.acks)

    # --- handlers ------------------------------------------------------------------

    def _record(self, endpoint: str, request: web.Request, body: Any) -> None:
        loop = asyncio.get_running_loop()
        self.calls.append(Call(endpoint, dict(request.headers), body, loop.time()))
        self._changed.set()

    def _scripted(self, endpoint: str) -> Reply | None:
        queue = self._scripts.get(endpoint)
        return queue.popleft() if queue else None

    async def _web_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = {**request.query, **await _read_body(request)}  # GET methods take the query
        self._record(method, request, body)
        reply = self._scripted(method) or self._answer(method, request, body)
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.popleft())
        return _to_response(reply)

    def _answer(self, method: str, request: web.Request, body: dict[str, Any]) -> Reply:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return slack_error("invalid_auth")
        if method == "auth.test":
            return Reply(
                {
                    "ok": True,
                    "url": "https://fake-team.slack.com/",
                    "team": "Fake Team",
                    "user": "meta-ai",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": "B0BOT0001",
                }
            )
        if method == "apps.connections.open":
            return Reply({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if method == "chat.postMessage":
            return self._post_message(body)
        if method == "users.info":
            user = self.users.get(str(body.get("user", "")))
            return Reply({"ok": True, "user": user}) if user else slack_error("user_not_found")
        return slack_error("unknown_method", 404)

    def _post_message(self, body: dict[str, Any]) -> Reply:
        channel = str(body.get("channel", ""))
        if channel not in self.known_channels:
            return slack_error("channel_not_found")
        if channel not in self.member_channels:
            return slack_error("not_in_channel")
        problem = block_kit_problem(body)
        if problem:
            return slack_error(problem)
        ts = f"1700000000.{next(self._ts):06d}"
        return Reply({"ok": True, "channel": channel, "ts": ts, "message": {"text": body["text"]}})

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await _read_body(request)
        self._record("response", request, {"name": request.match_info["name"], **body})
        reply = self._scripted("response")
        if reply is None:
            problem = None if body.get("delete_original") else block_kit_problem(body)
            reply = Reply(problem or "ok", 400 if problem else 200)
        return _to_response(reply)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await _read_body(request)
        self._record("webhook", request, body)
        reply = self._scripted("webhook")
        if reply is None:
            problem = block_kit_problem(body)
            reply = Reply("invalid_blocks" if problem else "ok", 400 if problem else 200)
        return _to_response(reply)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        self._record("socket", request, {})
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}
        await socket.send_str(json.dumps(hello))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    self._changed.set()
        finally:
            self._sockets.remove(socket)
        return socket


async def _read_body(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if not raw:
        return {}
    if request.content_type == "application/json":
        parsed: dict[str, Any] = json.loads(raw)
        return parsed
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def _to_response(reply: Reply) -> web.Response:
    if isinstance(reply.body, dict):
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
    return web.Response(
        text=reply.body, status=reply.status, headers=reply.headers, content_type="text/plain"
    )


def slash_command_body(
    text: str, response_url: str, *, user_id: str = USER_ID, user_name: str = "ada"
) -> str:
    """``/meta-ai text`` as Slack form-encodes it, with a trigger_id of its own: replicas
    answer each invocation once, so two commands must not share one."""
    return urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": DIGEST_CHANNEL,
            "user_id": user_id,
            "user_name": user_name,
            "command": "/meta-ai",
            "text": text,
            "response_url": response_url,
            "trigger_id": f"1.{uuid.uuid4().int % 10**9}.{time.time_ns()}",
            "api_app_id": "A0001",
        }
    )


def signed_headers(
    body: str | bytes, *, secret: str = SIGNING_SECRET, age: int = 0
) -> dict[str, str]:
    """The headers Slack sends with ``body``, signed with ``secret`` ``age`` seconds ago."""
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
