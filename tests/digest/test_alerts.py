"""Breaking alerts (issue 23, point 3): a story that reaches ``alert_sources`` outlets within
``alert_hours`` is posted right after the poll that found it, once, with a floor on how often
a channel is interrupted. Real core, real slack-sdk client, fake Web API on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.registry import select_adapters
from bot.config import load_settings
from bot.digest.builder import alert_candidates
from bot.pipeline import DigestBot
from bot.scheduler import BotJobs
from bot.store.schema import Story
from tests.fakes.feed_server import HEADLINES, FeedServer, serve_scoop
from tests.fakes.slack_api import DIGEST_CHANNEL, OTHER_CHANNEL, FakeSlack
from tests.helpers import allow_local, write_config


def alerting_bot(
    server: FeedServer,
    tmp_path: Path,
    env: dict[str, str],
    outlets: int,
    gap: int = 60,
    alerts: str = "true",
    extra_config: str = "",
) -> DigestBot:
    feeds = [
        (f"Outlet {n}", serve_scoop(server, f"/o{n}", HEADLINES[n], 10 * (n + 1)))
        for n in range(outlets)
    ]
    extra = (
        f'[adapters]\nenabled = ["slack"]\n[digest]\nalerts = {alerts}\nalert_sources = 5\n'
        f"alert_gap_minutes = {gap}\n" + allow_local(server.port) + extra_config
    )
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra)
    settings = load_settings(config, env={})
    adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    return DigestBot.migrated(settings, adapters, env=env)


async def test_five_outlets_within_a_day_post_at_once_and_the_digest_does_not_repeat_it(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        bot = alerting_bot(feed_server, tmp_path, slack.http_mode_env(), outlets=5)
        try:
            await BotJobs(bot, bot.settings.schedule).poll()  # the poll posts the alert
            [alert] = slack.bodies("chat.postMessage")
            assert "Breaking Meta AI news" in str(alert["blocks"][0])
            assert "Llama 5" in str(alert["blocks"])
            result = await bot.digests.post(max_wait_seconds=0)
            assert result.digest.stories == []  # posted once: the digest has nothing new
            assert len(slack.bodies("chat.postMessage")) == 1
        finally:
            await bot.close_adapters()
            bot.close()


async def test_four_outlets_wait_for_the_digest(feed_server: FeedServer, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        bot = alerting_bot(feed_server, tmp_path, slack.http_mode_env(), outlets=4)
        try:
            await BotJobs(bot, bot.settings.schedule).poll()
            assert slack.bodies("chat.postMessage") == []
            result = await bot.digests.post(max_wait_seconds=0)
            [story] = result.digest.stories
            assert "Llama 5" in story.title and len(story.sources) == 4
            assert "Meta AI digest" in str(slack.bodies("chat.postMessage")[0]["blocks"][0])
        finally:
            await bot.close_adapters()
            bot.close()


async def test_a_second_alert_within_the_gap_waits(feed_server: FeedServer, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        bot = alerting_bot(feed_server, tmp_path, slack.http_mode_env(), outlets=5)
        try:
            jobs = BotJobs(bot, bot.settings.schedule)
            await jobs.poll()
            assert len(slack.bodies("chat.postMessage")) == 1
            # A second event reaches five outlets: within the gap it is held for later.
            for n in range(5):
                title = f"Meta buys AI robotics startup Foo Robotics for $2 billion {n}"
                lead = "Meta agreed to buy Foo Robotics, a startup building AI for robots."
                serve_scoop(feed_server, f"/o{n}", title, 5, lead)
            await bot.poll(force=True)  # the feeds are not due yet: polled now, as `poll --force`
            await jobs.alert()
            assert len(slack.bodies("chat.postMessage")) == 1
            with bot.sessions() as session:  # it is due, and held back by the gap alone
                [due] = alert_candidates(session, bot.settings.digest, datetime.now(UTC))
                assert "Foo Robotics" in session.get(Story, due).title
            assert bot.digests.queue_alert() is None
        finally:
            await bot.close_adapters()
            bot.close()


async def test_a_subscription_that_asks_for_alerts_gets_one_after_the_poll(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Alerts off for the default digest; one channel's weekly subscription asks for them."""
    subscription = (
        f'[[subscriptions]]\nchannel = "slack:{OTHER_CHANNEL}"\nschedule = "weekly"\n'
        "alerts = true\n"
    )
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        bot = alerting_bot(feed_server, tmp_path, env, 5, alerts="false", extra_config=subscription)
        try:
            await BotJobs(bot, bot.settings.schedule).poll()  # the poll's cycle posts it
            [alert] = slack.bodies("chat.postMessage")
            assert alert["channel"] == OTHER_CHANNEL
            assert "Breaking Meta AI news" in str(alert["blocks"][0])
            await bot.digests.post(max_wait_seconds=0)  # the default digest, elsewhere
            channels = [body["channel"] for body in slack.bodies("chat.postMessage")]
            assert channels == [OTHER_CHANNEL, DIGEST_CHANNEL]
        finally:
            await bot.close_adapters()
            bot.close()
