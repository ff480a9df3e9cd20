"""The /meta-ai application command: the latest summary, a search, the feeds, or help.

Discord drops an interaction that gets no response within 3 seconds. The
lookup therefore races a timer: an answer ready in time is sent directly, a
slower one is deferred first ("meta-ai-digest is thinking...") and sent as a
follow-up. Answers are ephemeral unless the user sets ``share``.

``query: feeds`` lists the feeds for anyone; ``query: add <address> [name]`` and
``query: remove <name>`` work for members with the Manage Server permission (as
Discord resolved it for the interaction) in a server, never in a direct message;
their answers are always ephemeral.

(No ``from __future__ import annotations`` here: discord.py reads the
callback's annotations to build the command's options.)
"""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.utils import escape_markdown

from bot.adapters.base import (
    ADMIN_ACTIONS,
    CHANGE_ACTIONS,
    COMMAND_HELP,
    COMMAND_NAME,
    ChatCommand,
    CommandHandler,
    Payload,
    feed_lines,
    first_to_answer,
    parse_command,
    run_change,
)
from bot.adapters.discord.errors import NETWORK_ERRORS
from bot.adapters.discord.outgoing import OutgoingMessage
from bot.adapters.discord.redact import redact
from bot.adapters.discord.render import MAX_CONTENT, render_digest, split_text
from bot.adapters.discord.text import clean_text, neutralise_mentions

log = logging.getLogger("bot.adapters.discord")

COMMAND_DESCRIPTION = "The latest Meta AI news summary, or the latest stories matching words"
QUERY_DESCRIPTION = "Words to search the latest stories for (e.g. llama license), or help"
SHARE_DESCRIPTION = "Post the answer in the channel instead of only to you"
HELP_QUERY = "help"
LOOKUP_FAILED = "Sorry, the latest Meta AI news could not be loaded. Please try again in a minute."
NOT_ADMIN = (
    "Sorry, only members with the Manage Server permission can add or remove feeds or "
    "change this channel's subscription. `/meta-ai query: feeds` shows the feeds and "
    "`/meta-ai query: channel` what this channel gets; ask a server admin to change them."
)
CHANGE_FAILED = "Sorry, that could not be done right now. Please try again in a minute."

# The least time a replica waits for its claim on an interaction (defer_after may be 0).
CLAIM_FLOOR_SECONDS = 0.5

# Discord accepts up to 6,000 characters in a string option; a search needs far fewer.
Query = app_commands.Range[str, 1, 200]


def build_command(handler: CommandHandler, defer_after_seconds: float) -> app_commands.Command:  # type: ignore[type-arg]
    """The /meta-ai command bound to the core's handler."""

    @app_commands.describe(query=QUERY_DESCRIPTION, share=SHARE_DESCRIPTION)
    async def meta_ai(
        interaction: discord.Interaction, query: Query | None = None, share: bool = False
    ) -> None:
        await answer(
            interaction, handler, query=query, share=share, defer_after=defer_after_seconds
        )

    return app_commands.Command(
        name=COMMAND_NAME, description=COMMAND_DESCRIPTION, callback=meta_ai
    )


