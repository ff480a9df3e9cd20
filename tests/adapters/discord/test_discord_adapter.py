"""Posting digests with the real discord.py against a fake Discord REST API.

Bot mode posts over REST without a gateway (``send`` before or without
``start``); webhook mode posts through discord.py's Webhook on the adapter's
own session. Both must turn Discord's refusals into the core's delivery
errors, and neither may leak a token into an error or a log line.
"""

from __future__ import annotations

import gc
import logging
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from discord.http import Route

from bot.adapters.base import PermanentDeliveryError, TransientDeliveryError
from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.adapter import nonce_for
from bot.digest.model import Digest, DigestSource, DigestStory, Notice
from tests.fakes.discord_api import (
    BOT_TOKEN,
    CHANNEL_ID,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    FakeDiscord,
)
from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook_sink import ThreadedFakeDiscord
from tests.harness import run_bot
from tests.helpers import closed_port

CHANNEL = str(CHANNEL_ID)
MESSAGES = f"/channels/{CHANNEL_ID}/messages"
WEBHOOK = f"/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
NOW = datetime(2025, 4, 5, 9, 0, tzinfo=UTC)


def digest(stories: int = 1, sentence: str = "Meta released Llama.") -> Digest:
    return Digest(
        generated_at=NOW,
        stories=[
            DigestStory(
                id=f"s{i}",
                title=f"@everyone Llama {i} is out",
                url=f"https://ai.meta.com/blog/llama-{i}/",
                published=NOW,
                summary=[sentence],
                sources=[DigestSource(title="t", url="https://theverge.com/x", feed="The Verge")],
            )
            for i in range(stories)
        ],
    )


def make_adapter(fake: FakeDiscord, **env: str) -> DiscordAdapter:
    adapter = DiscordAdapter.from_environment({"DISCORD_API_BASE": fake.api_base, **env}, {})
    assert adapter is not None
    return adapter


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = make_adapter(fake, DISCORD_TOKEN=BOT_TOKEN, DISCORD_CHANNEL_ID=CHANNEL)
    yield adapter
    await adapter.close()


