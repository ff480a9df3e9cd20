"""``kill -9`` at random moments loses no story and posts none twice.

The real ``meta-ai-digest run`` runs as a separate process against a local feed
and two local chat platforms: a Slack incoming webhook (no idempotency: a
message in flight at the kill may arrive twice, the documented exception) and
Discord in bot mode (the outbox key is the message nonce, sent with
``enforce_nonce``: not even that message is duplicated). The process is
killed with SIGKILL several times at seeded random moments, some while a
message is in flight, then run to completion and stopped with SIGTERM. The
test counts what each platform received.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook_sink import SlackWebhookSink, ThreadedFakeDiscord
from tests.harness import BotProcess, eventually

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario

SEED = 20261123
KILLS = 4
STORIES = 12
STORIES_PER_DIGEST = 2
# Made-up words: the story stage can never take two of these stories for one.
WORDS = ["ambrel", "brisk", "corvex", "dunlin", "egret", "fennel"]
WORDS += ["gorse", "hazel", "ibex", "jasper", "kestrel", "loam"]


def token(index: int) -> str:
    return f"crashstory{index:02d}"


def story_feed(now: datetime) -> str:
    items = "".join(
        f"<item><title>{token(i)} {WORDS[i]} {WORDS[(i * 5 + 3) % len(WORDS)]}zz</title>"
        f"<link>https://crash.example/{token(i)}</link><guid>{token(i)}</guid>"
        f"<description>The {WORDS[i]} report number {i} says something new.</description>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=i), usegmt=True)}</pubDate></item>"
        for i in range(STORIES)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Crash</title>'
    return f"{head}{items}</channel></rss>"


def tokens_in(message: object) -> set[str]:
    dumped = json.dumps(message)
    return {token(i) for i in range(STORIES) if token(i) in dumped}


def outbox_states(database: Path) -> dict[str, int]:
    """Outbox rows by status, read the way any other process would."""
    if not database.exists():
        return {"pending": -1}
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            query = text("SELECT status, count(*) FROM outbox GROUP BY status")
            return {status: count for status, count in connection.execute(query)}
    except Exception:  # not migrated yet
        return {"pending": -1}
    finally:
        engine.dispose()


def kill_after(bot: BotProcess, seconds: float) -> None:
    """``kill -9`` at a chosen moment: the bot runs ``seconds`` more (and must not exit on
    its own meanwhile), then it and its process group are killed."""
    with pytest.raises(subprocess.TimeoutExpired):
        bot.process.wait(timeout=seconds)
    bot.kill()


World = tuple[Path, dict[str, str], SlackWebhookSink, ThreadedFakeDiscord]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    feeds = FeedServer().start()
    # Slack answers 0.15-0.45 s after it posted: a kill in that window leaves the
    # bot not knowing its message arrived, the in-flight case.
    slack = SlackWebhookSink(latency=(0.15, 0.45), seed=SEED).start()
    discord = ThreadedFakeDiscord().start()
    try:
        url = feeds.serve("/crash.xml", story_feed(datetime.now(UTC)))
        config = tmp_path / "config.toml"
        config.write_text(
            "\n".join(
                [
                    "[[feeds]]",
                    'name = "Crash feed"',
                    f'url = "{url}"',
                    'topic = "all"',
                    "[database]",
                    f'url = "sqlite:///{tmp_path / "bot.db"}"',
                    "[schedule]",
                    "poll_interval_minutes = 0.05",
                    "digest_interval_minutes = 0.015",
                    "[digest]",
                    f"max_stories = {STORIES_PER_DIGEST}",
                    "show_new_sources = false",
                    "[adapters.slack]",
                    "min_seconds_between_messages = 0",
                ]
            ),
            encoding="utf-8",
        )
        env = {**slack.env, **discord.fake.bot_env(guild=False)}
        yield config, env, slack, discord
    finally:
        discord.stop()
        slack.stop()
        feeds.stop()


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_only_in_flight(
    world: World, tmp_path: Path
) -> None:
    config, env, slack, discord = world
    rng = random.Random(SEED)
    log = tmp_path / "bot.log"
    args = ["--log-level", "INFO", "--config", str(config), "run"]
    kills: list[str] = []
    everything = {token(i) for i in range(STORIES)}

    def slack_has_everything() -> bool:
        return everything <= set().union(*map(tokens_in, slack.snapshot()))

    for run in range(KILLS):
        received_before = len(slack.snapshot())
        with BotProcess(args, log=log, env=env) as bot:
            if run % 2 == 0 and not slack_has_everything():
                # Right after Slack accepted a message: while its answer is on the way.
                eventually(
                    lambda n=received_before: len(slack.snapshot()) > n,  # type: ignore[misc]
                    timeout=25,
                    message=bot.tail,
                )
                pause = rng.uniform(0.0, 0.12)
                kills.append(f"run {run}: {pause:.2f}s after Slack accepted a message")
            else:
                # Odd runs, and even ones once an earlier run (a slow machine's long one)
                # has posted every story to Slack: no message is left to kill after.
                pause = rng.uniform(0.5, 7.0)  # anywhere: start-up, polling, posting
                kills.append(f"run {run}: {pause:.2f}s after start")
            kill_after(bot, pause)

    database = tmp_path / "bot.db"
    with BotProcess(args, log=log, env=env) as bot:
        eventually(
            lambda: (
                everything <= set().union(*map(tokens_in, slack.snapshot()))
                and everything <= set().union(*map(tokens_in, discord.messages()))
                and "meta-ai-digest running" in bot.output()
                and outbox_states(database).get("pending", 0) == 0
            ),
            timeout=45,
            message=lambda: f"not everything arrived; bot log tail:\n{bot.tail()}",
        )
        exit_code, stop_seconds = bot.stop(signal.SIGTERM, timeout=15)
    # A last retry or duplicate from the bot has arrived by now: the fakes recorded a
    # marker of the test's own, sent after the bot exited. Only bot messages count below.
    slack.mark()
    discord.mark()

    slack_messages = [message for message in slack.snapshot() if not message.get("marker")]
    discord_messages = discord.messages()
    slack_counts = Counter(json.dumps(message, sort_keys=True) for message in slack_messages)
    slack_repeats = sum(count - 1 for count in slack_counts.values())
    slack_story_messages = Counter(t for dumped in slack_counts for t in tokens_in(dumped))
    discord_stories = Counter(t for message in discord_messages for t in tokens_in(message))
    print(
        f"\ncrash test (seed {SEED}): {len(kills)} kills: " + "; ".join(kills),
        f"\nSlack: {len(slack_messages)} messages received, {len(slack_counts)} distinct, "
        f"{slack_repeats} in-flight repeats; Discord: {discord.message_posts()} message posts, "
        f"{len(discord_messages)} messages created for {len(discord_stories)} stories; "
        f"SIGTERM exit in {stop_seconds:.1f}s",
    )
    # Nothing lost, nothing twice: each story is in exactly one distinct message per platform ...
    assert slack_story_messages == Counter(dict.fromkeys(sorted(everything), 1))
    assert discord_stories == Counter(dict.fromkeys(sorted(everything), 1))
    # ... Discord created no message twice (nonce) and Slack repeated at most one per kill.
    assert len(discord_messages) == STORIES // STORIES_PER_DIGEST
    assert slack_repeats <= KILLS
    assert exit_code == 0 and stop_seconds < 10
    assert outbox_states(tmp_path / "bot.db") == {"sent": 2 * STORIES // STORIES_PER_DIGEST}
