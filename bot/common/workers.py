"""Worker processes for CPU-heavy stage work (feed parsing, topic rules), one per core.

Threads do not help there: feedparser and the rules are pure Python and hold the GIL,
so a poll of a thousand feeds ran on one core whatever the fetcher's concurrency. A
process pool puts that work on every core while the event loop keeps fetching.

Workers start from a fork server (``forkserver``): a clean process that imports the
modules named in ``preload`` once, then forks each worker, so no worker inherits the
parent's threads or locks (the parent runs an event loop, aiohttp's resolver threads and
database connections) and none pays the imports again. Where the platform has no fork
server the pool falls back to ``spawn``.

A worker that dies (SIGKILL, the OOM killer) breaks a ``ProcessPoolExecutor`` for good:
every job in flight and every later one fails with ``BrokenProcessPool``. The pool here
replaces the broken executor with a fresh one for later jobs and runs each failed job
once more in a worker of its own; a job whose second worker dies too raises
:class:`WorkerDied`, which the caller turns into that one job's error, so one death
never aborts the batch.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Self, TypeVar

from bot.common.collector import worker_ready

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class WorkerDied(Exception):
    """A job's worker process died in two pools in a row (killed, or out of memory)."""


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
        # Broken executors replaced by fresh ones, reaped at close().
        self._retired: list[Executor] = []
        # Jobs run from the event loop and from store threads at once.
        self._lock = threading.Lock()
        # Jobs retried alone after a death, at most one per core at once: a death fails
        # every job in flight (up to 2 x fetch.concurrency), and each retry is a process.
        self._alone = asyncio.Semaphore(self.workers)

    @property
    def started(self) -> bool:
        return self._executor is not None

    @property
    def executor(self) -> Executor:
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor(self.workers)
            return self._executor

    def _new_executor(self, workers: int) -> Executor:
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver" and self._preload:
            context.set_forkserver_preload(self._preload)
        return ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=start_worker,
            initargs=(self._initializer, self._initargs),
        )

    def replace_broken(self, executor: Executor) -> None:
        """Retire ``executor`` after a worker died in it; the next job starts a fresh pool.

        Several jobs fail with one death: only the first replaces it, so the jobs that
        follow share one new pool instead of starting one each.
        """
        with self._lock:
            if self._executor is not executor:
                return
            self._executor = None
            self._retired.append(executor)
        log.warning("a worker process died; its jobs run once more in fresh workers")
        # The broken pool's own thread stops its other workers and fails its jobs; it is
        # shut down (and that thread joined) at close(). Shutting it down here without
        # waiting would forget the thread, so close() could not wait for it.

    async def run(self, function: Callable[..., R], *args: Any) -> R:
        """``function(*args)`` in a worker, awaited without blocking the event loop.

        After a worker died under it, the job runs once more in a worker of its own (a
        job that kills every worker then takes no other job down with it); when that one
        dies too, :class:`WorkerDied`.
        """
        loop = asyncio.get_running_loop()
        executor = self.executor
        try:
            return await loop.run_in_executor(executor, function, *args)
        except BrokenProcessPool:
            self.replace_broken(executor)
        async with self._alone:
            alone = self._new_executor(1)
            try:
                return await loop.run_in_executor(alone, function, *args)
            except BrokenProcessPool as error:
                raise WorkerDied(describe_death(error)) from error
            finally:
                await asyncio.to_thread(alone.shutdown, wait=True)

    def map(self, function: Callable[[T], R], values: Iterable[T], chunksize: int = 16) -> list[R]:
        """``function`` over ``values`` on every worker, in order; blocks the calling thread.

        After a worker died under it, the whole map runs once more in workers of its own;
        when one dies there too, :class:`WorkerDied`.
        """
        jobs = list(values)
        executor = self.executor
        try:
            return list(executor.map(function, jobs, chunksize=chunksize))
        except BrokenProcessPool:
            self.replace_broken(executor)
        alone = self._new_executor(self.workers)
        try:
            return list(alone.map(function, jobs, chunksize=chunksize))
        except BrokenProcessPool as error:
            raise WorkerDied(describe_death(error)) from error
        finally:
            alone.shutdown(wait=True, cancel_futures=True)

    def close(self, wait: bool = True) -> None:
        """Stop the workers; ``wait=False`` (a cycle cancelled at shutdown) returns at once,
        the jobs not started are dropped and each worker exits after its current one."""
        with self._lock:
            executors = [*self._retired, *([self._executor] if self._executor else [])]
            self._retired = []
        for executor in executors:
            executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def describe_death(error: BaseException) -> str:
    return (
        "the worker process died twice on this job (killed, or out of memory): "
        f"{type(error).__name__}"
    )


def start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    """Run the pool's initializer, then freeze what the worker holds for life.

    The preloaded modules and the initializer's state (a compiled rule set) outlive every
    job; frozen, the collections that parsing a feed triggers do not walk them each time
    (about 6% of a parse).
    """
    if initializer is not None:
        initializer(*initargs)
    worker_ready()