@pytest.fixture
async def webhook(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = make_adapter(fake, DISCORD_WEBHOOK_URL=fake.webhook_url)
    yield adapter
    await adapter.close()


# --- webhook mode -----------------------------------------------------------------------------


async def test_webhook_posts_embeds_with_mentions_disabled(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    [payload] = webhook.render(digest())

    message_id = await webhook.send("webhook", payload, key="digest-1/0")

    [request] = fake.made("POST", WEBHOOK)
    assert request.query["wait"] == "1"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert request.body["allowed_mentions"] == {"parse": []}
    assert request.body["content"] == payload["content"]
    assert request.body["embeds"][0]["title"] == "@\u200beveryone Llama 0 is out"
    assert request.body["embeds"][0]["url"] == "https://ai.meta.com/blog/llama-0/"
    assert message_id == fake.messages[-1]["id"]


async def test_webhook_posts_a_compact_digest(fake: FakeDiscord, webhook: DiscordAdapter) -> None:
    [payload] = webhook.render(digest(3).model_copy(update={"form": "compact"}))

    await webhook.send("webhook", payload, key="digest-2/0")

    [request] = fake.made("POST", WEBHOOK)
    assert request.body["allowed_mentions"] == {"parse": []}
    [embed] = request.body["embeds"]
    assert embed["description"].splitlines() == [
        f"• [@\u200beveryone Llama {i} is out](https://ai.meta.com/blog/llama-{i}/) (1 outlet)"
        for i in range(3)
    ]


async def test_webhook_waits_out_a_discord_429_and_delivers(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    fake.rate_limit("POST", WEBHOOK, retry_after=0.05, via=True)

    message_id = await webhook.send("webhook", webhook.render(digest())[0], key="k")

    assert [r.status for r in fake.made("POST", WEBHOOK)] == [429, 200]
    assert message_id == fake.messages[-1]["id"]


async def test_webhook_429_without_via_is_transient_with_its_retry_after(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    fake.rate_limit("POST", WEBHOOK, retry_after=12.5, via=False)

    with pytest.raises(TransientDeliveryError) as caught:
        await webhook.send("webhook", webhook.render(digest())[0], key="k")

    assert caught.value.retry_after == 12.5
    assert "Cloudflare" in str(caught.value)
    assert fake.messages == []


async def test_a_webhook_rate_limit_too_long_to_wait_inside_a_call_is_left_to_the_core(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    fake.rate_limit("POST", WEBHOOK, retry_after=600.0, via=True)

    with pytest.raises(TransientDeliveryError) as caught:
        await webhook.send("webhook", webhook.render(digest())[0], key="k")

    assert caught.value.retry_after == 600.0
    assert [r.status for r in fake.made("POST", WEBHOOK)] == [429]
    # The session stays usable for the retry.
    assert await webhook.send("webhook", webhook.render(digest())[0], key="k")


async def test_a_deleted_webhook_is_permanent_and_names_the_variable(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    fake.webhooks.clear()

    with pytest.raises(PermanentDeliveryError, match="DISCORD_WEBHOOK_URL") as caught:
        await webhook.send("webhook", webhook.render(digest())[0], key="k")

    assert "no longer exists" in str(caught.value)
    assert WEBHOOK_TOKEN not in str(caught.value)


async def test_a_revoked_webhook_token_is_permanent(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    fake.webhooks[WEBHOOK_ID] = "a-different-token-0123456789abcdefghijklmnopqrstuvwxyz"

    with pytest.raises(PermanentDeliveryError, match="webhook token") as caught:
        await webhook.send("webhook", webhook.render(digest())[0], key="k")

    assert WEBHOOK_TOKEN not in str(caught.value)


async def test_webhook_mode_start_serves_nothing(
    fake: FakeDiscord, webhook: DiscordAdapter
) -> None:
    class NoCommands:
        async def latest(self, query: str | None = None) -> Digest:
            raise AssertionError("webhook mode must not serve /meta-ai")

    await webhook.start(NoCommands())

    assert fake.requests == []
    assert webhook.client is None


# --- bot mode ---------------------------------------------------------------------------------


async def test_bot_posts_over_rest_without_start_with_a_nonce_from_the_key(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    [payload] = bot.render(digest())

    message_id = await bot.send(CHANNEL, payload, key="digest-7/0")

    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("POST", MESSAGES),
    ]
    request = fake.requests[-1]
    assert request.headers["Authorization"] == f"Bot {BOT_TOKEN}"
    assert request.body["nonce"] == nonce_for("digest-7/0")
    assert len(request.body["nonce"]) <= 25
    assert request.body["enforce_nonce"] is True
    assert request.body["allowed_mentions"] == {"parse": []}
    assert request.body["embeds"][0]["timestamp"] == "2025-04-05T09:00:00+00:00"
    assert message_id == fake.messages[-1]["id"]


async def test_resending_the_same_outbox_message_is_deduplicated_by_discord(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    [payload] = bot.render(digest())

    first = await bot.send(CHANNEL, payload, key="digest-7/0")
    again = await bot.send(CHANNEL, payload, key="digest-7/0")
    other = await bot.send(CHANNEL, payload, key="digest-8/0")

    assert first == again != other
    assert len(fake.messages) == 2


async def test_a_long_digest_is_accepted_by_discord_message_by_message_in_order(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    long_sentence = "Meta's Llama team published a long technical report on training. " * 60
    payloads = bot.render(digest(stories=12, sentence=long_sentence))

    for index, payload in enumerate(payloads):
        await bot.send(CHANNEL, payload, key=f"digest-9/{index}")

    assert len(payloads) > 2
    assert all(r.status == 200 for r in fake.made("POST", MESSAGES))
    titles = [e["title"] for m in fake.messages for e in m["embeds"]]
    assert titles == [f"@\u200beveryone Llama {i} is out" for i in range(12)]


async def test_a_long_compact_digest_is_accepted_by_discord_message_by_message_in_order(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    payloads = bot.render(digest(stories=300).model_copy(update={"form": "compact"}))

    for index, payload in enumerate(payloads):
        await bot.send(CHANNEL, payload, key=f"digest-10/{index}")

    assert len(payloads) > 1
    assert all(r.status == 200 for r in fake.made("POST", MESSAGES))
    lines = [
        line for m in fake.messages for e in m["embeds"] for line in e["description"].splitlines()
    ]
    assert [re.findall(r"Llama (\d+) is out", line) for line in lines] == [
        [str(i)] for i in range(300)
    ]


async def test_notices_go_to_the_admin_channel_as_plain_text(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter.from_environment(
        {"DISCORD_API_BASE": fake.api_base, "DISCORD_TOKEN": BOT_TOKEN},
        {"channels": [CHANNEL], "admin_channel": CHANNEL},
    )
    assert adapter is not None
    try:
        notice = Notice(generated_at=NOW, text="Feed 'X' disabled after 10 failures @here")
        for index, payload in enumerate(adapter.render_notice(notice)):
            await adapter.send(adapter.admin_destinations()[0], payload, key=f"n/{index}")
    finally:
        await adapter.close()

    assert fake.messages[-1]["content"] == "Feed 'X' disabled after 10 failures @\u200bhere"
    assert fake.messages[-1]["embeds"] == []


async def test_an_invalid_token_is_permanent_and_never_shows_the_token(fake: FakeDiscord) -> None:
    fake.bot_token = "a-token-that-discord-knows"
    adapter = make_adapter(fake, DISCORD_TOKEN=BOT_TOKEN, DISCORD_CHANNEL_ID=CHANNEL)
    try:
        with pytest.raises(PermanentDeliveryError, match="DISCORD_TOKEN") as caught:
            await adapter.send(CHANNEL, adapter.render(digest())[0], key="k")
        # The failed login is not cached: once the token is fixed, the next send works.
        fake.bot_token = BOT_TOKEN
        assert await adapter.send(CHANNEL, adapter.render(digest())[0], key="k")
    finally:
        await adapter.close()

    assert "401" in str(caught.value)
    assert BOT_TOKEN not in str(caught.value)


async def test_a_missing_channel_is_permanent_and_names_it(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    missing = "999999999999999999"

    with pytest.raises(PermanentDeliveryError, match=f"channel {missing}") as caught:
        await bot.send(missing, bot.render(digest())[0], key="k")

    assert "Unknown Channel" in str(caught.value)
    assert "DISCORD_CHANNEL_ID" in str(caught.value)


async def test_missing_permission_is_permanent_and_says_which(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.forbidden_channels.add(CHANNEL_ID)

    with pytest.raises(PermanentDeliveryError, match=f"channel {CHANNEL}") as caught:
        await bot.send(CHANNEL, bot.render(digest())[0], key="k")

    assert "403 Missing Permissions" in str(caught.value)
    assert "Send Messages" in str(caught.value)
    assert "Embed Links" in str(caught.value)


async def test_missing_access_says_to_invite_the_bot(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.script("POST", MESSAGES, 403, {"message": "Missing Access", "code": 50001})

    with pytest.raises(PermanentDeliveryError, match="invite the bot"):
        await bot.send(CHANNEL, bot.render(digest())[0], key="k")


async def test_bot_waits_out_a_discord_429_with_its_buckets(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.rate_limit("POST", MESSAGES, retry_after=0.05, via=True)

    await bot.send(CHANNEL, bot.render(digest())[0], key="k")

    assert [r.status for r in fake.made("POST", MESSAGES)] == [429, 200]
    assert len(fake.messages) == 1


async def test_bot_429_without_via_is_transient_with_its_retry_after(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.rate_limit("POST", MESSAGES, retry_after=3.25, via=False)

    with pytest.raises(TransientDeliveryError) as caught:
        await bot.send(CHANNEL, bot.render(digest())[0], key="k")

    assert caught.value.retry_after == 3.25
    assert fake.messages == []


async def test_a_rate_limit_too_long_to_wait_inside_a_call_is_left_to_the_core(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    fake.rate_limit("POST", MESSAGES, retry_after=600.0, via=True)

    with pytest.raises(TransientDeliveryError) as caught:
        await bot.send(CHANNEL, bot.render(digest())[0], key="k")

    assert caught.value.retry_after == 600.0


async def test_a_discord_server_error_is_transient(fake: FakeDiscord, bot: DiscordAdapter) -> None:
    fake.script("POST", MESSAGES, 503, {"message": "Service Unavailable", "code": 0})

    with pytest.raises(TransientDeliveryError, match="503"):
        await bot.send(CHANNEL, bot.render(digest())[0], key="k")


async def test_an_unreachable_discord_is_transient() -> None:
    port = closed_port()
    adapter = DiscordAdapter.from_environment(
        {
            "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
            "DISCORD_WEBHOOK_URL": f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
            "DISCORD_TOKEN": BOT_TOKEN,
            "DISCORD_CHANNEL_ID": CHANNEL,
        },
        {},
    )
    assert adapter is not None
    try:
        payload = adapter.render(digest())[0]
        with pytest.raises(TransientDeliveryError, match="could not reach Discord"):
            await adapter.send(CHANNEL, payload, key="k")
        with pytest.raises(TransientDeliveryError, match="could not reach Discord") as caught:
            await adapter.send("webhook", payload, key="k")
    finally:
        await adapter.close()

    assert WEBHOOK_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("destination", "payload", "message"),
    [
        ("general", {"content": "hi", "embeds": []}, "unknown Discord destination"),
        (CHANNEL, {"text": "hi"}, "bad fields: text"),
        (CHANNEL, {"content": "", "embeds": []}, "no content and no embeds"),
        (CHANNEL, {"content": "x", "embeds": [{}] * 11}, "bad fields: embeds"),
    ],
)
async def test_a_malformed_outbox_message_is_permanent_and_sends_nothing(
    fake: FakeDiscord,
    bot: DiscordAdapter,
    destination: str,
    payload: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(PermanentDeliveryError, match=message):
        await bot.send(destination, payload, key="k")

    assert fake.requests == []


# --- secrets and cleanup ----------------------------------------------------------------------


async def test_no_token_reaches_the_logs_even_at_debug_level(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = make_adapter(
        fake,
        DISCORD_TOKEN=BOT_TOKEN,
        DISCORD_CHANNEL_ID=CHANNEL,
        DISCORD_WEBHOOK_URL=fake.webhook_url,
    )
    fake.rate_limit("POST", WEBHOOK, retry_after=0.01, via=True)
    caplog.set_level(logging.DEBUG)
    try:
        payload = adapter.render(digest())[0]
        await adapter.send("webhook", payload, key="k")
        await adapter.send(CHANNEL, payload, key="k")
        fake.webhooks.clear()
        with pytest.raises(PermanentDeliveryError):
            await adapter.send("webhook", payload, key="k")
    finally:
        await adapter.close()

    assert f"/webhooks/{WEBHOOK_ID}/[redacted]" in caplog.text
    assert WEBHOOK_TOKEN not in caplog.text
    assert BOT_TOKEN not in caplog.text


async def test_close_releases_every_session_and_restores_the_api_base(fake: FakeDiscord) -> None:
    default_base = Route.BASE
    adapter = make_adapter(
        fake,
        DISCORD_TOKEN=BOT_TOKEN,
        DISCORD_CHANNEL_ID=CHANNEL,
        DISCORD_WEBHOOK_URL=fake.webhook_url,
    )
    assert fake.api_base == Route.BASE
    payload = adapter.render(digest())[0]
    await adapter.send(CHANNEL, payload, key="k")
    await adapter.send("webhook", payload, key="k")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        await adapter.close()
        del adapter
        gc.collect()

    assert default_base == Route.BASE
    assert [w for w in caught if "nclosed" in str(w.message)] == []


@pytest.fixture
def threaded_discord() -> Iterator[ThreadedFakeDiscord]:
    server = ThreadedFakeDiscord().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["bot", "webhook"])
def test_the_digest_command_closes_what_it_opened(
    threaded_discord: ThreadedFakeDiscord, feed_server: FeedServer, tmp_path: Path, mode: str
) -> None:
    """The installed `digest` posts to Discord and leaves no "Unclosed client session" (nor
    "Unclosed connector") warning on stderr: the adapter's HTTP sessions are closed."""
    published = format_datetime(datetime.now(UTC), usegmt=True)
    url = feed_server.serve(
        "/d.xml",
        '<rss version="2.0"><channel><title>D</title><item><title>Meta releases Llama 9</title>'
        f"<link>https://news.example/d</link><pubDate>{published}</pubDate>"
        "<description>Meta released Llama 9 today.</description></item></channel></rss>",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "D"\nurl = "{url}"\ntopic = "all"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
        '[adapters]\nenabled = ["discord"]\n',
        encoding="utf-8",
    )
    env = {"DISCORD_API_BASE": threaded_discord.fake.api_base}
    if mode == "bot":
        env |= {"DISCORD_TOKEN": BOT_TOKEN, "DISCORD_CHANNEL_ID": CHANNEL}
    else:
        env["DISCORD_WEBHOOK_URL"] = threaded_discord.fake.webhook_url
    # Python's own ResourceWarnings on too, as a developer running with -W default sees them.
    env["PYTHONWARNINGS"] = "default"
    results = [
        run_bot(["--config", str(config), command], env=env) for command in ("poll", "digest")
    ]
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "nclosed" not in result.stderr, result.stderr
    assert len(threaded_discord.messages()) == 1
