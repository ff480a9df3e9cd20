"""The /meta-ai application command: the latest summary, a search, or help.

Discord drops an interaction that gets no response within 3 seconds. The
lookup therefore races a timer: an answer ready in time is sent directly, a
slower one is deferred first ("meta-ai-digest is thinking...") and sent as a
follow-up. Answers are ephemeral unless the user sets ``share``.

(No ``from __future__ import annotations`` here: discord.py reads the
callback's annotations to build the command's options.)
"""

import asyncio
import logging

import discord
from discord import app_commands

from bot.adapters.base import (
    COMMAND_HELP,
    COMMAND_NAME,
    CommandHandler,
    Payload,
    first_to_answer,
)
from bot.adapters.discord.errors import NETWORK_ERRORS
from bot.adapters.discord.outgoing import OutgoingMessage
from bot.adapters.discord.redact import redact
from bot.adapters.discord.render import render_digest
from bot.adapters.discord.text import neutralise_mentions

log = logging.getLogger("bot.adapters.discord")

COMMAND_DESCRIPTION = "The latest Meta AI news summary, or the latest stories matching words"
QUERY_DESCRIPTION = "Words to search the latest stories for (e.g. llama license), or help"
SHARE_DESCRIPTION = "Post the answer in the channel instead of only to you"
HELP_QUERY = "help"
LOOKUP_FAILED = "Sorry, the latest Meta AI news could not be loaded. Please try again in a minute."

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
    words = (query or "").strip() or None
    try:
        if words is not None and words.lower() == HELP_QUERY:
            await deliver(interaction, [help_payload()], ephemeral=not share)
            return
        messages = await _lookup(interaction, handler, words, share, defer_after)
        await deliver(interaction, messages, ephemeral=not share)
    except discord.HTTPException as error:
        log.warning("could not answer /%s: %s", COMMAND_NAME, redact(str(error)))
    except NETWORK_ERRORS as error:
        log.warning("could not reach Discord to answer /%s: %r", COMMAND_NAME, error)


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
