"""/meta-ai with the real discord.py: command sync and the callback, no gateway.

Each interaction is the INTERACTION_CREATE payload Discord would send over the
gateway, handed to the client's connection state the way discord.py's gateway
reader does; the fake Discord API records the interaction response and the
follow-ups the real callback sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bot.adapters.base import COMMAND_HELP, PermanentDeliveryError
from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.commands import LOOKUP_FAILED
from bot.digest.model import Digest, DigestSource, DigestStory
from tests.fakes.discord_api import (
    APPLICATION_ID,
    BOT_TOKEN,
    CHANNEL_ID,
    EPHEMERAL_FLAG,
    GUILD_ID,
    FakeDiscord,
    RecordedRequest,
    interaction_create,
)
from tests.harness import eventually_async
from tests.helpers import closed_port

NOW = datetime(2025, 4, 5, 9, 0, tzinfo=UTC)
EMPTY = "No Meta AI stories in the last 24 hours yet. Try again later."


def stories(count: int, about: str = "Llama") -> list[DigestStory]:
    return [
        DigestStory(
            id=f"s{i}",
            title=f"{about} story {i} @here",
            url=f"https://ai.meta.com/blog/{i}/",
            published=NOW,
            summary=[f"Meta shipped {about} {i}. " * 40],
            sources=[DigestSource(title="t", url="https://theverge.com/x", feed="The Verge")],
        )
        for i in range(count)
    ]


class Latest:
    """The core's side of /meta-ai: a digest we build, and a record of the queries."""

    def __init__(self, found: list[DigestStory], delay: float = 0.0) -> None:
        self.found = found
        self.delay = delay
        self.queries: list[str | None] = []

    async def claim(self, key: str) -> bool:
        return True  # one bot: every interaction is its to answer

    async def latest(self, query: str | None = None) -> Digest:
        self.queries.append(query)
        await asyncio.sleep(self.delay)  # a slow core, when a test asks for one
        if not self.found:
            return Digest(generated_at=NOW, kind="latest", empty_message=EMPTY)
        return Digest(generated_at=NOW, kind="latest", stories=self.found)


class Broken:
    async def claim(self, key: str) -> bool:
        return True

    async def latest(self, query: str | None = None) -> Digest:
        raise RuntimeError("database is locked")


def make_adapter(fake: FakeDiscord, guild: bool = True, **options: Any) -> DiscordAdapter:
    env = {
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_TOKEN": BOT_TOKEN,
        "DISCORD_CHANNEL_ID": str(CHANNEL_ID),
    }
    if guild:
        env["DISCORD_GUILD_ID"] = str(GUILD_ID)
    adapter = DiscordAdapter.from_environment(env, options)
    assert adapter is not None
    return adapter


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = make_adapter(fake, defer_after_seconds=0.5)
    yield adapter
    await adapter.close()


async def invoke(
    adapter: DiscordAdapter, handler: Any, options: dict[str, Any] | None = None
) -> None:
    """Register /meta-ai for ``handler`` and deliver one INTERACTION_CREATE for it."""
    await adapter.register_commands(handler)
    assert adapter.client is not None
    adapter.client._connection.parse_interaction_create(interaction_create(options))  # type: ignore[arg-type]
    assert command_tasks(), "the interaction started no command handler"


def is_callback(request: RecordedRequest) -> bool:
    return request.path.endswith("/callback")


def is_followup(request: RecordedRequest) -> bool:
    return request.method == "POST" and request.path.startswith(f"/webhooks/{APPLICATION_ID}/")


def command_tasks() -> list[asyncio.Task[Any]]:
    """discord.py's tasks running a slash command's handler, while they run."""
    return [
        t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker" and not t.done()
    ]


# --- registration -----------------------------------------------------------------------------


