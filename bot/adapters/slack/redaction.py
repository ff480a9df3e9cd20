"""Keeps Slack secrets out of exception messages and log lines.

Tokens and the webhook URL (whose path is itself the secret) must never reach a
log, a traceback or ``meta-ai-digest status``. Slack's libraries log request
URLs at debug level, so the adapter hands them a logger carrying
:data:`REDACTING_FILTER`, and builds its own error messages through
:func:`redact`.
"""

from __future__ import annotations

import logging
import re

from bot.adapters.base import REDACTED, RedactingFilter, Redactor

# Shapes of Slack secrets, redacted even when not registered explicitly.
_PATTERNS = (
    re.compile(r"xox[a-z]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"https?://hooks\.slack\.com/\S+"),
)

# The exact secret values of the running adapters (env values are arbitrary strings).
_SECRETS = Redactor(min_length=4)


def register_secret(secret: str | None) -> None:
    """Make :func:`redact` mask this exact value from now on."""
    _SECRETS.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret and every token-shaped string masked."""
    text = _SECRETS.redact(text)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


REDACTING_FILTER = RedactingFilter(redact)


def library_logger() -> logging.Logger:
    """The logger handed to slack_sdk and slack_bolt objects: same tree, secrets masked."""
    logger = logging.getLogger("bot.adapters.slack.sdk")
    if REDACTING_FILTER not in logger.filters:
        logger.addFilter(REDACTING_FILTER)
    return logger
