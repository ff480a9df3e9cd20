"""Subscriptions (issue 23, points 1-3): each channel its own filter, schedule and form;
updates in the thread of the channel's own post; breaking alerts; one post per story per
subscription however many processes run. Real core and database, real slack-sdk client
against the fake Slack API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.adapters.base import ChatAdapter
from bot.config import ConfigError, Settings, load_settings
from bot.digest.model import Digest
from bot.digest.subscriptions import SubscriptionSpec, next_post
from bot.pipeline import DigestBot
from bot.store.schema import DigestRecord, OutboxMessage, Story
from bot.store.search import index_stories
from tests.builders import slack_adapter
from tests.digest.test_story_updates import scoop_bot
from tests.fakes.discord_api import ADMIN_CHANNEL_ID, CHANNEL_ID, FakeDiscord
from tests.fakes.feed_server import HEADLINES, FeedServer, serve_scoop
from tests.fakes.slack_api import DIGEST_CHANNEL, OTHER_CHANNEL, FakeSlack
from tests.helpers import write_config
from tests.replicas import add_pending_stories, add_sources

SUBSCRIBED = f"slack:{OTHER_CHANNEL}"


def subscription(channel: str = SUBSCRIBED, **keys: object) -> str:
    """A ``[[subscriptions]]`` table of the config file."""
    lines = ["[[subscriptions]]", f'channel = "{channel}"']
    for key, value in keys.items():
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        lines.append(f"{key} = {shown}".replace("'", '"'))
    return "\n".join(lines) + "\n"


def story_kind(bot: DigestBot) -> str | None:
    with bot.sessions() as session:
        return session.scalar(select(Story.kind))


def posted_to(slack: FakeSlack, channel: str) -> list[str]:
    """Each message posted to ``channel``: its text and blocks, as JSON."""
    return [
        json.dumps(call.body, ensure_ascii=False)
        for call in slack.calls_to("chat.postMessage")
        if call.body["channel"] == channel
    ]


# ------------------------------------------------------------------ filtering by channel
async def test_a_channel_gets_the_kinds_it_subscribed_to_and_leaves_the_default_digest(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        extra = subscription(kinds=["models"], schedule="instant", form="compact")
        bot = scoop_bot(feed_server, tmp_path, slack.http_mode_env(), "slack", extra)
        try:
            await bot.poll()
            assert story_kind(bot) == "models"
            posted = await bot.subscriptions.post_due()
            default = await bot.digests.post(max_wait_seconds=0)
            again = await bot.subscriptions.post_due()
        finally:
            await bot.close_adapters()
            bot.close()
    assert [len(digest.stories) for digest in posted] == [1] and posted[0].form == "compact"
    assert again == []  # posted once to the channel
    [compact] = posted_to(slack, OTHER_CHANNEL)
    assert HEADLINES[0][:30] in compact or HEADLINES[1][:30] in compact
    assert "2 outlets" in compact
    # The default digest goes to the configured channel only, not to the subscribed one.
    assert len(default.digest.stories) == 1
    assert len(posted_to(slack, DIGEST_CHANNEL)) == 1


async def test_a_channel_subscribed_to_other_kinds_gets_nothing(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        extra = subscription(kinds=["policy", "deals"], schedule="instant")
        bot = scoop_bot(feed_server, tmp_path, slack.http_mode_env(), "slack", extra)
        try:
            await bot.poll()
            posted = await bot.subscriptions.post_due()
            await bot.digests.post(max_wait_seconds=0)
        finally:
            await bot.close_adapters()
            bot.close()
    assert story_kind(bot) == "models" and posted == []
    assert posted_to(slack, OTHER_CHANNEL) == []
    assert len(posted_to(slack, DIGEST_CHANNEL)) == 1


async def test_a_subscriptions_update_replies_in_the_thread_of_its_own_post(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        extra = subscription(schedule="instant")
        bot = scoop_bot(feed_server, tmp_path, slack.http_mode_env(), "slack", extra)
        try:
            await bot.poll()
            await bot.subscriptions.post_due()
            serve_scoop(feed_server, "/o2", HEADLINES[2], 5)
            await bot.poll(force=True)
            later = await bot.subscriptions.post_due()
            with bot.sessions() as session:
                posted_ts = session.scalar(
                    select(OutboxMessage.platform_message_id)
                    .where(OutboxMessage.destination == OTHER_CHANNEL)
                    .order_by(OutboxMessage.id)
                )
        finally:
            await bot.close_adapters()
            bot.close()
    assert [digest.stories for digest in later] == [[]]  # an update, not the story again
    post, reply = [
        c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == OTHER_CHANNEL
    ]
    assert "thread_ts" not in post.body and reply.body["thread_ts"] == posted_ts
    assert "+1 source (Outlet 2)" in reply.body["text"]


# ------------------------------------------------------------------ the rules, on stored stories
def settings_with(tmp_path: Path, database_url: str, extra: str = "") -> Settings:
    config = write_config(tmp_path / "c.toml", [], None, extra)
    return load_settings(config, env={"DATABASE_URL": database_url})


def make_bot(settings: Settings, slack: FakeSlack, database_url: str) -> DigestBot:
    adapters: list[ChatAdapter] = [slack_adapter(slack, [DIGEST_CHANNEL])]
    return DigestBot.migrated(settings, adapters, env={"DATABASE_URL": database_url})


def posts_per_story(sessions: sessionmaker[Session], channel: str) -> Counter[str]:
    """How many of the channel's records (each queued in the outbox) carried each story."""
    with sessions() as session:
        records = session.scalars(select(DigestRecord)).all()
        queued = set(session.scalars(select(OutboxMessage.digest_id)))
    return Counter(
        story["id"]
        for record in records
        if record.payload.get("channel") == channel and record.id in queued
        for story in record.payload["stories"]
    )


