"""The faults of issue 21 the runtime handles, each tried for real, with what it costs now.

Run:  .venv/bin/python -m bench.faults [--feeds 250] [--items 30]

Everything is local: feeds and a fake Slack on 127.0.0.1, a SQLite file in a temporary
directory, and PostgreSQL (META_AI_DIGEST_TEST_POSTGRES, default the local trust-auth
server) reached through a TCP proxy on 127.0.0.1 that the bench cuts. Every wait is
bounded; the faults needing PostgreSQL say so and are skipped when no server answers.

- worker killed: a poll of FEEDS feeds x ITEMS Meta-AI items in worker processes; one
  parse worker SIGKILLed once a fifth of the feeds are done. Counts: did the cycle finish,
  feeds ok and failed, items stored of those served.
- delivery blip: the issue's case. Slack answers chat.postMessage 6 s late; PostgreSQL is
  cut from 2 s to 20 s after the digest fires (to two channels); the scheduler's next
  delivery pass runs meanwhile and after. Counts: messages queued, posts Slack received,
  duplicates.
- claim blip: two replicas fire the digest while PostgreSQL is away for 3 s. Counts:
  digests posted, firings skipped.
- stop: SIGTERM to the real `meta-ai-digest run` in its start-up poll of the same feeds,
  while batches are stored and while the kept items are grouped. Counts: seconds to exit,
  processes left behind, items stored at the signal and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench import SMOKE_HELP
from bot.adapters.slack import SlackAdapter
from bot.config import load_settings
from bot.feeds.records import FeedOutcome
from bot.pipeline import DigestBot
from bot.scheduler import BotJobs
from bot.store.schema import DigestRecord, Item, OutboxMessage
from tests import harness, helpers
from tests.fakes.feed_server import FeedServer, serve_meta_ai_feeds
from tests.fakes.slack_api import (
    BOT_TOKEN,
    DIGEST_CHANNEL,
    OTHER_CHANNEL,
    SIGNING_SECRET,
    FakeSlack,
)
from tests.fakes.tcp_proxy import TcpProxy
from tests.replicas import add_pending_stories, fire_digest_during_blip, replicas_behind_proxy

REPO = Path(__file__).resolve().parent.parent

Row = dict[str, object]


def config_for(directory: Path, feeds: list[tuple[str, str]], extra: str = "") -> Path:
    return helpers.write_config(directory / "c.toml", feeds, directory / "bot.db", extra)


def worker_killed(feeds: list[tuple[str, str]], items: int) -> Row:
    with tempfile.TemporaryDirectory() as name:
        config = config_for(Path(name), feeds, "[fetch]\nworkers = 2\n")
        bot = DigestBot.migrated(load_settings(config, env={}), [], env={})
        done, killed = 0, list[int]()

        def kill_one(outcome: FeedOutcome) -> None:
            nonlocal done
            done += 1
            workers = harness.pool_workers()
            if not killed and workers and done >= len(feeds) // 5:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])

        started = time.perf_counter()
        try:
            report = asyncio.run(bot.poll(force=True, on_feed_done=kill_one))
            survived = True
            statuses = Counter(line.status for line in report.feeds)
        except Exception as error:  # the fault as it was: the cycle aborted
            survived, statuses = False, Counter({type(error).__name__: 1})
        took = time.perf_counter() - started
        with bot.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Item)) or 0
        ungrouped = count_ungrouped(Path(name) / "bot.db")
        asyncio.run(bot.poll(force=True))
        bot.close()
        after = count_ungrouped(Path(name) / "bot.db")
    return {
        "workers killed": len(killed),
        "cycle survived": survived,
        "feeds ok": statuses.get("ok", 0),
        "feeds failed": sum(count for status, count in statuses.items() if status != "ok"),
        "items stored": f"{stored}/{len(feeds) * items}",
        "seconds": round(took, 1),
        "kept without a story": ungrouped,
        "after one more cycle": after,
    }


async def at(seconds: float, action: Callable[[], object]) -> None:
    await asyncio.sleep(seconds)  # the fault's schedule: at this moment, on purpose
    action()


async def delivery_blip(postgres_url: str, directory: Path) -> Row:
    target = make_url(postgres_url)
    async with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
        }
        options = {
            "channels": [DIGEST_CHANNEL, OTHER_CHANNEL],
            "min_seconds_between_messages": 0,
            "request_timeout_seconds": 10,
        }
        adapter = SlackAdapter.from_environment(env, options)
        assert adapter is not None
        slack.slow("chat.postMessage", 6.0, times=100)
        with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
            config = config_for(directory, [])
            bot = DigestBot.migrated(
                load_settings(config, env={}),
                [adapter],
                env={"DATABASE_URL": proxy.database_url(postgres_url)},
            )
            try:
                add_pending_stories(bot.sessions, 12)
                timers = [
                    asyncio.create_task(at(2.0, proxy.cut)),
                    asyncio.create_task(at(20.0, proxy.restore)),
                ]
                jobs = BotJobs(bot, bot.settings.schedule)
                firing = asyncio.create_task(jobs.post_digest())
                # The scheduler's delivery retries: one during the blip, one after it.
                await asyncio.sleep(10.0)
                await jobs.deliver()
                await asyncio.gather(*timers)
                await asyncio.wait_for(firing, timeout=120)
                await jobs.deliver()
                with bot.sessions() as session:
                    states = Counter(session.scalars(select(OutboxMessage.status)))
            finally:
                await bot.close_adapters()
                bot.close()
        bodies = [json.dumps(body, sort_keys=True) for body in slack.bodies("chat.postMessage")]
    return {
        "messages queued": sum(states.values()),
        "recorded sent": states.get("sent", 0),
        "posts to Slack": len(bodies),
        "duplicate posts": len(bodies) - len(set(bodies)),
    }


async def claim_blip(postgres_url: str, directory: Path) -> Row:
    with replicas_behind_proxy(postgres_url, directory, 2) as (proxy, bots):
        _firing, runs = await fire_digest_during_blip(bots, proxy)
        proxy.restore()
        await asyncio.wait_for(asyncio.gather(*runs), timeout=60)
        with bots[0].sessions() as session:
            digests = session.scalar(select(func.count()).select_from(DigestRecord)) or 0
    return {"firings": 1, "digests posted": digests, "skipped digests": 1 - min(digests, 1)}


def count_ungrouped(database: Path) -> int:
    """Kept items without a story: what a fault between storing and grouping leaves."""
    return helpers.count_items(database, "WHERE kept AND story_id IS NULL")


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if harness.is_running(pid)]


def stop(feeds: list[tuple[str, str]], phase: str) -> Row:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        config = config_for(directory, feeds)
        database, log = directory / "bot.db", directory / "run.log"
        env = {"XDG_DATA_HOME": str(directory)}
        run = ["--log-level", "INFO", "--config", str(config), "run"]
        with harness.BotProcess(run, log=log, env=env) as bot:

            def ready() -> bool:
                if phase == "storing":
                    return helpers.count_items(database) >= len(feeds) * 6
                return "fetched and stored" in bot.output()

            harness.eventually(ready, timeout=180, message=bot.tail)
            family = harness.descendants(bot.pid)
            stored = helpers.count_items(database)
            code, took = bot.stop(signal.SIGTERM, timeout=60)
            with contextlib.suppress(AssertionError):
                harness.eventually(lambda: not alive(family), timeout=5)
            left = len(alive(family))
        ungrouped, after_stop = count_ungrouped(database), helpers.count_items(database)
        harness.run_bot(["--config", str(config), "poll"], env=env, timeout=600)
        return {
            "phase": phase,
            "exit code": code,
            "stop seconds": round(took, 1),
            "processes left": left,
            "items at SIGTERM": stored,
            "items after": after_stop,
            "kept without a story": ungrouped,
            "after one more cycle": count_ungrouped(database),
        }


def show(title: str, row: Row) -> None:
    print(f"{title:16}" + "  ".join(f"{key}: {value}" for key, value in row.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=250)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument(
        "--smoke", action="store_true", help=SMOKE_HELP + "; no blips, one stop phase"
    )
    args = parser.parse_args()
    if args.smoke:
        args.feeds, args.items = 4, 6
    # The faults are meant: their warnings (retrying, abandoned) would bury the counts.
    logging.disable(logging.WARNING)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"faults of issue 21: {args.feeds} local feeds x {args.items} items; {cores} CPUs")
    server = FeedServer().start()
    try:
        feeds = serve_meta_ai_feeds(server, args.feeds, args.items)
        show("worker killed", worker_killed(feeds, args.items))
        reason = "a smoke run" if args.smoke else helpers.postgres_available()
        if reason:
            print(f"delivery blip   skipped: {reason}")
            print(f"claim blip      skipped: {reason}")
        else:
            with tempfile.TemporaryDirectory() as name:
                with helpers.scratch_postgres_database() as url:
                    show("delivery blip", asyncio.run(delivery_blip(url, Path(name))))
                with helpers.scratch_postgres_database() as url:
                    show("claim blip", asyncio.run(claim_blip(url, Path(name))))
        for phase in ("storing",) if args.smoke else ("storing", "grouping"):
            show("stop (SIGTERM)", stop(feeds, phase))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
