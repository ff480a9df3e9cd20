"""What the story index compares: an article's terms, weighted by how rare they are.

An event is identified by what rewrites of it keep: names, numbers and money amounts, and the
distinctive words of title and lead. Words are weighted by rarity measured on a background
(every item the store holds, kept or dropped: :class:`Vocabulary`), not by a hand-written list,
so the weights hold in any language: whatever most items say ("the", "de", "Meta", "AI" in a
Meta-AI store) weighs next to nothing, and a name or a figure few items share weighs most.

Features are computed once per article: match() and the add() that follows it share them.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import re2

from bot.stories.settings import ClusterSettings
from bot.stories.text import canonical_title, clean

if TYPE_CHECKING:
    from bot.stories.language import GeneralLanguage

# A word in any script: letters and digits, with inner apostrophes and dots ("3.1", "o'neil").
# Hyphens split ("open-source" = "open source"): outlets hyphenate the same words differently.
_TOKEN = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
# Scripts written without spaces: compared as overlapping character pairs.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_SPACES = re2.compile(r"\s+")
_DIGIT = re.compile(r"\d")
# What ends a sentence: the next capitalised word opens one and is no name.
_SENTENCE_END = frozenset(".!?:;\n\"“”'‘’«»()[]—–-|")


@dataclass(frozen=True)
class Features:
    """Everything the index needs to know about one article."""

    title: str
    title_words: frozenset[str]
    versions: frozenset[str]
    # Weighted term counts: title words count twice, names and figures of the lead more.
    content: Mapping[str, float]
    # Names and figures (capitalised inside a sentence, or holding a digit).
    identifiers: frozenset[str]
    # The figures the title states ("4", "14.3", "91750.00"): different figures, different events.
    figures: frozenset[str]
    # Title plus the first `lead_words` words, weighted as `content`: what a short item (an
    # aggregator's one-liner, a snippet) is compared on.
    lead: Mapping[str, float]
    # Fewer than `lead_words` words of text: a short item.
    short: bool


@functools.lru_cache(maxsize=131_072)
def fold(word: str) -> str:
    """One word folded for comparison: case-folded, no possessive, crude plural folding.

    Cached, because news vocabulary repeats and this runs for every word of every item.
    """
    word = word.casefold().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word


def _pieces(token: str) -> list[str]:
    """A token as comparable pieces: itself, or character pairs for unspaced scripts."""
    if _UNSPACED.search(token) is None:
        return [token]
    if len(token) < 2:
        return [token]
    return [token[i : i + 2] for i in range(len(token) - 1)]


def terms(text: str) -> list[str]:
    """Comparable terms of a text, in order (any language)."""
    found: list[str] = []
    for raw in _TOKEN.findall(text):
        found.extend(_comparable(raw)[0])
    return found


def words_with_identifiers(text: str, limit: int) -> tuple[list[str], set[str]]:
    """The first `limit` terms of a text, and those among them that are names or figures.

    A name is a capitalised word that does not open a sentence; a figure holds a digit. In
    titles every word may be capitalised, so this is used on the lead only.
    """
    found: list[str] = []
    identifiers: set[str] = set()
    previous_end = 0
    for match in _TOKEN.finditer(text):
        if len(found) >= limit:
            break
        raw = match.group()
        pieces, has_digit = _comparable(raw)
        special = has_digit
        if not special and raw[0].isupper():
            between = text[previous_end : match.start()].strip()
            special = previous_end > 0 and not (between and between[-1] in _SENTENCE_END)
        previous_end = match.end()
        found.extend(pieces)
        if special:
            identifiers.update(pieces)
    return found, identifiers


@functools.lru_cache(maxsize=131_072)
def _comparable(raw: str) -> tuple[tuple[str, ...], bool]:
    """A raw token's comparable pieces, and whether it holds a digit (cached: words repeat)."""
    return tuple(p for p in _pieces(fold(raw)) if p), _DIGIT.search(raw) is not None


def compile_version_pattern(pattern: str) -> re2._Regexp:
    """An RE2 pattern from the config, or a ValueError that names it."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        message = f"stories version pattern {pattern!r}: invalid RE2 pattern: {exc}"
        raise ValueError(message) from exc


class FeatureMaker:
    """Turns an article's title, text and URL into comparable features."""

    def __init__(self, settings: ClusterSettings) -> None:
        self._settings = settings
        self._versions = [compile_version_pattern(p) for p in settings.version_patterns]

    def make(self, title_raw: str, text_raw: str, url: str) -> Features:
        title = canonical_title(title_raw, url)
        title_words = terms(title)
        lead = clean(text_raw)[: self._settings.content_words * 12]
        lead_words, identifiers = words_with_identifiers(lead, self._settings.content_words)
        settings = self._settings
        content: dict[str, float] = {}
        for word in title_words:
            content[word] = content.get(word, 0.0) + settings.title_weight
        opening: dict[str, float] = dict(content)
        for number, word in enumerate(lead_words):
            weight = settings.identifier_weight if word in identifiers else 1.0
            content[word] = content.get(word, 0.0) + weight
            if number < settings.lead_words:
                opening[word] = opening.get(word, 0.0) + weight
        return Features(
            title=title,
            title_words=frozenset(title_words),
            versions=frozenset(self._version_ids(title)),
            content=content,
            identifiers=frozenset(identifiers),
            figures=frozenset(w for w in title_words if _DIGIT.search(w)),
            lead=opening,
            short=len(lead_words) < settings.lead_words,
        )

    def _version_ids(self, title: str) -> Iterable[str]:
        for pattern in self._versions:
            for found in pattern.finditer(title):
                # "SAM 2", "SAM-2" and "SAM2" name one version.
                yield str(_SPACES.sub("", found.group(0).lower().replace("-", "")))


