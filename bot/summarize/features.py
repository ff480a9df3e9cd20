"""What the rules look at in a sentence: its terms, figures, names, shape and where it sits.

The features are computed once per sentence with plain string work (no model, no parser), so a
whole article takes well under a millisecond; the summarizer then only does arithmetic on them.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

# A term: a number, or a word of two or more letters (inner hyphens and apostrophes kept, a
# possessive 's left out). Matched on lower-cased text.
_TERM = re.compile(r"\d+(?:[.,]\d+)*|[a-z][a-z]+(?:[-'’](?!s\b)[a-z]+)*")
# A capitalised word that does not open the sentence: a name, a firm, a place.
_NAME = re.compile(r"(?<=\s)[A-Z][A-Za-z]+")
_DIGIT = re.compile(r"\d")
_QUOTE_OPEN = "\"“‘'"


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words from the package's stopwords.toml (data, not code)."""
    raw = resources.files("bot.summarize").joinpath("stopwords.toml").read_text("utf-8")
    return frozenset(tomllib.loads(raw)["words"])


def terms_of(text: str) -> frozenset[str]:
    """Content terms: lower-cased words and numbers, minus function words and possessives."""
    return frozenset(_TERM.findall(text.lower())).difference(stopwords())


class SentenceFeatures(NamedTuple):
    """One candidate sentence and the facts the scoring rules need about it.

    `start`/`end` locate the sentence in the article with any dateline already stripped, so
    `text` is always a verbatim slice of the source. `position` is its rank among the
    candidates; `number` its number among all the article's sentences, so that a sentence that
    `leans_back` can be admitted only right after the one before it. A NamedTuple because it
    is built ~20 times per article and a frozen dataclass costs several times as much to
    construct.
    """

    position: int
    start: int
    end: int
    text: str
    word_count: int
    terms: frozenset[str]
    has_number: bool
    entity_count: int
    is_question: bool
    is_quote: bool
    number: int
    leans_back: bool


def _count_names(text: str) -> int:
    stop = stopwords()
    return sum(1 for name in _NAME.findall(text) if name.lower() not in stop)


class Span(NamedTuple):
    """Where a sentence sits: its number among the article's sentences and its offsets."""

    number: int
    start: int
    end: int


def analyse(position: int, span: Span, text: str, leans_back: bool) -> SentenceFeatures:
    """Compute the features of one sentence (already trimmed and dateline-free)."""
    return SentenceFeatures(
        position,
        span.start,
        span.end,
        text,
        len(text.split()),
        terms_of(text),
        _DIGIT.search(text) is not None,
        _count_names(text),
        text.rstrip("\"”’') ").endswith("?"),
        text[:1] in _QUOTE_OPEN,
        span.number,
        leans_back,
    )