async def test_two_processes_post_each_story_once_per_subscription(
    tmp_path: Path, database_url: str
) -> None:
    """Replicas run the same subscriptions at the same moments: every story reaches the
    channel once (instant and every-minute schedules, rounds of new stories between)."""
    extra = subscription(schedule="instant") + subscription(
        f"slack:{DIGEST_CHANNEL}", schedule="* * * * *"
    )
    async with FakeSlack() as slack:
        settings = settings_with(tmp_path, database_url, extra)
        bots = [make_bot(settings, slack, database_url) for _ in range(2)]
        try:
            expected: list[int] = []
            start = datetime.now(UTC)
            for round_ in range(6):
                expected += add_pending_stories(bots[0].sessions, 5)
                now = start + timedelta(minutes=round_ + 1)
                gate = threading.Barrier(2)

                def run(
                    bot: DigestBot, at: datetime = now, barrier: threading.Barrier = gate
                ) -> None:
                    barrier.wait()
                    bot.subscriptions.queue_due(at)

                threads = [threading.Thread(target=run, args=(bot,)) for bot in bots]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            for bot in bots:
                bot.close()
    want = Counter(str(story_id) for story_id in expected)
    assert posts_per_story(bots[0].sessions, SUBSCRIBED) == want
    assert posts_per_story(bots[0].sessions, f"slack:{DIGEST_CHANNEL}") == want


def run_at_once(bot: DigestBot, gate: threading.Barrier, now: datetime) -> None:
    """One replica's run of the subscriptions, released with the others'."""
    gate.wait()
    bot.subscriptions.queue_due(now)


async def test_a_cron_subscription_posts_when_its_time_falls_in_its_zone(
    tmp_path: Path, database_url: str
) -> None:
    extra = subscription(schedule="weekdays", timezone="Asia/Tokyo", min_outlets=2)
    async with FakeSlack() as slack:
        bot = make_bot(settings_with(tmp_path, database_url, extra), slack, database_url)
        try:
            [single, covered] = add_pending_stories(bot.sessions, 2)
            add_sources(bot.sessions, covered, 1)
            [info] = bot.subscriptions.infos()
            due = info.next_post
            assert due is not None and due.astimezone(UTC).hour == 0  # 09:00 in Tokyo
            assert due.weekday() < 5 and due == next_post(
                "0 9 * * mon-fri", "Asia/Tokyo", due - timedelta(minutes=1)
            )
            before = bot.subscriptions.queue_due(due - timedelta(seconds=1))
            at_time = bot.subscriptions.queue_due(due)
            later = bot.subscriptions.queue_due(due + timedelta(seconds=30))
        finally:
            bot.close()
    assert before == [] and later == []
    [digest] = at_time
    assert [story.id for story in digest.stories] == [str(covered)]  # 2 outlets, not 1
    assert single != covered


async def test_words_select_stories_as_the_meta_ai_search_does(
    tmp_path: Path, database_url: str
) -> None:
    extra = subscription(schedule="instant", words="datacenter")
    async with FakeSlack() as slack:
        bot = make_bot(settings_with(tmp_path, database_url, extra), slack, database_url)
        try:
            ids = add_pending_stories(bot.sessions, 3)
            with bot.sessions.begin() as session:
                session.execute(
                    update(Story)
                    .where(Story.id == ids[1])
                    .values(title="Meta plans a new datacenters campus in Louisiana")
                )
                index_stories(session, ids)
            [digest] = bot.subscriptions.queue_due()
        finally:
            bot.close()
    assert [story.id for story in digest.stories] == [str(ids[1])]


