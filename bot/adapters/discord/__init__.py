"""Discord: digests in channels (bot) or through a webhook, and the /meta-ai command.

Inside this package ``import discord`` still means discord.py: imports are
absolute, and this package is ``bot.adapters.discord``, never plain ``discord``.
"""

from bot.adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
