"""Keeping Discord secrets out of logs and error messages.

discord.py logs request URLs at DEBUG level, and a webhook's or an
interaction's URL ends in its token (``/webhooks/<id>/<token>``). A filter on
discord.py's loggers rewrites those records before any handler sees them; the
same function cleans every error message this adapter builds from an exception.
"""

from __future__ import annotations

import logging
import re

from bot.adapters.base import REDACTED, RedactingFilter, Redactor

# /webhooks/<id>/<token> and /interactions/<id>/<token>: the path segment after the id.
_TOKEN_IN_PATH = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/?#\s'\"]+")

#: discord.py's loggers that may print a URL or a request body.
DISCORD_LOGGERS = (
    "discord",
    "discord.http",
    "discord.client",
    "discord.gateway",
    "discord.state",
    "discord.webhook",
    "discord.webhook.async_",
    "discord.interactions",
    "discord.app_commands.tree",
)

_SECRETS = Redactor()


def register_secrets(*secrets: str | None) -> None:
    """Remember strings (tokens) to blank out of every discord.py log record."""
    _SECRETS.add(*secrets)


def redact(text: str) -> str:
    """``text`` with registered secrets and URL tokens replaced by ``[redacted]``."""
    return _TOKEN_IN_PATH.sub(r"\1" + REDACTED, _SECRETS.redact(text))


_FILTER = RedactingFilter(redact)


def install_log_filter() -> None:
    """Attach the filter to discord.py's loggers (idempotent).

    A logger's filters only see records created on that very logger, not on its
    children, hence the explicit list.
    """
    for name in DISCORD_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
