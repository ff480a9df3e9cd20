"""Text normalization for story matching: cleaned text and canonical titles.

Outlets dress the same headline differently (curly quotes, HTML entities,
" - The Verge" appended by Google News, "[pdf]" added on Hacker News); these
functions remove the dressing so that only the words that name the event are
compared.
"""

from __future__ import annotations

import re

from bot.common.hosts import GOOGLE_NEWS_HOST, host_of
from bot.common.text import matching_text

# " - The Verge", " - Reuters", " - Yahoo Finance": the outlet Google News appends.
_OUTLET_SUFFIX = re.compile(r"\s+[-\u2013\u2014|]\s+([^-\u2013\u2014|]{1,60})$")
# Hacker News annotations: "[pdf]", "[video]", "(2023)".
_HN_SUFFIX = re.compile(r"\s*(?:\[(?:pdf|video|audio)\]|\((?:19|20)\d\d\))\s*$", re.IGNORECASE)


def clean(text: str) -> str:
    """No tags or entities, NFKC, straight quotes, single spaces (the topic rules' cleaning:
    :func:`bot.common.text.matching_text`)."""
    return matching_text(text or "")


def canonical_title(title: str, url: str) -> str:
    """The headline without aggregator dressing, for matching and for display.

    The " - Outlet" suffix is stripped only from Google News items (their url host
    is news.google.com), because on an ordinary article a " - " tail is usually
    part of the headline itself.
    """
    text = clean(title)
    if host_of(url) == GOOGLE_NEWS_HOST:
        stripped = _OUTLET_SUFFIX.sub("", text)
        text = stripped if stripped else text
    stripped = _HN_SUFFIX.sub("", text)
    return stripped if stripped else text
