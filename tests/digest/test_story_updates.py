"""Threaded updates (issue 23, point 2): when a posted story gains outlets, the next digest
does not post it again; the update goes as a reply in the thread of the story's post (Slack
``thread_ts``, a Discord message reference) saying what is new. Real core, real slack-sdk and
discord.py clients, fake APIs on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.adapters.registry import select_adapters
from bot.config import load_settings
from bot.pipeline import DigestBot
from bot.store.schema import OutboxMessage
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.feed_server import HEADLINES, FeedServer, serve_scoop
from tests.fakes.slack_api import DIGEST_CHANNEL, FakeSlack
from tests.helpers import allow_local, write_config


def scoop_bot(
    server: FeedServer, tmp_path: Path, env: dict[str, str], adapter: str, extra: str = ""
) -> DigestBot:
    """Three outlets in the config; the first two carry the scoop now, the third later.
    ``extra``: more of the config file (``[[subscriptions]]``)."""
    feeds = [(f"Outlet {n}", server.url(f"/o{n}")) for n in range(3)]
    for n in range(2):
        serve_scoop(server, f"/o{n}", HEADLINES[n], 30 - n)
    server.serve("/o2", "<?xml version='1.0'?><rss version='2.0'><channel/></rss>")
    extra = f'[adapters]\nenabled = ["{adapter}"]\n' + allow_local(server.port) + "\n" + extra
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra)
    settings = load_settings(config, env={})
    adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    return DigestBot.migrated(settings, adapters, env=env)


async def post_then_grow(bot: DigestBot, server: FeedServer) -> None:
    """Post the story with two outlets; a third outlet covers it; the next digest runs."""
    await bot.poll()
    first = await bot.digests.post(max_wait_seconds=0)
    assert len(first.digest.stories) == 1
    serve_scoop(server, "/o2", HEADLINES[2], 5)
    await bot.poll(force=True)
    second = await bot.digests.post(max_wait_seconds=0)
    assert second.digest.stories == []  # not posted again as an entry
    assert second.queued_messages == 1  # the update


async def test_slack_an_update_replies_in_the_thread_of_the_storys_post(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        bot = scoop_bot(feed_server, tmp_path, slack.http_mode_env(), "slack")
        try:
            await post_then_grow(bot, feed_server)
            with bot.sessions() as session:
                posted_ts = session.scalar(
                    select(OutboxMessage.platform_message_id).order_by(OutboxMessage.id)
                )
        finally:
            await bot.close_adapters()
            bot.close()
        post, reply = slack.calls_to("chat.postMessage")
        assert post.body["channel"] == reply.body["channel"] == DIGEST_CHANNEL
        assert "thread_ts" not in post.body
        assert posted_ts and reply.body["thread_ts"] == posted_ts
        assert "Update on" in reply.body["text"] and "+1 source (Outlet 2)" in reply.body["text"]


async def test_discord_an_update_is_a_reply_to_the_storys_post(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeDiscord() as discord_api:
        bot = scoop_bot(feed_server, tmp_path, discord_api.bot_env(guild=False), "discord")
        try:
            await post_then_grow(bot, feed_server)
        finally:
            await bot.close_adapters()
            bot.close()
        post, reply = discord_api.messages
        assert str(reply["message_reference"]["message_id"]) == post["id"]
        assert "Update on" in reply["content"] and "+1 source (Outlet 2)" in reply["content"]
