"""How common a word is in general writing: the prior of the story stage's rarity weights.

A store's own items say which words every Meta-AI article uses ("Meta", "AI", "model"), but
only once it holds many of them: a new install, or one whose other feeds are short titles in
other languages, cannot tell "the" or "said" from a name on a handful of items, and then two
long articles look alike by their function words while a later article of an event misses
its story. Word frequencies of general writing (wordfreq: Wikipedia, subtitles, news, books,
the web, in 40+ languages) know that from the first item, whatever the arrival order.

A word's frequency becomes the share of documents of ``words_per_document`` words expected to
use it (1 - e^(-words × frequency)): "the" is in all of them, "court" in 7%, "Midjourney" in
none. The vocabulary blends that share, weighted as ``documents`` virtual documents, with
what the store really holds.
"""

from __future__ import annotations

import functools
import math
import re

# English in full (every word of its frequency list); of every other language its most
# frequent words, which are its function words and commonest verbs and nouns.
FULL_LANGUAGE = "en"
OTHER_LANGUAGE_WORDS = 500
_DIGIT = re.compile(r"\d")


@functools.cache
def _frequencies() -> dict[str, float]:
    """Word -> frequency in general writing, folded as the story stage folds words.

    Loaded once per process, on the first use (about a second: 42 small word lists).
    """
    import wordfreq

    from bot.stories.features import fold

    merged: dict[str, float] = {}

    def add(word: str, frequency: float) -> None:
        folded = fold(word)
        if folded:
            merged[folded] = merged.get(folded, 0.0) + frequency

    for word, frequency in wordfreq.get_frequency_dict(FULL_LANGUAGE, "small").items():
        add(word, frequency)
    for language in sorted(wordfreq.available_languages("small")):
        if language == FULL_LANGUAGE:
            continue
        words = wordfreq.get_frequency_dict(language, "small")
        top = sorted(words.items(), key=lambda pair: -pair[1])[:OTHER_LANGUAGE_WORDS]
        for word, frequency in top:
            folded = fold(word)
            if folded and frequency > merged.get(folded, 0.0):
                merged[folded] = frequency
    return merged


@functools.lru_cache(maxsize=65_536)
def _figure_frequency(term: str) -> float:
    """Figures ("2025", "3.1", "405b"): wordfreq spreads a digit pattern's frequency."""
    import wordfreq

    return float(wordfreq.word_frequency(term, FULL_LANGUAGE))


class GeneralLanguage:
    """The expected share of documents using a word, from general writing."""

    def __init__(self, words_per_document: int) -> None:
        self._words = words_per_document
        self._shares: dict[str, float] = {}

    def share(self, term: str) -> float:
        found = self._shares.get(term)
        if found is None:
            if _DIGIT.search(term):
                frequency = _figure_frequency(term)
            else:
                frequency = _frequencies().get(term, 0.0)
            found = 1.0 - math.exp(-self._words * frequency)
            self._shares[term] = found
        return found
