"""SIGTERM and Ctrl-C: the message being posted finishes, nothing new starts, the
process exits within 10 seconds. Runs the real ``meta-ai-digest run``."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook_sink import SlackWebhookSink
from tests.harness import BotProcess, eventually

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
        yield ["--log-level", "INFO", "--config", str(config), "run"], slack.env, slack
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
    args, env, slack = setup
    with BotProcess(args, log=tmp_path / "run.log", env=env) as bot:
        # Slack has posted the first message and takes 3 s to say so.
        eventually(lambda: len(slack.snapshot()) == 1, timeout=40, message=bot.tail)
        code, stopped_after = bot.stop(signum, timeout=15)
        output_text = bot.output()
    assert code == 0, output_text[-3000:]
    assert stopped_after < 10
    assert stopped_after >= SLOW_POST_SECONDS - 0.5  # it did wait for Slack's answer
    assert "stopping" in output_text, output_text[-3000:]
    assert "Traceback" not in output_text, output_text[-6000:]
    # No new message was started after the signal: a marker posted now, after the exit,
    # is the next thing the sink recorded.
    slack.mark()
    assert [bool(message.get("marker")) for message in slack.snapshot()] == [False, True]
    states = outbox_states(tmp_path / "bot.db")
    assert states.get("sent") == 1  # the one in flight was confirmed and recorded
