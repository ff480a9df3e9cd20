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
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack, Reply

T = TypeVar("T")

SLACK_WEBHOOK_PATH = "/services/T0SINK001/B0SINK001/sInKwEbHoOkSeCrEt0123456789"


class LoopThread:
    """An event loop in a daemon thread, for servers that must outlive one test step."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


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
        self._runner: web.AppRunner | None = None

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
        if self._runner is not None:
            self._thread.run(self._runner.cleanup())
        self._thread.close()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(SLACK_WEBHOOK_PATH, self._post)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

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
        await asyncio.sleep(delay)
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


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