class Vocabulary:
    """Document frequencies over a background of items, for rarity weights (IDF).

    Every item the store holds can be observed, kept or dropped: the more ordinary news it
    has seen, the better it knows which words say nothing about one event. Weights come from
    a snapshot taken afresh whenever the background has grown or shrunk by a tenth (an
    "epoch"), so that cached story vectors stay valid within an epoch.
    """

    def __init__(
        self,
        prior_terms: Iterable[str] = (),
        prior_documents: int = 0,
        general: GeneralLanguage | None = None,
        general_documents: int = 0,
    ) -> None:
        self._prior_terms = frozenset(prior_terms)
        self._prior = prior_documents
        # General writing as `general_documents` virtual documents (bot.stories.language).
        self._general = general
        self._general_documents = general_documents if general is not None else 0
        self._frequency: Counter[str] = Counter()
        self._documents: dict[int, frozenset[str]] = {}
        # The topic's own words among the kept items only: how much of this store's kind of
        # item uses each (all use "Meta"; few "DeepSeek").
        self._kept: set[int] = set()
        self._kept_frequency: Counter[str] = Counter()
        self.epoch = 0
        self._snapshot: dict[str, int] = {}
        self._snapshot_size = 0
        self._kept_snapshot: dict[str, int] = {}
        self._kept_snapshot_size = 0
        self._idf: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, key: int) -> bool:
        return key in self._documents

    def observe(self, key: int, document_terms: Iterable[str], kept: bool = True) -> None:
        """Count a document once (observing the same key again is a no-op); ``kept`` when
        the topic rules kept it (a dropped item counts in the background only)."""
        if key in self._documents:
            return
        distinct = frozenset(document_terms)
        self._documents[key] = distinct
        self._frequency.update(distinct)
        if kept:
            self._kept.add(key)
            self._kept_frequency.update(distinct & self._prior_terms)
        self._maybe_new_epoch()

    def forget(self, key: int) -> None:
        distinct = self._documents.pop(key, None)
        if distinct is None:
            return
        self._frequency.subtract(distinct)
        for term in distinct:
            if self._frequency[term] <= 0:
                del self._frequency[term]
        if key in self._kept:
            self._kept.discard(key)
            self._kept_frequency.subtract(distinct & self._prior_terms)
        self._maybe_new_epoch()

    def is_common(self, term: str) -> bool:
        """One of the prior's words (the topic's own vocabulary)."""
        return term in self._prior_terms

    def observed(self, term: str) -> int:
        """In how many observed (stored) documents the term occurs now."""
        return self._frequency.get(term, 0)

    def frequency(self, term: str) -> float:
        """In how many documents the term occurs now: the observed ones, and its expected
        share of the general-writing prior's virtual documents."""
        return self._frequency.get(term, 0) + self._general_share(term)

    def _general_share(self, term: str) -> float:
        """The term's documents among the prior's virtual ones. The topic's own words
        ("Meta", "Llama") are rare in general writing but in every item of this store: for
        them the virtual documents are this store's kind of item, which all use them."""
        if self._general is None:
            return 0.0
        if term in self._prior_terms:
            # Estimated on the kept items, starting from "half of them" (a store of three
            # items knows little): "Meta" ends near every item, "DeepSeek" near few.
            used = self._kept_snapshot.get(term, 0)
            share = (used + 0.5) / (self._kept_snapshot_size + 1)
        else:
            share = self._general.share(term)
        return self._general_documents * share

    def _maybe_new_epoch(self) -> None:
        size = len(self._documents)
        drift = abs(size - self._snapshot_size)
        if drift and drift >= max(1, self._snapshot_size // 10):
            self.epoch += 1
            self._snapshot = dict(self._frequency)
            self._snapshot_size = size
            self._kept_snapshot = dict(self._kept_frequency)
            self._kept_snapshot_size = len(self._kept)
            self._idf.clear()

    def idf(self, term: str) -> float:
        """Probabilistic IDF, log((N - df + 0.5) / (df + 0.5)) clipped at 0, from the epoch's
        snapshot: about log(N / df) for rare words, and 0 for a word in half the items or more,
        so even a store of a handful of items treats "the" (or "de", or "Meta") as noise."""
        found = self._idf.get(term)
        if found is None:
            # The prior's virtual items hold the prior terms only: they count for those alone.
            prior = self._prior if term in self._prior_terms else 0
            df = self._snapshot.get(term, 0) + prior + self._general_share(term)
            documents = self._snapshot_size + prior + self._general_documents
            found = max(0.0, math.log((documents - df + 0.5) / (df + 0.5)))
            self._idf[term] = found
        return found

    def weights(self, content: Mapping[str, float]) -> dict[str, float]:
        """TF-IDF weights of an article's term counts (zero weights left out).

        Raw term counts: measured, a dampened 1 + log tf lost recall on both labelled sets.
        """
        out = {}
        for term, count in content.items():
            weight = count * self.idf(term)
            if weight > 0:
                out[term] = weight
        return out

    def distinctive(self, term: str, limit: int) -> bool:
        """Used by few items: at most `limit`, and by at most half of the background (the
        general-writing prior included, so a function word never is, in any language)."""
        df = self.frequency(term)
        return df <= limit and 2 * df <= max(2, len(self._documents) + self._general_documents)


def unit(vector: Mapping[str, float]) -> dict[str, float]:
    """The vector scaled to length 1 (empty when it is all zero)."""
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def cosine_unit(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit vectors: their dot product, over the smaller one's terms."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
