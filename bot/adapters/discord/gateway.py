"""The gateway connection that delivers /meta-ai interactions (bot mode only)."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.backoff import ExponentialBackoff

from bot.adapters.discord.redact import redact

log = logging.getLogger("bot.adapters.discord")


async def run_gateway(client: discord.Client) -> None:
    """Keep the gateway connected until the client is closed.

    discord.py reconnects by itself once connected, but when the very first
    connection fails (network down at start-up) its reconnect loop ends with an
    AttributeError instead of retrying (2.7.1). Connecting again here, with
    discord.py's own backoff, keeps /meta-ai coming back once the network does.
    Errors that a retry cannot fix (bad token, intents refused) end the task.
    """
    backoff = ExponentialBackoff()
    while not client.is_closed():
        try:
            await client.connect(reconnect=True)
        except (discord.LoginFailure, discord.PrivilegedIntentsRequired):
            raise
        except Exception as error:
            if client.is_closed():
                return
            delay = backoff.delay()
            log.warning(
                "Discord gateway connection failed (%s); retrying in %.1f s",
                redact(repr(error)),
                delay,
            )
            await asyncio.sleep(delay)
