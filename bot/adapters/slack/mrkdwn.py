"""Pure helpers that make feed text safe inside Slack mrkdwn.

Everything a feed supplies (titles, summaries, outlet names, links) passes
through here before it reaches a message, so a headline that contains
``<!channel>`` or ``<@U123>`` shows as text and pings nobody. The functions are
pure and small on purpose: the property tests target them directly.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from bot.adapters.base import utf16_length

_WHITESPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that may stay as they are inside a link target; everything else
# (spaces, "|", "<", ">", quotes, non-ASCII) is percent-encoded so the link
# cannot end early or smuggle in markup.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Feed text as inert mrkdwn: ``&``, ``<`` and ``>`` become entities.

    These three are the characters Slack's parser treats as control characters
    (https://docs.slack.dev/messaging/formatting-message-text#escaping).
    """
    # A lone surrogate cannot travel as UTF-8 JSON: it becomes U+FFFD.
    text = _SURROGATE.sub("\ufffd", text)
    # "&" first, so the entities made for "<" and ">" are not escaped again.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    """Collapse runs of whitespace (newlines included) into single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def safe_url(url: str) -> str | None:
    """The URL ready to sit inside ``<...|...>``, or None when it is not http(s).

    Links from feeds are cleaned upstream, but a link is the one place where
    mrkdwn can execute something (``javascript:``, ``<!here>``), so the adapter
    checks again rather than trust.
    """
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    encoded = quote(candidate, safe=_URL_SAFE)
    return escape(encoded)


def shorten(text: str, limit: int) -> str:
    """``text`` escaped, cut at a word boundary so it fits ``limit`` (Slack length).

    Escaping never creates or removes a space, so a space in the escaped text is
    a word boundary of the original and never falls inside an entity such as
    ``&amp;``. Used only for a single "sentence" or title longer than a whole
    Slack text field, which real feeds never have.
    """
    escaped = escape(text)
    if utf16_length(escaped) <= limit:
        return escaped
    budget = max(0, limit - utf16_length(ELLIPSIS))
    prefix = escaped[: _prefix_length(escaped, budget)]
    boundary = prefix.rfind(" ")
    if boundary > 0 and prefix[:boundary].strip():
        return prefix[:boundary].rstrip() + ELLIPSIS
    return _outside_entity(prefix) + ELLIPSIS


def _prefix_length(text: str, budget: int) -> int:
    """How many characters of ``text`` fit in ``budget`` UTF-16 code units."""
    if utf16_length(text) == len(text):
        return min(budget, len(text))
    used = 0
    for index, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)


def _outside_entity(prefix: str) -> str:
    """``prefix`` without a trailing half entity (``&am`` of ``&amp;``)."""
    ampersand = prefix.rfind("&")
    if ampersand != -1 and ";" not in prefix[ampersand:]:
        return prefix[:ampersand]
    return prefix


def link(url: str, escaped_label: str, *, max_url: int = 1500) -> str:
    """``<url|label>`` with a safe target; just the label when the URL is unusable.

    ``escaped_label`` must already be escaped (see :func:`escape`, :func:`shorten`).
    A URL longer than ``max_url`` is dropped rather than cut: half a link is a
    broken link.
    """
    target = safe_url(url)
    if target is None or utf16_length(target) > max_url:
        return escaped_label
    return f"<{target}|{escaped_label}>"


def date_token(epoch_seconds: int, fallback: str) -> str:
    """Slack's date formatting: each reader sees the time in their own time zone."""
    return f"<!date^{epoch_seconds}^{{date_short_pretty}} {{time}}|{escape(fallback)}>"
