"""Text normalization for story matching: canonical titles and comparable word lists.

Outlets dress the same headline differently (curly quotes, HTML entities,
" - The Verge" appended by Google News, "[pdf]" added on Hacker News); these
functions remove the dressing so that only the words that name the event are
compared.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

from bot.common.hosts import GOOGLE_NEWS_HOST, host_of

_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
# " - The Verge", " - Reuters", " - Yahoo Finance": the outlet Google News appends.
_OUTLET_SUFFIX = re.compile(r"\s+[-\u2013\u2014|]\s+([^-\u2013\u2014|]{1,60})$")
# Hacker News annotations: "[pdf]", "[video]", "(2023)".
_HN_SUFFIX = re.compile(r"\s*(?:\[(?:pdf|video|audio)\]|\((?:19|20)\d\d\))\s*$", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my new no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those through to too
    under until up very via was we were what when where which while who whom why will with would
    you your says said say report reports according latest today week now"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def clean(text: str) -> str:
    """No tags or entities, NFKC, straight quotes, single spaces."""
    text = html.unescape(_TAG.sub(" ", text or ""))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


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


@functools.lru_cache(maxsize=65_536)
def _content_word(word: str) -> str:
    """One word folded for comparison, or "" for a stopword.

    Crude plural and possessive folding ("Meta's" -> "meta", "models" -> "model").
    Cached, because news vocabulary repeats and this runs for every word of every item.
    """
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return "" if word in STOPWORDS else word


def words(text: str) -> list[str]:
    """Content words in order: lower case, folded, without stopwords."""
    return [w for w in map(_content_word, _WORD.findall(text.lower())) if w]
