"""/meta-ai feeds, add and remove in chat: the real Slack and Discord clients, the real core
(DigestBot and its database), the fake platforms and a local feed server.

Anyone may list the feeds; only workspace admins and owners (Slack: users.info, or
``[adapters.slack] admin_users``) or members with Manage Server (Discord: the permissions
Discord resolved for the interaction) may change them. Answers are ephemeral; the admin
channel hears of every change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.commands import NOT_ADMIN
from bot.adapters.registry import select_adapters
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.commands import NOT_ADMIN_TEXT
from bot.config import load_settings
from bot.pipeline import DigestBot
from bot.store.schema import Feed
from tests.fakes.discord_api import (
    ADMIN_CHANNEL_ID,
    EPHEMERAL_FLAG,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    interaction_create,
)
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import (
    ADMIN_ID,
    OTHER_CHANNEL,
    USER_ID,
    FakeSlack,
    signed_headers,
    slack_error,
    slash_command_body,
)
from tests.helpers import allow_local, fresh_feed, write_config

SITE_PAGE = (
    '<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">'
    "</head><body>Outlet B</body></html>"
)


def make_bot(tmp_path: Path, env: dict[str, str], extra: str, port: int) -> DigestBot:
    """The real core with the adapters the environment configures; the loopback feed server
    allowed, as an admin allows an intranet host."""
    config = write_config(
        tmp_path / "c.toml",
        [],
        tmp_path / "bot.db",
        allow_local(port) + extra,
    )
    settings = load_settings(config, env={})
    adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
    return DigestBot.migrated(settings, adapters, env=env)


@asynccontextmanager
async def started_slack(
    tmp_path: Path, extra: str, port: int
) -> AsyncIterator[tuple[FakeSlack, SlackAdapter, DigestBot]]:
    """The fake Slack, the real Slack adapter in HTTP mode started on the real core
    (:func:`make_bot` with ``extra``), and that core; closed in order at the end."""
    async with FakeSlack() as slack:
        bot = make_bot(tmp_path, slack.http_mode_env(), extra, port)
        [adapter] = bot.adapters
        assert isinstance(adapter, SlackAdapter)
        await adapter.start(bot.commands)
        try:
            yield slack, adapter, bot
        finally:
            await adapter.close()
            bot.close()


def stored(bot: DigestBot) -> dict[str, Feed]:
    with bot.sessions() as session:
        return {feed.name: feed for feed in session.scalars(select(Feed))}


# --- Slack -------------------------------------------------------------------------------------


async def slash(adapter: SlackAdapter, slack: FakeSlack, user: str, text: str, name: str) -> None:
    user_name = "grace" if user == ADMIN_ID else "ada"
    body = slash_command_body(text, slack.response_url(name), user_id=user, user_name=user_name)
    headers = signed_headers(body)
    url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as response,
    ):
        assert response.status == 200


async def answer(slack: FakeSlack, name: str) -> dict[str, Any]:
    await slack.wait_for(lambda: any(b["name"] == name for b in slack.bodies("response")))
    [found] = [body for body in slack.bodies("response") if body["name"] == name]
    return found


def text_of(message: dict[str, Any]) -> str:
    return "\n".join(block["text"]["text"] for block in message.get("blocks", []))


async def test_slack_admins_add_and_remove_feeds_members_list_them_and_get_a_polite_no(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.serve("/site", SITE_PAGE, "text/html")
    feed_server.serve("/atom.xml", fresh_feed("outlet-b-atom.xml"), "application/atom+xml")
    extra = f'[adapters.slack]\nadmin_channel = "{OTHER_CHANNEL}"\n'
    async with started_slack(tmp_path, extra, feed_server.port) as (slack, adapter, bot):
        # A member may not add: a kind refusal, nothing stored, nothing announced.
        await slash(adapter, slack, USER_ID, f"add {feed_server.url('/site')}", "member")
        refusal = await answer(slack, "member")
        assert refusal["response_type"] == "ephemeral"
        assert "only workspace admins and owners" in text_of(refusal)
        assert text_of(refusal) == NOT_ADMIN_TEXT
        assert stored(bot) == {}
        assert [b["user"] for b in slack.bodies("users.info")] == [USER_ID]

        # An admin adds the site; the bot finds its feed and tells the admin channel.
        await slash(adapter, slack, ADMIN_ID, f"add <{feed_server.url('/site')}>", "admin")
        added = await answer(slack, "admin")
        assert added["response_type"] == "ephemeral"
        assert "Added the feed “Outlet B”" in text_of(added)
        feed = stored(bot)["Outlet B"]
        assert (feed.source, feed.url) == ("added", feed_server.url("/atom.xml"))
        assert feed.added_by == f"Slack user {ADMIN_ID} (grace)"
        await slack.wait_for(lambda: bool(slack.bodies("chat.postMessage")))
        [notice] = slack.bodies("chat.postMessage")
        assert notice["channel"] == OTHER_CHANNEL
        assert f"Slack user {ADMIN_ID} (grace) added the feed “Outlet B”" in notice["text"]

        # Anyone may list the feeds.
        await slash(adapter, slack, USER_ID, "feeds", "list")
        listing = text_of(await answer(slack, "list"))
        assert "1 feed, 0 with problems" in listing
        assert "• Outlet B (" in listing and ", added): not polled yet" in listing

        await slash(adapter, slack, ADMIN_ID, "remove Outlet B", "remove")
        assert "Removed the feed “Outlet B”" in text_of(await answer(slack, "remove"))
        assert stored(bot)["Outlet B"].removed_at is not None
        await slack.wait_for(lambda: len(slack.bodies("chat.postMessage")) == 2)
        assert "removed the feed “Outlet B”" in slack.bodies("chat.postMessage")[1]["text"]


async def test_re_enabling_a_feed_tells_the_admin_channel_as_adding_and_removing_do(
    tmp_path: Path,
) -> None:
    """`feeds enable` goes through the same service as add and remove: the notice is sent."""
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        config = write_config(
            tmp_path / "c.toml",
            [("Gone", "https://example.com/feed.xml")],
            tmp_path / "bot.db",
            f'[adapters.slack]\nadmin_channel = "{OTHER_CHANNEL}"\n',
        )
        settings = load_settings(config, env={})
        adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
        bot = DigestBot.migrated(settings, adapters, env=env)
        try:
            missing = await bot.commands.enable_feed("Nope", by="ada (command line)")
            assert not missing.ok and "no feed named 'Nope'" in missing.message
            change = await bot.commands.enable_feed("Gone", by="ada (command line)")
            assert change.ok, change.message
            await slack.wait_for(lambda: bool(slack.bodies("chat.postMessage")))
            [notice] = slack.bodies("chat.postMessage")
            assert notice["channel"] == OTHER_CHANNEL
            assert "ada (command line) re-enabled the feed “Gone”" in notice["text"]
        finally:
            await bot.close_adapters()
            bot.close()


@asynccontextmanager
async def slack_with_a_configured_admin(
    feed_server: FeedServer, tmp_path: Path
) -> AsyncIterator[tuple[FakeSlack, SlackAdapter, DigestBot, str]]:
    """A started Slack adapter in HTTP mode whose admin is ``USER_ID`` by configuration, and
    the URL of a feed it may add."""
    feed_url = feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))
    admins = f'[adapters.slack]\nadmin_users = ["{USER_ID}"]\n'
    async with started_slack(tmp_path, admins, feed_server.port) as (slack, adapter, bot):
        yield slack, adapter, bot, feed_url


async def test_slack_configured_admins_may_change_feeds_and_a_missing_scope_refuses(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with slack_with_a_configured_admin(feed_server, tmp_path) as (
        slack,
        adapter,
        bot,
        feed_url,
    ):
        await slash(adapter, slack, USER_ID, f"add {feed_url} My outlet", "listed")
        assert "Added the feed “My outlet”" in text_of(await answer(slack, "listed"))
        assert slack.bodies("users.info") == []  # a configured admin needs no lookup

        slack.script("users.info", slack_error("missing_scope", needed="users:read"))
        await slash(adapter, slack, ADMIN_ID, "remove My outlet", "no-scope")
        assert text_of(await answer(slack, "no-scope")) == NOT_ADMIN_TEXT
        assert "My outlet" in {info.name for info in await bot.commands.feeds()}


async def test_slack_answers_escape_a_feeds_name_once(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Slack shows ``&amp;`` as "&"; escaped twice, members read "&amp;" in the name."""
    async with slack_with_a_configured_admin(feed_server, tmp_path) as (
        slack,
        adapter,
        _bot,
        feed_url,
    ):
        await slash(adapter, slack, USER_ID, f"add {feed_url} R&D news", "added")
        added = text_of(await answer(slack, "added"))
        await slash(adapter, slack, USER_ID, "feeds", "list")
        listing = text_of(await answer(slack, "list"))
        for text in (added, listing):
            assert "R&amp;D news" in text, text
            assert "&amp;amp;" not in text and "&amp;lt;" not in text, text