async def test_the_command_is_registered_in_the_guild_when_one_is_set(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    await bot.register_commands(Latest([]))

    [sync] = [r for r in fake.requests if r.method == "PUT"]
    assert sync.path == f"/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    [command] = sync.body
    assert command["name"] == "meta-ai"
    assert command["type"] == 1
    options = {o["name"]: o for o in command["options"]}
    assert options["query"]["type"] == 3 and options["query"]["required"] is False
    assert options["share"]["type"] == 5 and options["share"]["required"] is False
    assert fake.commands[GUILD_ID][0]["name"] == "meta-ai"


async def test_the_command_is_registered_globally_without_a_guild(fake: FakeDiscord) -> None:
    adapter = make_adapter(fake, guild=False)
    try:
        await adapter.register_commands(Latest([]))
    finally:
        await adapter.close()

    assert [r.path for r in fake.requests if r.method == "PUT"] == [
        f"/applications/{APPLICATION_ID}/commands"
    ]
    assert [c["name"] for c in fake.commands[None]] == ["meta-ai"]


async def test_a_guild_the_bot_is_not_in_is_a_clear_error(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.guilds.clear()

    with pytest.raises(PermanentDeliveryError, match="DISCORD_GUILD_ID") as caught:
        await bot.register_commands(Latest([]))

    assert "applications.commands" in str(caught.value)


# --- answers ----------------------------------------------------------------------------------


async def test_a_quick_answer_is_the_interaction_response_visible_only_to_the_user(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    handler = Latest(stories(2))

    await invoke(bot, handler, {"query": "llama license"})

    callback = await fake.wait_for(is_callback)
    assert handler.queries == ["llama license"]
    assert callback.body["type"] == 4
    data = callback.body["data"]
    assert data["flags"] & EPHEMERAL_FLAG
    assert data["allowed_mentions"] == {"parse": []}
    assert data["content"] == "**Latest Meta AI news** · 2 stories"
    assert [e["title"] for e in data["embeds"]] == [
        "Llama story 0 @\u200bhere",
        "Llama story 1 @\u200bhere",
    ]
    # The command's handler has run to its end (a follow-up is sent from within it).
    await eventually_async(lambda: not command_tasks())
    assert not [r for r in fake.requests if is_followup(r)]


async def test_share_posts_the_answer_for_the_whole_channel(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    await invoke(bot, Latest(stories(1)), {"share": True})

    callback = await fake.wait_for(is_callback)
    assert callback.body["type"] == 4
    assert not callback.body["data"].get("flags", 0) & EPHEMERAL_FLAG


async def test_a_slow_answer_is_deferred_then_sent_as_a_follow_up(fake: FakeDiscord) -> None:
    adapter = make_adapter(fake, defer_after_seconds=0.05)
    handler = Latest(stories(1), delay=0.4)
    try:
        await invoke(adapter, handler)
        followup = await fake.wait_for(is_followup)
    finally:
        await adapter.close()

    [callback] = [r for r in fake.requests if is_callback(r)]
    assert callback.body["type"] == 5
    assert callback.body["data"]["flags"] & EPHEMERAL_FLAG
    assert handler.queries == [None]
    assert followup.body["flags"] & EPHEMERAL_FLAG
    assert followup.body["allowed_mentions"] == {"parse": []}
    assert followup.body["embeds"][0]["url"] == "https://ai.meta.com/blog/0/"
    assert fake.requests.index(callback) < fake.requests.index(followup)


async def test_a_long_answer_continues_in_follow_ups_in_order(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    found = stories(12)
    parts = len(bot.render(Digest(generated_at=NOW, kind="latest", stories=found)))

    await invoke(bot, Latest(found), {"share": True})

    last = f"({parts}/{parts})"
    await fake.wait_for(lambda r: is_followup(r) and last in (r.body or {}).get("content", ""))
    answers = [r for r in fake.requests if is_callback(r) or is_followup(r)]
    contents = [(r.body.get("data") or r.body)["content"] for r in answers]
    assert parts >= 2
    assert [c.rsplit(" ", 1)[-1] for c in contents] == [
        f"({i}/{parts})" for i in range(1, parts + 1)
    ]
    assert is_callback(answers[0])
    assert all(r.status == 200 for r in answers)
    titles = [e["title"] for r in answers for e in (r.body.get("data") or r.body)["embeds"]]
    assert titles == [f"Llama story {i} @\u200bhere" for i in range(12)]


async def test_an_empty_database_gets_a_friendly_answer(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    await invoke(bot, Latest([]))

    callback = await fake.wait_for(is_callback)
    assert callback.body["data"]["content"] == EMPTY
    assert callback.body["data"].get("embeds", []) == []


async def test_help_shows_the_command_help_without_a_lookup(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    handler = Latest(stories(1))

    await invoke(bot, handler, {"query": " HELP "})

    callback = await fake.wait_for(is_callback)
    assert callback.body["data"]["content"] == COMMAND_HELP
    assert callback.body["data"]["flags"] & EPHEMERAL_FLAG
    assert handler.queries == []


async def test_a_failing_lookup_gets_an_apology_not_silence(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    await invoke(bot, Broken())

    callback = await fake.wait_for(is_callback)
    assert callback.body["data"]["content"] == LOOKUP_FAILED


async def test_interaction_tokens_stay_out_of_the_logs(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(fake, defer_after_seconds=0.0)
    try:
        await invoke(adapter, Latest(stories(1), delay=0.1))
        await fake.wait_for(is_followup)
    finally:
        await adapter.close()

    token = interaction_create()["token"]
    assert "/callback" in caplog.text
    assert token not in caplog.text
    assert BOT_TOKEN not in caplog.text


# --- lifecycle ----------------------------------------------------------------------------------


def gateway_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "discord-gateway" and not t.done()]


async def test_start_registers_returns_keeps_retrying_the_gateway_and_close_ends_it(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # No gateway in tests: point discord.py's gateway at a local port nothing listens on,
    # so the first connection fails the way it does when the network is down at start-up.
    port = closed_port()
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{port}/"))
    adapter = make_adapter(fake)
    try:
        await adapter.start(Latest([]))
        assert fake.commands[GUILD_ID][0]["name"] == "meta-ai"
        assert len(gateway_tasks()) == 1

        await eventually_async(lambda: "Discord gateway connection failed" in caplog.text)
        assert len(gateway_tasks()) == 1, "the gateway task must outlive a failed connection"
    finally:
        await adapter.close()

    assert gateway_tasks() == []
