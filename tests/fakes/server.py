"""The one start-up of the fake servers: an aiohttp app on 127.0.0.1, on a port the system
picks, through ``aiohttp.test_utils.TestServer`` (public API); and :class:`LoopThread`, the
event loop in a thread that serves a fake to a bot in another process or to synchronous
code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestServer

T = TypeVar("T")


async def start_app(app: web.Application) -> TestServer:
    """``app`` served on 127.0.0.1 on an ephemeral port (``server.port``), without an
    access log; ``await server.close()`` stops it."""
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server(access_log=None)
    return server


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