async def answer(
    interaction: discord.Interaction,
    handler: CommandHandler,
    *,
    query: str | None,
    share: bool,
    defer_after: float,
) -> None:
    """Answer one /meta-ai call; failures are logged, never raised into discord.py.

    Replicas connected to the gateway with one token all receive the interaction: the
    first to claim its id answers, the others leave it alone. The claim counts against
    ``defer_after`` (Discord's 3 seconds run from the start), with a short floor so that
    ``defer_after = 0`` still leaves it time; a claim that cannot be made answers anyway.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    claim_timeout = max(defer_after, CLAIM_FLOOR_SECONDS)
    if not await first_to_answer(handler, f"discord:{interaction.id}", claim_timeout):
        log.info("/%s interaction %s: another replica answers it", COMMAND_NAME, interaction.id)
        return
    defer_after = max(0.0, defer_after - (loop.time() - started))
    request = parse_command(query)
    try:
        if request.action == "help":
            await deliver(interaction, [help_payload()], ephemeral=not share)
        elif request.action == "feeds":
            messages = await _within(interaction, _feeds(handler), not share, defer_after)
            await deliver(interaction, messages, ephemeral=not share)
        elif request.action in CHANGE_ACTIONS:
            if request.action in ADMIN_ACTIONS and not is_admin(interaction):
                await deliver(interaction, [text_payload(NOT_ADMIN)], ephemeral=True)
                return
            channel = f"discord:{interaction.channel_id}"
            change = _change(handler, request, who(interaction), channel)
            messages = await _within(interaction, change, True, defer_after)
            await deliver(interaction, messages, ephemeral=True)
        else:
            messages = await _lookup(interaction, handler, request.words, share, defer_after)
            await deliver(interaction, messages, ephemeral=not share)
    except discord.HTTPException as error:
        log.warning("could not answer /%s: %s", COMMAND_NAME, redact(str(error)))
    except NETWORK_ERRORS as error:
        log.warning("could not reach Discord to answer /%s: %r", COMMAND_NAME, error)


def is_admin(interaction: discord.Interaction) -> bool:
    """Manage Server (or Administrator) in a server, as Discord resolved it for this call."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def who(interaction: discord.Interaction) -> str:
    user = interaction.user
    return f"Discord user {user.id} ({user.name})"


async def _within(
    interaction: discord.Interaction,
    work: Any,
    ephemeral: bool,
    defer_after: float,
) -> list[Payload]:
    """Run ``work`` (a coroutine returning payloads), deferring the interaction first when
    it takes longer than Discord waits for a first response."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=defer_after)
        if not done:
            await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    except BaseException:
        task.cancel()
        raise
    result: list[Payload] = await task
    return result


async def _feeds(handler: CommandHandler) -> list[Payload]:
    try:
        feeds = await handler.feeds()
    except Exception:
        log.exception("/%s feeds: the feed list could not be read", COMMAND_NAME)
        return [text_payload(LOOKUP_FAILED)]
    lines = feed_lines(feeds, datetime.now(UTC), text=_inert, link=lambda url: f"<{url}>")
    return [{"content": chunk, "embeds": []} for chunk in split_text("\n".join(lines), MAX_CONTENT)]


async def _change(
    handler: CommandHandler, request: ChatCommand, by: str, channel: str
) -> list[Payload]:
    try:
        message = await run_change(handler, request, by=by, channel=channel)
    except Exception:
        log.exception("/%s %s failed", COMMAND_NAME, request.action)
        return [text_payload(CHANGE_FAILED)]
    return [text_payload(_inert(message))]


def _inert(text: str) -> str:
    """Feed or server text as Discord shows it literally: no markdown, no mention."""
    return neutralise_mentions(escape_markdown(clean_text(text)))


def text_payload(text: str) -> Payload:
    return {"content": split_text(text, MAX_CONTENT)[0] if text.strip() else "…", "embeds": []}


async def _lookup(
    interaction: discord.Interaction,
    handler: CommandHandler,
    words: str | None,
    share: bool,
    defer_after: float,
) -> list[Payload]:
    """The rendered answer; defers the interaction first when the lookup is slow."""
    lookup = asyncio.ensure_future(handler.latest(words))
    try:
        done, _ = await asyncio.wait({lookup}, timeout=defer_after)
        if not done:
            await interaction.response.defer(ephemeral=not share, thinking=True)
    except BaseException:
        lookup.cancel()
        raise
    try:
        digest = await lookup
    except Exception:
        log.exception("/%s lookup failed (query=%r)", COMMAND_NAME, words)
        return [{"content": LOOKUP_FAILED, "embeds": []}]
    return render_digest(digest)


async def deliver(
    interaction: discord.Interaction, messages: list[Payload], *, ephemeral: bool
) -> None:
    """Send the messages in order: the first as the response (unless deferred), then follow-ups."""
    for payload in messages:
        kwargs = OutgoingMessage.parse(payload).send_kwargs()
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs, ephemeral=ephemeral, wait=True)
        else:
            await interaction.response.send_message(**kwargs, ephemeral=ephemeral)


def help_payload() -> Payload:
    """COMMAND_HELP as a message; angle brackets and slashes are plain text in Discord."""
    return {"content": neutralise_mentions(COMMAND_HELP), "embeds": []}