async def test_an_alert_goes_at_once_when_a_story_reaches_its_outlets_at_most_hourly(
    tmp_path: Path, database_url: str
) -> None:
    """An alerts-only channel: no scheduled post, breaking stories and its words at once."""
    extra = subscription(schedule="never", alerts=True, alert_words="superintelligence")
    async with FakeSlack() as slack:
        bot = make_bot(settings_with(tmp_path, database_url, extra), slack, database_url)
        try:
            [named, quiet, big, later_big] = add_pending_stories(bot.sessions, 4)
            with bot.sessions.begin() as session:
                session.execute(
                    update(Story)
                    .where(Story.id == named)
                    .values(title="Meta's superintelligence lab hires a chief scientist")
                )
                index_stories(session, [named])
            add_sources(bot.sessions, big, 4)  # 5 outlets within the hour
            [alert] = alerts(bot.subscriptions.queue_due())
            add_sources(bot.sessions, later_big, 4)
            within_the_hour = alerts(bot.subscriptions.queue_due())
            in_an_hour = datetime.now(UTC) + timedelta(minutes=61)
            [next_alert] = alerts(bot.subscriptions.queue_due(in_an_hour))
            add_sources(bot.sessions, big, 1)  # an alerted story grows: its update follows
            [grown] = bot.subscriptions.queue_due(in_an_hour)
        finally:
            bot.close()
    assert grown.stories == [] and [u.story.id for u in grown.updates] == [str(big)]
    assert {s.id for s in alert.stories} == {str(big), str(named)}
    assert within_the_hour == []  # [digest] alert_gap_minutes
    assert [s.id for s in next_alert.stories] == [str(later_big)]
    assert str(quiet) not in {s.id for s in [*alert.stories, *next_alert.stories]}


def alerts(digests: list[Digest]) -> list[Digest]:
    """What a run of an alerts-only subscription queued: alerts, never a scheduled post
    (and no update here: no alerted story grew)."""
    assert all(digest.kind == "alert" for digest in digests)
    return digests


# ------------------------------------------------------------------ the config file
async def test_config_subscriptions_follow_the_file_and_chat_ones_stay(
    tmp_path: Path, database_url: str
) -> None:
    async with FakeSlack() as slack:
        first = settings_with(
            tmp_path, database_url, subscription(kinds=["research"], form="compact")
        )
        bot = make_bot(first, slack, database_url)
        chat_made = SubscriptionSpec(channel="slack:C0CHAT", kinds=["people"])
        bot.subscriptions.subscribe(chat_made, origin="chat", by="Slack user U1")
        assert [i.channel for i in bot.subscriptions.infos()] == [SUBSCRIBED, "slack:C0CHAT"]
        bot.close()
        # The file no longer lists the channel: its subscription goes, the chat one stays.
        second = make_bot(settings_with(tmp_path, database_url), slack, database_url)
        [left] = second.subscriptions.infos()
        second.close()
    assert left.channel == "slack:C0CHAT" and left.origin == "chat"
    assert left.description.startswith("people;")


@pytest.mark.parametrize(
    ("table", "named"),
    [
        (subscription(kinds=["gossip"]), "unknown kind gossip"),
        (subscription(channel="C0123"), "<adapter>:<destination>"),
        (subscription(schedule="every day"), "instant, never, hourly, daily"),
        (subscription(timezone="Mars/Olympus"), "IANA time zone"),
        (subscription(form="tiny"), "form"),
        (subscription() + subscription(), "has two [[subscriptions]]"),
    ],
)
def test_a_wrong_subscription_in_the_file_names_the_fix(
    tmp_path: Path, table: str, named: str
) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db", table)
    with pytest.raises(ConfigError) as error:
        load_settings(config, env={})
    assert named in str(error.value)


async def test_discord_a_subscribed_channel_gets_its_kinds_and_its_updates_as_replies(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The real discord.py client: the subscribed channel gets the story and then a reply
    to its own post; the configured channel gets the default digest."""
    extra = subscription(f"discord:{ADMIN_CHANNEL_ID}", kinds=["models"], schedule="instant")
    async with FakeDiscord() as discord_api:
        env = discord_api.bot_env(guild=False)
        bot = scoop_bot(feed_server, tmp_path, env, "discord", extra)
        try:
            await bot.poll()
            await bot.subscriptions.post_due()
            await bot.digests.post(max_wait_seconds=0)
            serve_scoop(feed_server, "/o2", HEADLINES[2], 5)
            await bot.poll(force=True)
            await bot.subscriptions.post_due()
        finally:
            await bot.close_adapters()
            bot.close()
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for message in discord_api.messages:
        by_channel.setdefault(str(message["channel_id"]), []).append(message)
    post, reply = by_channel[str(ADMIN_CHANNEL_ID)]
    assert "Llama 5" in json.dumps(post) and "message_reference" not in post
    assert str(reply["message_reference"]["message_id"]) == post["id"]
    assert "+1 source (Outlet 2)" in reply["content"]
    assert len(by_channel[str(CHANNEL_ID)]) == 1  # the default digest only, not the update
