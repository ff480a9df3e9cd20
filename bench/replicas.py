"""Concurrent digests: N `meta-ai-digest digest` processes started together on one database.

Two rows per database: the default digest, and a channel's own subscription (an instant
``[[subscriptions]]`` on the terminal, so that the default digest goes nowhere and every
story reaches the channel through the subscription's claims).

Run:  .venv/bin/python -m bench.replicas [--trials 20] [--processes 3] [--stories 12]
                                         [--database sqlite|postgresql|both]

Each trial marks the same stories unposted again, starts the processes behind a starting
gate (each waits for one file to appear, then execs the console script), then counts the
stories queued in more than one digest (the digests as recorded in the database) and the
stories printed more than once or never (the JSON every process printed through the
terminal adapter; any process may deliver any queued message). PostgreSQL is the server
named by META_AI_DIGEST_TEST_POSTGRES (default: the local trust-auth server).

Measured (50 trials, 3 processes, 12 stories): before the atomic claim (c9b3e44) every
story was queued twice in 18 trials on SQLite and 19 on PostgreSQL; after, in none.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench import SMOKE_HELP
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import DigestRecord, OutboxMessage
from tests.helpers import postgres_available, scratch_postgres_database
from tests.replicas import (
    StartingGate,
    add_pending_stories,
    reset_posting,
    story_ids_in_json,
)

REPO = Path(__file__).resolve().parents[1]
# The channel of the subscription row: the terminal, whose messages each process prints.
SUBSCRIBED = "terminal:stdout"


def trial(url: str, directory: Path, processes: int, config: Path) -> tuple[int, int]:
    """(story repeats in the printed messages, distinct stories printed)."""
    gate = StartingGate(directory)
    try:
        for _ in range(processes):
            args = ["--config", str(config), "digest", "--format", "json"]
            gate.spawn(args, {"DATABASE_URL": url})
        gate.open()
        results = gate.communicate()
    finally:
        gate.kill_all()
    counts: Counter[str] = Counter()
    for code, out, err in results:
        if code != 0:
            raise RuntimeError(f"digest exited {code}: {err[-2000:]}")
        counts.update(story_ids_in_json(out))
    return sum(n - 1 for n in counts.values()), len(counts)


def queued_repeats(sessions: sessionmaker[Session], channel: str | None) -> tuple[int, int, int]:
    """(stories queued in more than one digest, digests queued, messages left pending), of
    the default digest (``channel`` None) or of the channel's subscription."""
    with sessions() as session:
        records = session.scalars(select(DigestRecord.payload))
        payloads = [payload for payload in records if payload.get("channel") == channel]
        pending = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    counts = Counter(str(story["id"]) for payload in payloads for story in payload["stories"])
    return sum(1 for n in counts.values() if n > 1), len(payloads), pending or 0


def run(
    database: str, trials: int, processes: int, stories: int, work: Path, channel: str | None
) -> None:
    config = work / f"config-{channel is not None}.toml"
    subscription = f'[[subscriptions]]\nchannel = "{channel}"\nschedule = "instant"\n'
    config.write_text(
        '[adapters]\nenabled = ["terminal"]\n[digest]\n'
        f"max_stories = {stories * 2}\nshow_new_sources = false\n"
        + (subscription if channel else ""),
        encoding="utf-8",
    )
    row = f"{database} ({'subscription' if channel else 'digest'})"

    def measure(url: str) -> None:
        engine = create_database_engine(url)
        migrate(engine)
        sessions = session_factory(engine)
        add_pending_stories(sessions, stories)
        duplicated_trials = lost_trials = repeats = queued_twice = split = left = 0
        try:
            for number in range(trials):
                reset_posting(sessions)
                directory = work / f"{database}-{channel is not None}-{number}"
                repeated, seen = trial(url, directory, processes, config)
                twice, digests, pending = queued_repeats(sessions, channel)
                left += pending
                repeats += repeated
                duplicated_trials += repeated > 0 or twice > 0
                queued_twice += twice
                lost_trials += seen < stories
                split += digests > 1
        finally:
            engine.dispose()
        print(
            f"{row:26}  {trials} trials of {processes} concurrent digests, {stories} stories: "
            f"{duplicated_trials} trials with duplicates ({queued_twice} stories queued twice, "
            f"{repeats} repeats printed), {lost_trials} with lost stories, "
            f"{split} with the stories split over several digests, {left} messages left pending"
        )

    if database == "sqlite":
        measure(f"sqlite:///{work / f'bench-{channel is not None}.db'}")
        return
    reason = postgres_available()
    if reason:
        print(f"{row:26}  skipped: {reason}")
        return
    with scratch_postgres_database() as url:
        measure(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--stories", type=int, default=12)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.processes, args.stories = 1, 2, 2
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory(prefix="mad-replicas-") as work:
        for database in databases:
            for channel in (None, SUBSCRIBED):
                run(database, args.trials, args.processes, args.stories, Path(work), channel)


if __name__ == "__main__":
    main()
