"""What the rules look at in a sentence: its terms, figures, names, shape and opening word.

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
_FIRST_WORD = re.compile(r"[\W_]*([A-Za-z]+)")
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
    `text` is always a verbatim slice of the source. A NamedTuple because it is built ~20 times
    per article and a frozen dataclass costs several times as much to construct.
    """

    position: int
    start: int
    end: int
    text: str
    word_count: int
    terms: frozenset[str]
    has_number: bool
    entity_count: int
    first_word: str
    is_question: bool
    is_quote: bool


def _count_names(text: str) -> int:
    stop = stopwords()
    return sum(1 for name in _NAME.findall(text) if name.lower() not in stop)


def analyse(index: int, start: int, end: int, text: str, word_count: int) -> SentenceFeatures:
    """Compute the features of one sentence (already trimmed and dateline-free)."""
    first = _FIRST_WORD.match(text)
    stripped_end = text.rstrip("\"”’') ")
    return SentenceFeatures(
        index,
        start,
        end,
        text,
        word_count,
        terms_of(text),
        _DIGIT.search(text) is not None,
        _count_names(text),
        first.group(1).lower() if first else "",
        stripped_end.endswith("?"),
        text[:1] in _QUOTE_OPEN,
    )
