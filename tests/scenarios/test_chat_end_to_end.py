"""The whole bot with a real chat adapter: feeds → DigestBot → Slack/Discord clients → fake APIs.

The adapters are chosen by the registry from environment variables, exactly as
in production; only the API base URLs point at local fakes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.discord import DiscordAdapter
from bot.adapters.registry import select_adapters
from bot.config import Settings, load_settings
from bot.pipeline import DigestBot
from bot.services.reports import status_lines
from tests.fakes.discord_api import (
    APPLICATION_ID,
    CHANNEL_ID,
    FakeDiscord,
    interaction_create,
)
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import (
    BOT_TOKEN,
    DIGEST_CHANNEL,
    SIGNING_SECRET,
    FakeSlack,
    signed_headers,
    slash_command_body,
)
from tests.helpers import fresh_feed, write_config

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario


def llama_feeds(server: FeedServer) -> list[tuple[str, str]]:
    return [
        ("Outlet A", server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))),
        (
            "Outlet B",
            server.serve("/b.xml", fresh_feed("outlet-b-atom.xml"), "application/atom+xml"),
        ),
    ]


def bot_with_adapters(
    tmp_path: Path, feeds: list[tuple[str, str]], env: dict[str, str]
) -> DigestBot:
    extra = "[adapters.slack]\nmin_seconds_between_messages = 0\nretry_backoff_seconds = 0.01\n"
    settings: Settings = load_settings(
        write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra), env={}
    )
    adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    return DigestBot.migrated(settings, adapters, env=env)


async def slash_command(port: int, text: str, response_url: str) -> int:
    body = slash_command_body(text, response_url)
    headers = signed_headers(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers
        ) as response,
    ):
        return response.status


def message_text(message: dict[str, Any]) -> str:
    parts = [str(message.get("text", ""))]
    for block in message.get("blocks", []):
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        parts.extend(str(element.get("text", "")) for element in block.get("elements", []))
    return "\n".join(parts)


async def test_slack_digest_and_meta_ai_command_through_the_real_core(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        bot = bot_with_adapters(tmp_path, llama_feeds(feed_server), env)
        assert [adapter.name for adapter in bot.adapters] == ["slack"]
        adapter = bot.adapters[0]
        await adapter.start(bot.commands)
        try:
            # An empty database answers kindly.
            assert await slash_command(adapter.http_port, "", slack.response_url("empty")) == 200  # type: ignore[attr-defined]
            await slack.wait_for(lambda: len(slack.bodies("response")) == 1)
            assert "No Meta AI news" in message_text(slack.bodies("response")[0])

            await bot.poll()
            result = await bot.digests.post(max_wait_seconds=5)
            assert result.delivery is not None and result.delivery.sent >= 1
            posted = slack.bodies("chat.postMessage")
            assert posted and all(message["channel"] == DIGEST_CHANNEL for message in posted)
            text = "\n".join(message_text(message) for message in posted)
            assert "Llama 4" in text and "Outlet A" in text and "Outlet B" in text
            assert "MacBook" not in text and "Vermont" not in text

            # A second digest posts nothing new.
            await bot.digests.post(max_wait_seconds=5)
            assert len(slack.bodies("chat.postMessage")) == len(posted)

            # /meta-ai answers with the same stories as `latest`.
            assert (
                await slash_command(adapter.http_port, "maverick", slack.response_url("q")) == 200
            )  # type: ignore[attr-defined]
            await slack.wait_for(lambda: len(slack.bodies("response")) == 2)
            answer = message_text(slack.bodies("response")[1])
            latest = await bot.commands.latest("maverick")
            assert latest.stories and latest.stories[0].title.split(",")[0] in answer
        finally:
            await adapter.close()
            bot.close()


async def test_slack_searches_whole_words_and_survives_any_input(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """/meta-ai WORDS through the real Slack HTTP endpoint and the real full-text search."""
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        bot = bot_with_adapters(tmp_path, llama_feeds(feed_server), env)
        adapter = bot.adapters[0]
        await adapter.start(bot.commands)
        queries = {
            "stemmed": "llamas",
            "phrase": '"llama 4 scout"',
            "nothing": "quantum",
            "no-words": '" * -',
            "hostile": 'NEAR("llama" ai:) OR 1=1 --',
        }
        try:
            await bot.poll()
            for name, query in queries.items():
                port = adapter.http_port  # type: ignore[attr-defined]
                assert await slash_command(port, query, slack.response_url(name)) == 200
            await slack.wait_for(lambda: len(slack.bodies("response")) == len(queries))
            answers = {body["name"]: message_text(body) for body in slack.bodies("response")}
        finally:
            await adapter.close()
            bot.close()
    title = "Meta releases Llama 4"
    assert title in answers["stemmed"] and title in answers["phrase"]
    assert "No Meta AI stories of the last 30 days match" in answers["nothing"]
    assert "has no words to search for" in answers["no-words"]
    assert "No Meta AI stories" in answers["hostile"]  # "near", "llama", "ai", "1" and "1"


async def test_a_slack_channel_the_bot_is_not_in_keeps_the_digest_pending(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL_ID": "C0NOTIN01",
            "SLACK_API_URL": slack.api_url,
        }
        bot = bot_with_adapters(tmp_path, llama_feeds(feed_server), env)
        try:
            await bot.poll()
            result = await bot.digests.post(max_wait_seconds=1)
            assert result.delivery is not None and result.delivery.errors
            assert (
                "not_in_channel" in result.delivery.errors[0]
                or "not in" in result.delivery.errors[0]
            )
            with bot.sessions() as session:
                status = "\n".join(status_lines(session))
            assert "BLOCKED" in status and "slack" in status
            assert BOT_TOKEN not in status
        finally:
            await asyncio.gather(*(adapter.close() for adapter in bot.adapters))
            bot.close()


async def test_discord_digest_and_meta_ai_command_through_the_real_core(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeDiscord() as discord_api:
        env = discord_api.bot_env()
        bot = bot_with_adapters(tmp_path, llama_feeds(feed_server), env)
        assert [adapter.name for adapter in bot.adapters] == ["discord"]
        adapter = bot.adapters[0]
        assert isinstance(adapter, DiscordAdapter)
        try:
            await bot.poll()
            result = await bot.digests.post(max_wait_seconds=5)
            assert result.delivery is not None and result.delivery.sent >= 1
            posts = discord_api.made("POST", f"/channels/{CHANNEL_ID}/messages")
            assert posts
            embeds = [embed for post in posts for embed in post.body.get("embeds", [])]
            assert [embed["title"] for embed in embeds] == [
                story.title for story in result.digest.stories
            ]
            assert all(post.body["allowed_mentions"] == {"parse": []} for post in posts)
            assert all(post.body.get("nonce") for post in posts)

            # /meta-ai: the real callback asks the real core.
            await adapter.register_commands(bot.commands)
            assert adapter.client is not None
            adapter.client._connection.parse_interaction_create(  # type: ignore[arg-type]
                interaction_create({"query": "scout"})
            )
            callback = await discord_api.wait_for(lambda r: r.path.endswith("/callback"))
            body = callback.body
            titles = [e["title"] for e in body["data"].get("embeds", [])]
            if body["type"] == 5:  # deferred: the answer is a follow-up
                followup = await discord_api.wait_for(
                    lambda r: (
                        r.method == "POST" and r.path.startswith(f"/webhooks/{APPLICATION_ID}/")
                    )
                )
                titles = [e["title"] for e in followup.body.get("embeds", [])]
            latest = await bot.commands.latest("scout")
            assert titles == [story.title for story in latest.stories] != []
        finally:
            await adapter.close()
            bot.close()
