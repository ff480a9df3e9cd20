"""Measuring text the way chat platforms count it, showing it safely in a terminal, and
cleaning it for matching (the topic rules and the story stage share one cleaning).

Slack and Discord limit message parts in characters of a JavaScript string, that
is UTF-16 code units: an emoji or any character outside the Basic Multilingual
Plane counts twice. Code units are never fewer than code points, so text cut to
fit in them fits whichever of the two a platform really counts. Both adapters cut
feed text to their limits with this one measure.
"""

from __future__ import annotations

import html
import re
import unicodedata


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units (never fewer than code points).

    A lone surrogate counts as one unit, as in JavaScript, instead of raising.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# C0 controls but tab and newline, DEL, C1 controls (CSI 0x9b and OSC 0x9d among them), and the
# bidirectional controls that reorder what a terminal shows.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character spelled out (ESC becomes ``\\x1b``).

    For text from servers and feeds shown in a terminal: an escape sequence there
    could recolour the screen, rewrite a line or plant a hyperlink (OSC 8). Tabs
    stay; newlines stay only with ``keep_newlines`` (one-line fields escape them too).
    """
    escaped = _CONTROLS.sub(_escaped, text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n")


# Characters that carry no visible text but can hide, reorder or smuggle it:
# C0/C1 controls (tab and newline are kept), every format character (Cf: zero-width
# spaces and joiners, bidirectional overrides, the soft hyphen, BOM, invisible Unicode
# "tag" characters), surrogates, private-use characters, noncharacters and the other
# default-ignorable fillers (Hangul fillers, combining grapheme joiner, Mongolian
# variation selectors). Variation selectors that choose a glyph (U+FE00-FE0F for emoji,
# U+E0100-E01EF for CJK ideographs) stay. The Cf ranges
# are Unicode 14's; tests/feeds/test_security_text.py checks them against unicodedata. Feed text
# cleaning (bot.feeds.text) removes them; links (bot.feeds.urls) that hold one are refused.
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\U000e0080-\U000e00ff\U000e01f0-\U000e0fff"
    "\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff"
    "\ufdd0-\ufdef\ufffe\uffff]"
)


def plural(count: float, noun: str, plural_form: str | None = None) -> str:
    """``1 minute``, ``30 minutes``, ``1.5 minutes``, ``0 stories``: a count and its noun."""
    if count == 1:
        return f"{count:g} {noun}"
    if plural_form is None:
        plural_form = (
            noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
        )
    return f"{count:g} {plural_form}"


# Matching text (topic rules, story words): Python's re, not RE2 (google-re2's sub() is a
# Python loop over every match, two thirds of the topic stage's time per item); both
# patterns run in linear time.
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def matching_text(raw: str) -> str:
    """Text as the topic rules and the story stage compare it: no tags or entities, NFKC,
    straight quotes, single spaces (any Unicode space)."""
    text = html.unescape(_TAG.sub(" ", raw))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()
