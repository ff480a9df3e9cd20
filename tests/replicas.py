"""Helpers for running several bots on one database: a starting gate for processes, scratch
PostgreSQL databases, and pending stories written as the bot writes them.

Used by the replica tests and by ``bench/replicas.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.adapters.terminal import TerminalAdapter
from bot.config import load_settings
from bot.pipeline import DigestBot
from bot.scheduler import FIRING, BotJobs, current_slot, next_firing, retry_deadline
from bot.store.schema import (
    DigestRecord,
    Feed,
    Item,
    OutboxMessage,
    Story,
    Subscription,
    SubscriptionPost,
)
from tests.fakes.tcp_proxy import TcpProxy
from tests.harness import BOT_COMMAND, BotProcess, eventually_async

# Runs in each gated process: say "ready" on one pipe, block reading the gate pipe until
# the test writes a "go" byte for every process at once, then become the command (exec: the
# process the test started *is* the console script). An end of file instead of "go": the
# test went away, and so does the process.
GATE_LAUNCHER = """
import os, sys
ready, gate, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
os.write(ready, b".")
os.close(ready)
if os.read(gate, 1) != b"g":
    sys.exit("the starting gate closed without opening")
os.close(gate)
os.execv(argv[0], argv)
"""


class StartingGate:
    """Bot processes that all start their command at the same moment.

    Each process writes a byte to a "ready" pipe and then blocks on a "gate" pipe; ``open``
    waits for every byte, then writes a byte a process to the gate in one write, releasing
    them together.
    Processes are :class:`~tests.harness.BotProcess` es, their output in ``directory``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.bots: list[BotProcess] = []
        self._ready_read, self._ready_write = os.pipe()
        self._gate_read, self._gate_write = os.pipe()

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [bot.process for bot in self.bots]

    def spawn(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> BotProcess:
        """``meta-ai-digest <args>`` (with :func:`~tests.harness.clean_env` and ``env``),
        held at the gate."""
        index = len(self.bots)
        pipes = (self._ready_write, self._gate_read)
        launcher = [sys.executable, "-c", GATE_LAUNCHER, *map(str, pipes), *BOT_COMMAND]
        bot = BotProcess(
            args,
            log=self.directory / f"out-{index}.log",
            stderr_log=self.directory / f"err-{index}.log",
            env=env,
            command=launcher,
            pass_fds=pipes,
        )
        self.bots.append(bot)
        return bot

    def open(self, timeout: float = 60.0) -> None:
        """Wait until every spawned process waits at the gate, then let them all go."""
        os.close(self._ready_write)  # an end of file once every process has said ready
        os.close(self._gate_read)
        count, said = len(self.bots), b""
        deadline = time.monotonic() + timeout
        while len(said) < count:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self._ready_read], [], [], max(0.0, remaining))
            if not readable:
                raise TimeoutError("the gated processes did not all reach the gate")
            chunk = os.read(self._ready_read, count)
            if not chunk:
                codes = [bot.process.poll() for bot in self.bots]
                raise RuntimeError(f"a gated process exited before the gate opened: {codes}")
            said += chunk
        os.close(self._ready_read)
        os.write(self._gate_write, b"g" * count)  # one write: every process wakes on it
        os.close(self._gate_write)

    def communicate(self, timeout: float = 120.0) -> list[tuple[int, str, str]]:
        """Exit code, stdout and stderr of every process, in spawn order."""
        return [
            (bot.process.wait(timeout=timeout), bot.output(), bot.errors()) for bot in self.bots
        ]

    def kill_all(self) -> None:
        """Leave nothing behind (for ``finally``)."""
        for bot in self.bots:
            bot.close()
        for end in (self._ready_read, self._ready_write, self._gate_read, self._gate_write):
            with contextlib.suppress(OSError):  # closed already
                os.close(end)


def kept_item(feed_id: int, story_id: int, url: str, title: str, published: datetime) -> Item:
    """An article the topic rules kept, in its story, fetched now."""
    return Item(
        feed_id=feed_id,
        guid=url,
        url=url,
        normalized_url=url,
        title=title,
        summary="",
        content="",
        published_at=published,
        fetched_at=datetime.now(UTC),
        kept=True,
        topic_score=3.0,
        topic_reasons=[],
        backfill=False,
        story_id=story_id,
    )


