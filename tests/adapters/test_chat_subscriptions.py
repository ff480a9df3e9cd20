"""/meta-ai subscribe, unsubscribe and channel (issue 23, point 4): the real Slack and Discord
clients against the fake platforms, the real core and database.

Anyone may ask what the channel gets; only admins may change it. The subscription is for
the channel the command was typed in, and the admin channel hears of every change.
"""

from __future__ import annotations

from pathlib import Path

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.commands import NOT_ADMIN
from bot.adapters.slack.commands import NOT_ADMIN_TEXT
from tests.adapters.test_chat_feeds import (
    answer,
    interact_with,
    interaction_reply,
    make_bot,
    slash,
    started_slack,
    text_of,
)
from tests.fakes.discord_api import (
    ADMIN_CHANNEL_ID,
    CHANNEL_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeDiscord,
)
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import ADMIN_ID, DIGEST_CHANNEL, OTHER_CHANNEL, USER_ID


async def test_slack_admins_subscribe_the_channel_members_ask_what_it_gets(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    extra = f'[adapters.slack]\nadmin_channel = "{OTHER_CHANNEL}"\n'
    async with started_slack(tmp_path, extra, feed_server.port) as (slack, adapter, bot):
        await slash(adapter, slack, USER_ID, "channel", "before")
        assert "no subscription of its own" in text_of(await answer(slack, "before"))

        await slash(adapter, slack, USER_ID, "subscribe research", "member")
        assert text_of(await answer(slack, "member")) == NOT_ADMIN_TEXT
        assert bot.subscriptions.infos() == []

        words = 'subscribe research models "30 8 * * mon-fri" tz=Europe/Berlin compact 2+'
        await slash(adapter, slack, ADMIN_ID, words, "admin")
        done = text_of(await answer(slack, "admin"))
        assert f"subscribed slack:{DIGEST_CHANNEL}: research, models, 2+ outlets" in done
        assert '"30 8 * * mon-fri" Europe/Berlin; compact; next post' in done
        [info] = bot.subscriptions.infos()
        assert (info.channel, info.origin) == (f"slack:{DIGEST_CHANNEL}", "chat")
        assert info.created_by == f"Slack user {ADMIN_ID} (grace)"
        await slack.wait_for(lambda: bool(slack.bodies("chat.postMessage")))
        [notice] = slack.bodies("chat.postMessage")
        assert notice["channel"] == OTHER_CHANNEL and "subscribed slack:" in notice["text"]

        await slash(adapter, slack, USER_ID, "channel", "after")
        assert "This channel gets research, models" in text_of(await answer(slack, "after"))

        await slash(adapter, slack, ADMIN_ID, "subscribe gossip weekly", "bad")
        bad = text_of(await answer(slack, "bad"))
        assert "unknown kind" not in bad  # an unknown word is a search word...
        assert "matching “gossip”" in bad  # ...and says so

        await slash(adapter, slack, ADMIN_ID, "subscribe tz=Mars/Base", "zone")
        assert "IANA time zone" in text_of(await answer(slack, "zone"))

        await slash(adapter, slack, ADMIN_ID, "unsubscribe", "off")
        assert "default digest again" in text_of(await answer(slack, "off"))
        assert bot.subscriptions.infos() == []
        await slash(adapter, slack, ADMIN_ID, "unsubscribe", "again")
        assert "no subscription of its own" in text_of(await answer(slack, "again"))


async def test_discord_manage_server_members_subscribe_the_channel(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    async with FakeDiscord() as discord_api:
        extra = (
            f'[adapters.discord]\nadmin_channel = "{ADMIN_CHANNEL_ID}"\ndefer_after_seconds = 0\n'
        )
        bot = make_bot(tmp_path, discord_api.bot_env(), extra, feed_server.port)
        [adapter] = bot.adapters
        assert isinstance(adapter, DiscordAdapter)
        try:
            await adapter.register_commands(bot.commands)
            interact_with(adapter, "subscribe people instant", MEMBER_PERMISSIONS, 2001)
            refusal = await interaction_reply(discord_api, 2001)
            assert refusal["content"] == NOT_ADMIN and bot.subscriptions.infos() == []

            admin = MEMBER_PERMISSIONS | MANAGE_GUILD
            interact_with(adapter, "subscribe people instant alerts", admin, 2002)
            done = await interaction_reply(discord_api, 2002)
            assert f"subscribed discord:{CHANNEL_ID}: people; at once" in done["content"]
            notice = await discord_api.wait_for(
                lambda r: r.path == f"/channels/{ADMIN_CHANNEL_ID}/messages"
            )
            assert f"subscribed discord:{CHANNEL_ID}" in notice.body["content"]

            interact_with(adapter, "channel", MEMBER_PERMISSIONS, 2003)
            described = await interaction_reply(discord_api, 2003)
            assert "This channel gets people; at once" in described["content"]

            interact_with(adapter, "unsubscribe", admin, 2004)
            assert "default digest again" in (await interaction_reply(discord_api, 2004))["content"]
            assert bot.subscriptions.infos() == []
        finally:
            await adapter.close()
            bot.close()
