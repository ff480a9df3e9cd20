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
import threading

# Shapes of Slack secrets, redacted even when not registered explicitly.
_PATTERNS = (
    re.compile(r"xox[a-z]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"https?://hooks\.slack\.com/\S+"),
)
MASK = "[redacted]"


class _SecretRegistry:
    """The exact secret values of the running adapters (env values are arbitrary strings)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def snapshot(self) -> list[str]:
        with self._lock:
            return sorted(self._secrets, key=len, reverse=True)


_REGISTRY = _SecretRegistry()


def register_secret(secret: str | None) -> None:
    """Make :func:`redact` mask this exact value from now on."""
    _REGISTRY.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret and every token-shaped string masked."""
    for secret in _REGISTRY.snapshot():
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with secrets masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback text is formatted later from the exception itself.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


REDACTING_FILTER = RedactingFilter()


def library_logger() -> logging.Logger:
    """The logger handed to slack_sdk and slack_bolt objects: same tree, secrets masked."""
    logger = logging.getLogger("bot.adapters.slack.sdk")
    if REDACTING_FILTER not in logger.filters:
        logger.addFilter(REDACTING_FILTER)
    return logger
