"""Helpers for running several bots on one database: a starting gate for processes, scratch
PostgreSQL databases, and pending stories written as the bot writes them.

Used by the replica tests and by ``bench/replicas.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.schema import (
    DigestRecord,
    Feed,
    Item,
    OutboxMessage,
    Story,
    Subscription,
    SubscriptionPost,
)

# Runs in each gated process: say "ready", wait for the gate file, then become the command
# (exec: the process the test started *is* the console script, no wrapper stays behind).
GATE_LAUNCHER = """
import os, sys, time
ready, gate, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
open(ready, "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(gate):
    if time.monotonic() > deadline:
        sys.exit("the starting gate never opened")
    time.sleep(0.002)
os.execv(argv[0], argv)
"""


class StartingGate:
    """Processes that all start their command at the same moment.

    Each process announces itself with a file, then waits for the gate file; ``open``
    waits until every process is waiting and creates the gate, releasing them together.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.gate = directory / "gate"
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        stdout: IO[bytes] | int | None = subprocess.PIPE,
        stderr: IO[bytes] | int | None = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        ready = self.directory / f"ready-{len(self.processes)}"
        process = subprocess.Popen(
            [sys.executable, "-c", GATE_LAUNCHER, str(ready), str(self.gate), *argv],
            env=dict(env),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def open(self, timeout: float = 60.0) -> None:
        """Wait until every spawned process waits at the gate, then let them all go."""
        deadline = time.monotonic() + timeout
        count = len(self.processes)
        while len(list(self.directory.glob("ready-*"))) < count:
            exited = [p.returncode for p in self.processes if p.poll() is not None]
            if exited:
                raise RuntimeError(f"a gated process exited before the gate opened: {exited}")
            if time.monotonic() > deadline:
                raise TimeoutError("the gated processes did not all reach the gate")
            time.sleep(0.01)
        staged = self.directory / "gate.tmp"
        staged.write_text("go", encoding="utf-8")
        staged.rename(self.gate)  # appears at once, for everyone

    def communicate(self, timeout: float = 120.0) -> list[tuple[int, str, str]]:
        """Exit code, stdout and stderr of every process, in spawn order."""
        results = []
        for process in self.processes:
            out, err = process.communicate(timeout=timeout)
            results.append(
                (
                    process.returncode,
                    (out or b"").decode("utf-8", "replace"),
                    (err or b"").decode("utf-8", "replace"),
                )
            )
        return results

    def kill_all(self) -> None:
        """Leave nothing behind (for ``finally``)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)


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
