"""Worker processes for CPU-heavy stage work (feed parsing, topic rules), one per core.

Threads do not help there: feedparser and the rules are pure Python and hold the GIL,
so a poll of a thousand feeds ran on one core whatever the fetcher's concurrency. A
process pool puts that work on every core while the event loop keeps fetching.

Workers start from a fork server (``forkserver``): a clean process that imports the
modules named in ``preload`` once, then forks each worker, so no worker inherits the
parent's threads or locks (the parent runs an event loop, aiohttp's resolver threads and
database connections) and none pays the imports again. Where the platform has no fork
server the pool falls back to ``spawn``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from bot.common.collector import worker_ready

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class WorkerPool:
    """A process pool for one batch of work, closed (and its processes reaped) on exit.

    ``workers`` 0 means one per core. ``initializer(*initargs)`` runs once in each worker
    (to build a rule set there once, not per call). Nothing starts until the first job: a
    poll where every feed answers 304 starts no process at all.
    """

    def __init__(
        self,
        workers: int = 0,
        *,
        preload: Sequence[str] = (),
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.workers = workers or available_cores()
        self._preload = list(preload)
        self._initializer = initializer
        self._initargs = initargs
        self._executor: Executor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            methods = multiprocessing.get_all_start_methods()
            method = "forkserver" if "forkserver" in methods else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver" and self._preload:
                context.set_forkserver_preload(self._preload)
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=start_worker,
                initargs=(self._initializer, self._initargs),
            )
        return self._executor

    async def run(self, function: Callable[..., R], *args: Any) -> R:
        """``function(*args)`` in a worker, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def map(self, function: Callable[[T], R], values: Iterable[T], chunksize: int = 16) -> list[R]:
        """``function`` over ``values`` on every worker, in order; blocks the calling thread."""
        return list(self.executor.map(function, values, chunksize=chunksize))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    """Run the pool's initializer, then freeze what the worker holds for life.

    The preloaded modules and the initializer's state (a compiled rule set) outlive every
    job; frozen, the collections that parsing a feed triggers do not walk them each time
    (about 6% of a parse).
    """
    if initializer is not None:
        initializer(*initargs)
    worker_ready()