def add_pending_stories(
    sessions: sessionmaker[Session], count: int, *, feed_name: str = "Replica feed"
) -> list[int]:
    """``count`` unposted stories of one article each, as the pipeline stores them."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        feed = session.query(Feed).filter_by(name=feed_name).one_or_none()
        if feed is None:
            feed = Feed(name=feed_name, url="file:///replica.xml", consecutive_failures=0)
            session.add(feed)
            session.flush()
        ids = []
        for index in range(count):
            published = now - timedelta(minutes=index)
            title = f"Replica story {uuid.uuid4().hex[:8]} number {index}"
            story = Story(
                title=title,
                url=f"https://replica.example/{uuid.uuid4().hex}",
                first_published_at=published,
                last_updated_at=now,
                created_at=now,
                summary=[f"Sentence of story {index}."],
                sources_announced=0,
            )
            session.add(story)
            session.flush()
            session.add(kept_item(feed.id, story.id, story.url, title, published))
            ids.append(story.id)
        return ids


def add_sources(
    sessions: sessionmaker[Session], story_id: int, outlets: int, *, title: str | None = None
) -> None:
    """``outlets`` more articles on the story, each from an outlet (feed) of its own, as the
    pipeline stores them; the story counts as updated now."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        story = session.get(Story, story_id)
        assert story is not None
        for _ in range(outlets):
            feed = Feed(
                name=f"Outlet {uuid.uuid4().hex[:8]}",
                url=f"https://outlet.example/{uuid.uuid4().hex}.xml",
                consecutive_failures=0,
            )
            session.add(feed)
            session.flush()
            url = f"https://outlet.example/{uuid.uuid4().hex}"
            session.add(kept_item(feed.id, story.id, url, title or story.title, now))
        story.last_updated_at = now


def reset_posting(sessions: sessionmaker[Session]) -> None:
    """Every story unposted again, no digest and no message, no subscription run or post:
    a fresh trial on the same rows."""
    with sessions.begin() as session:
        session.execute(delete(OutboxMessage))
        session.execute(delete(SubscriptionPost))
        session.execute(update(Subscription).values(last_run_at=None, last_alert_at=None))
        session.execute(
            update(Story).values(posted_at=None, posted_digest_id=None, sources_announced=0)
        )
        session.execute(delete(DigestRecord))


def story_ids_in_json(output: str) -> list[str]:
    """Story ids of every JSON digest printed on ``output`` (the terminal adapter's json)."""
    import json

    decoder = json.JSONDecoder()
    found: list[str] = []
    position = 0
    while True:
        start = output.find("{", position)
        if start < 0:
            return found
        try:
            document: Any
            document, position = decoder.raw_decode(output, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(document, dict):
            found.extend(str(story["id"]) for story in document.get("stories", []))


def replica_bots(directory: Path, url: str, count: int) -> list[DigestBot]:
    """``count`` bots sharing one database, as replicas do, each printing to its own
    terminal; a digest every hour (the firing under test: :func:`open_digest_firing`)."""
    config = directory / "c.toml"
    config.write_text("feeds = []\n[schedule]\ndigest_interval_minutes = 60\n", encoding="utf-8")
    settings = load_settings(config, env={})
    env = {"DATABASE_URL": url}
    return [
        DigestBot.migrated(settings, [TerminalAdapter("json", io.StringIO())], env=env)
        for _ in range(count)
    ]


@contextmanager
def replicas_behind_proxy(
    postgres_url: str, directory: Path, count: int, stories: int = 3
) -> Iterator[tuple[TcpProxy, list[DigestBot]]]:
    """``count`` :func:`replica_bots` reaching PostgreSQL through a :class:`TcpProxy` (to
    cut and restore), ``stories`` pending stories stored; the bots closed afterwards."""
    target = make_url(postgres_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        bots = replica_bots(directory, proxy.database_url(postgres_url), count)
        try:
            add_pending_stories(bots[0].sessions, stories)
            yield proxy, bots
        finally:
            for bot in bots:
                bot.close()


def open_digest_firing(bot: DigestBot, left: timedelta = timedelta(minutes=2)) -> datetime:
    """An hourly digest firing to run now whose failed claims ``bot`` still retries for at
    least ``left``: the current slot, or the next one late in the hour, when the scheduler
    is about to give the current one up for the next (``retry_deadline``)."""
    now = datetime.now(UTC)
    firing = current_slot(now, timedelta(hours=1))
    following = next_firing("post_digest", firing, bot.settings.schedule)
    if retry_deadline(firing, following) - now < left:
        firing += timedelta(hours=1)
    return firing


async def fire_digest_during_blip(
    bots: list[DigestBot], proxy: TcpProxy
) -> tuple[datetime, list[asyncio.Task[Any]]]:
    """Cut the database ``proxy``, fire an hourly digest (:func:`open_digest_firing`) in
    every bot, and return (the firing, the bots' runs) once every claim failed and was tried
    again at least once more; the database stays away until the caller restores it."""
    firing = open_digest_firing(bots[0])
    proxy.cut()
    refused = proxy.refused
    token = FIRING.set(firing)
    try:
        runs = [
            asyncio.create_task(BotJobs(bot, bot.settings.schedule).run("post_digest"))
            for bot in bots
        ]
    finally:
        FIRING.reset(token)
    await eventually_async(lambda: proxy.refused >= refused + 2 * len(bots), timeout=30)
    return firing, runs
