"""SIGTERM and Ctrl-C: the message being posted finishes, nothing new starts, the
process exits within 10 seconds. Runs the real ``meta-ai-digest run``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook_sink import SlackWebhookSink, wait_until
from tests.helpers import BOT_COMMAND

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario

SLOW_POST_SECONDS = 3.0


def feed(now: datetime) -> str:
    words = ["quillon", "rampart", "sconce", "turret"]
    items = "".join(
        f"<item><title>shutdown{index} {word} story</title>"
        f"<link>https://stop.example/{index}</link>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=index), usegmt=True)}</pubDate></item>"
        for index, word in enumerate(words)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}</channel></rss>'
    )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str], SlackWebhookSink]]:
    feeds = FeedServer().start()
    slack = SlackWebhookSink(latency=(SLOW_POST_SECONDS, SLOW_POST_SECONDS)).start()
    try:
        url = feeds.serve("/s.xml", feed(datetime.now(UTC)))
        config = tmp_path / "config.toml"
        config.write_text(
            f'[[feeds]]\nname = "S"\nurl = "{url}"\ntopic = "all"\n'
            f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
            "[schedule]\npoll_interval_minutes = 0.05\ndigest_interval_minutes = 0.02\n"
            "[digest]\nmax_stories = 1\n"
            "[adapters.slack]\nmin_seconds_between_messages = 0\n",
            encoding="utf-8",
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "DISCORD_", "META_AI_DIGEST_", "DATABASE_URL"))
        }
        env |= {**slack.env, "PYTHONUNBUFFERED": "1"}
        command = [*BOT_COMMAND, "--log-level", "INFO", "--config", str(config), "run"]
        yield command, env, slack
    finally:
        slack.stop()
        feeds.stop()


def outbox_states(database: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT status, count(*) FROM outbox GROUP BY status"))
            return {status: count for status, count in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_lets_the_post_in_flight_finish_and_exits_within_ten_seconds(
    setup: tuple[list[str], dict[str, str], SlackWebhookSink], tmp_path: Path, signum: int
) -> None:
    command, env, slack = setup
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            # Slack has posted the first message and takes 3 s to say so.
            assert wait_until(lambda: len(slack.snapshot()) == 1, timeout=40), log.read_text()
            sent_signal = time.monotonic()
            process.send_signal(signum)
            code = process.wait(timeout=15)
            stopped_after = time.monotonic() - sent_signal
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    output_text = log.read_text(errors="replace")
    assert code == 0, output_text[-3000:]
    assert stopped_after < 10
    assert stopped_after >= SLOW_POST_SECONDS - 0.5  # it did wait for Slack's answer
    assert "stopping" in output_text, output_text[-3000:]
    assert "Traceback" not in output_text, output_text[-6000:]
    time.sleep(0.5)
    assert len(slack.snapshot()) == 1  # no new message was started after the signal
    states = outbox_states(tmp_path / "bot.db")
    assert states.get("sent") == 1  # the one in flight was confirmed and recorded