# --- Discord -----------------------------------------------------------------------------------


def is_callback(request: Any) -> bool:
    return str(request.path).endswith("/callback")


def interact_with(adapter: DiscordAdapter, query: str, permissions: int, number: int) -> None:
    """``/meta-ai query`` typed by a member with ``permissions``, as the gateway delivers it."""
    assert adapter.client is not None
    payload = interaction_create(
        {"query": query},
        permissions=permissions,
        interaction_id=number,
        token=f"interaction-token-{number}-" + "x" * 40,
    )
    adapter.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]


async def interaction_reply(discord_api: FakeDiscord, number: int) -> dict[str, Any]:
    """The interaction's answer: its callback, or the follow-up after a deferral."""
    callback = await discord_api.wait_for(
        lambda r: is_callback(r) and f"/interactions/{number}/" in r.path
    )
    if callback.body["type"] == 4:
        return dict(callback.body["data"])
    followup = await discord_api.wait_for(
        lambda r: (
            r.method == "POST" and f"interaction-token-{number}-" in r.path and not is_callback(r)
        )
    )
    return dict(followup.body)


async def test_discord_manage_server_members_change_feeds_others_get_a_polite_no(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_url = feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))
    async with FakeDiscord() as discord_api:
        env = discord_api.bot_env()
        extra = (
            f'[adapters.discord]\nadmin_channel = "{ADMIN_CHANNEL_ID}"\ndefer_after_seconds = 0\n'
        )
        bot = make_bot(tmp_path, env, extra, feed_server.port)
        [adapter] = bot.adapters
        assert isinstance(adapter, DiscordAdapter)
        try:
            await adapter.register_commands(bot.commands)

            def interact(query: str, permissions: int, number: int) -> None:
                interact_with(adapter, query, permissions, number)

            async def reply_to(number: int) -> dict[str, Any]:
                return await interaction_reply(discord_api, number)

            interact(f"add {feed_url}", MEMBER_PERMISSIONS, 1001)
            refusal = await reply_to(1001)
            assert refusal["content"] == NOT_ADMIN and refusal["flags"] & EPHEMERAL_FLAG
            assert stored(bot) == {}

            interact(f"add {feed_url}", MEMBER_PERMISSIONS | MANAGE_GUILD, 1002)
            added = await reply_to(1002)
            assert added["flags"] & EPHEMERAL_FLAG
            assert "Added the feed “Outlet A Technology”" in added["content"]
            assert stored(bot)["Outlet A Technology"].added_by == (
                "Discord user 555555555555555555 (reader)"
            )
            notice = await discord_api.wait_for(
                lambda r: r.path == f"/channels/{ADMIN_CHANNEL_ID}/messages"
            )
            assert "added the feed “Outlet A Technology”" in notice.body["content"]

            interact("feeds", MEMBER_PERMISSIONS, 1003)
            listing = await reply_to(1003)
            assert "• Outlet A Technology (<http://127.0.0.1:" in listing["content"]

            interact("remove Outlet A Technology", MEMBER_PERMISSIONS | MANAGE_GUILD, 1004)
            assert "Removed the feed" in (await reply_to(1004))["content"]
            assert [info.name for info in await bot.commands.feeds()] == []
        finally:
            await adapter.close()
            bot.close()


async def test_slack_feeds_list_shows_no_credential_of_a_feed_address(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Every member may list the feeds: a paid feed's user name, password and API key in its
    configured address never reach the channel."""
    paid = (
        "https://ada:hunter2-pass@paid.example/rss?apikey=KEY-0f1e2d3c&lang=en"
        "&sig=7a6b5c4d3e2f1a0b9c8d7e6f"
    )
    extra = f'[[extra_feeds]]\nname = "Paid"\nurl = "{paid}"\n'
    async with started_slack(tmp_path, extra, feed_server.port) as (slack, adapter, _bot):
        await slash(adapter, slack, USER_ID, "feeds", "list")
        listing = text_of(await answer(slack, "list"))
    assert "• Paid (https://paid.example/rss?apikey=[redacted]&amp;" in listing
    assert "sig=[redacted]): not polled yet" in listing
    for secret in ("ada", "hunter2-pass", "KEY-0f1e2d3c", "7a6b5c4d3e2f1a0b9c8d7e6f"):
        assert secret not in listing
