"""Chat platforms for tests that run the bot as a separate process.

:class:`SlackWebhookSink` is a Slack *incoming webhook* on 127.0.0.1 (the
endpoint behind ``SLACK_WEBHOOK_URL``): it answers ``ok`` like Slack, records
every JSON payload it accepted, can be slow (so a ``kill -9`` lands while a
message is in flight) and can be told to fail the next requests the way Slack
does (500, 429 with Retry-After, 404 for a revoked webhook).

:class:`ThreadedFakeDiscord` runs the Discord engineer's fake REST API
(:mod:`tests.fakes.discord_api`, nonce deduplication included) on a thread of
its own, so a bot in another process can post to it while the test watches;
:class:`ThreadedFakeSlack` does the same for the fake Slack Web API
(:mod:`tests.fakes.slack_api`).

Both run their own event loop in a daemon thread and must be stopped (the
fixtures in the tests do it in ``finally``).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.server import LoopThread, start_app
from tests.fakes.slack_api import FakeSlack, Reply
from tests.harness import wait_until as wait_until  # where older tests import it from

SLACK_WEBHOOK_PATH = "/services/T0SINK001/B0SINK001/sInKwEbHoOkSeCrEt0123456789"


@dataclass
class Failure:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SlackWebhookSink:
    """A Slack incoming webhook: POST JSON to :data:`SLACK_WEBHOOK_PATH`, get ``ok``."""

    # Seconds each accepted post takes, drawn uniformly (seeded) from this range.
    latency: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._thread = LoopThread()
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SLACK_WEBHOOK_PATH}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a bot posting here: a webhook URL on a host other than
        hooks.slack.com is accepted only when SLACK_API_URL names that host."""
        return {
            "SLACK_WEBHOOK_URL": self.url,
            "SLACK_API_URL": f"http://127.0.0.1:{self.port}/api/",
        }

    def fail_with(self, status: int, body: str) -> None:
        """Answer the next post with ``status`` and ``body`` (an HTML error page, say)."""
        with self._lock:
            self._failures.append(Failure(status, body))

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` posts with ``status`` (Slack's bodies and headers)."""
        bodies = {404: "no_service", 403: "action_prohibited", 410: "channel_is_archived"}
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(status, bodies.get(status, "error"), headers))

    def start(self) -> SlackWebhookSink:
        self._thread.run(self._start())
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._thread.run(self._server.close())
        self._thread.close()

    def mark(self, text: str = "marker") -> None:
        """Post a marker as the bot posts (answered at once, whatever the latency) and
        return once it is recorded: what reached the sink before it is recorded too, so a
        test can assert that nothing more came without waiting for nothing."""
        body = json.dumps({"text": text, "marker": True}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(SLACK_WEBHOOK_PATH, self._post)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._server = await start_app(app)
        self.port = self._server.port or 0

    async def _post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            self.attempts += 1
            failure = self._failures.popleft() if self._failures else None
            low, high = self.latency
            delay = self._random.uniform(low, high)
        if failure is not None:
            return web.Response(status=failure.status, text=failure.body, headers=failure.headers)
        try:
            payload = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return web.Response(status=400, text="no_text")
        with self._lock:
            # Posted (visible in the channel) before the answer travels back: a client
            # killed during ``latency`` never learns that its message arrived.
            self.received.append(payload)
        if not payload.get("marker"):
            await asyncio.sleep(delay)  # the latency this sink was given: slow on purpose
        return web.Response(text="ok")

    async def _unknown(self, _request: web.Request) -> web.Response:
        return web.Response(status=404, text="no_service")


class ThreadedFakeDiscord:
    """:class:`FakeDiscord` served from a background thread (for subprocess tests)."""

    def __init__(self) -> None:
        self._thread = LoopThread()
        self.fake = FakeDiscord()

    def start(self) -> ThreadedFakeDiscord:
        self._thread.run(self.fake.__aenter__())
        return self

    def stop(self) -> None:
        self._thread.run(self.fake.__aexit__(None, None, None))
        self._thread.close()

    def mark(self) -> None:
        """A request of the test's own (``GET /marker``, a 404), returned once the fake has
        recorded it: requests that reached the fake before it are recorded too."""
        url = self.fake.api_base + "/marker"
        try:
            urllib.request.urlopen(url, timeout=10).close()
        except urllib.error.HTTPError as error:
            error.close()

    def message_posts(self) -> int:
        """POSTs of channel messages received, duplicates (same nonce) included."""

        async def count() -> int:
            return sum(
                1
                for request in self.fake.requests
                if request.method == "POST" and request.path.endswith("/messages")
            )

        return self._thread.run(count())

    def messages(self) -> list[dict[str, Any]]:
        """Created channel and webhook messages (a nonce-deduplicated retry creates none)."""

        async def copy() -> list[dict[str, Any]]:
            return list(self.fake.messages)

        return self._thread.run(copy())


class ThreadedFakeSlack:
    """:class:`FakeSlack` served from a background thread (for subprocess tests)."""

    def __init__(self) -> None:
        self._thread = LoopThread()
        self.fake = FakeSlack()

    def start(self) -> ThreadedFakeSlack:
        self._thread.run(self.fake.__aenter__())
        return self

    def stop(self) -> None:
        self._thread.run(self.fake.__aexit__(None, None, None))
        self._thread.close()

    def script(self, endpoint: str, *replies: Reply) -> None:
        async def add() -> None:
            self.fake.script(endpoint, *replies)

        self._thread.run(add())

    def bodies(self, endpoint: str) -> list[Any]:
        async def copy() -> list[Any]:
            return self.fake.bodies(endpoint)

        return self._thread.run(copy())
