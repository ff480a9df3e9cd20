"""Making feed text safe for Discord: markdown escaped, mentions dead, lengths bounded.

"Mentions" means everything Discord renders live from ``<...>`` or ``@`` text: users,
roles, @everyone and @here, channels, slash commands, timestamps, custom emoji.

Pure functions (no I/O) so property tests can hammer them directly. Feed text is
untrusted: a headline such as ``@everyone Llama 5 is out`` must reach the channel
as text, never as a ping. ``allowed_mentions`` (set on every call) already stops
the ping; the zero-width space inserted here also stops the mention from being
*rendered* as a highlighted mention, so a digest never looks like it pinged.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from discord.utils import escape_markdown

from bot.adapters.base import utf16_length

ZERO_WIDTH_SPACE = "\u200b"
ELLIPSIS = "…"

# "@" followed by what Discord would turn into a mention: @everyone, @here,
# <@id>, <@!id> (user) and <@&id> (role). Case-insensitive on purpose: being
# stricter than Discord costs one invisible character, being looser costs a ping.
_MENTION_AT = re.compile(r"@(?=everyone|here|[!&]?\d)", re.IGNORECASE)
# "<" opening the other markup Discord renders live from feed text: channel mentions
# <#id>, slash-command mentions </name:id> (and </name sub:id>), timestamps <t:unix>
# and <t:unix:R> (shown in each reader's time zone, so a feed could fake a date),
# custom emoji <:name:id> and <a:name:id>, and guild navigation <id:browse>.
_MENTION_ANGLE = re.compile(r"<(?=#|/|t:|a?:|id:)", re.IGNORECASE)

# Characters that would end or break a markdown link target "(...)".
_LINK_TARGET_ESCAPES = {
    "(": "%28",
    ")": "%29",
    "<": "%3C",
    ">": "%3E",
    " ": "%20",
    "\t": "%09",
    "\n": "%0A",
    "\r": "%0D",
}
_AT_MENTION_IN_URL = re.compile(r"@(?=everyone|here)", re.IGNORECASE)

# Discord's documented limit for URLs in embeds and link targets.
MAX_URL_LENGTH = 2048


# C0/C1 control characters except tab and newline: terminals and Discord clients
# render them as garbage or not at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """``text`` as valid Unicode without control characters.

    Lone surrogates (which cannot be sent as UTF-8 JSON) become U+FFFD; a
    surrogate pair spelled as two code points becomes the character it encodes.
    """
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("", text)


def neutralise_mentions(text: str) -> str:
    """The text with every would-be mention broken by a zero-width space.

    After ``@`` for user, role, everyone and here mentions; after ``<`` for channel,
    command and timestamp mentions, custom emoji and guild navigation.
    """
    text = _MENTION_AT.sub("@" + ZERO_WIDTH_SPACE, text)
    return _MENTION_ANGLE.sub("<" + ZERO_WIDTH_SPACE, text)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` units, ending in an ellipsis when cut.

    Cuts between code points (never inside a surrogate pair) and drops a
    trailing backslash so an escape is never left dangling.
    """
    if utf16_length(text) <= limit:
        return text
    budget = max(0, limit - utf16_length(ELLIPSIS))
    # Every code point is at least one unit, so no more than ``budget`` of them fit;
    # slicing a str never splits a code point (nor, therefore, a surrogate pair).
    size = budget
    while utf16_length(text[:size]) > budget:
        size -= max(1, (utf16_length(text[:size]) - budget + 1) // 2)
    cut = text[: max(size, 0)].rstrip()
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut + ELLIPSIS


def markdown_text(text: str, limit: int) -> str:
    """Feed text for a place Discord renders as markdown (title, description, field).

    Escaping only lengthens text, so only the first ``limit + 1`` code points
    can survive the cut: the rest is dropped before the (costly) escaping.
    """
    return truncate(neutralise_mentions(escape_markdown(clean_text(text[: limit + 1]))), limit)


def plain_text(text: str, limit: int) -> str:
    """Feed text for a place Discord shows verbatim (footer, author)."""
    return truncate(neutralise_mentions(clean_text(text[: limit + 1])), limit)


def web_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL Discord accepts; otherwise None."""
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        return None
    if clean_text(url) != url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def link_target(url: str) -> str:
    """``url`` made safe inside a markdown link ``[label](target)``."""
    for char, encoded in _LINK_TARGET_ESCAPES.items():
        url = url.replace(char, encoded)
    return _AT_MENTION_IN_URL.sub("%40", url)


def masked_link(label: str, url: str | None) -> str:
    """``[label](target)`` to ``url`` (checked by :func:`web_url`), or just the label.

    ``label`` must already be safe (:func:`link_label`). The label stands alone when there is
    no usable URL, or when the escaped target would pass Discord's URL limit: half a link is
    a broken link, and a cut one could swallow the text after it.
    """
    if url is None:
        return label
    target = link_target(url)
    if utf16_length(target) > MAX_URL_LENGTH:
        return label
    return f"[{label}]({target})"


def link_label(text: str, limit: int) -> str:
    """Feed text for the label of a markdown link: brackets would end the label early."""
    flattened = " ".join(text.replace("[", "(").replace("]", ")").split())
    return markdown_text(flattened, limit).strip()
