"""What the story index compares: title word sets, term counts, and (optionally) MinHash sketches.

Features are computed once per article: match() and the add() that follows it
share them.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import re2
from datasketch import MinHash

from bot.stories.settings import ClusterSettings
from bot.stories.text import canonical_title, clean, words

_SPACES = re2.compile(r"\s+")


@dataclass(frozen=True)
class Features:
    """Everything the index needs to know about one article."""

    title: str
    title_words: frozenset[str]
    versions: frozenset[str]
    content: Mapping[str, int]
    title_hash: MinHash | None


def _hash_token(token: bytes) -> int:
    """A fast, stable 32-bit token hash (the default SHA-1 is needlessly slow here)."""
    return zlib.crc32(token)


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
        self._perms: np.ndarray = MinHash(num_perm=settings.num_perm, seed=1).permutations
        self._versions = [compile_version_pattern(p) for p in settings.version_patterns]

    def make(self, title_raw: str, text_raw: str, url: str) -> Features:
        title = canonical_title(title_raw, url)
        title_words = words(title)
        text_words = words(clean(text_raw))
        content: Counter[str] = Counter()
        for word in title_words:
            content[word] += 2  # the headline names the event: its words count twice
        content.update(text_words[: self._settings.content_words])
        return Features(
            title=title,
            title_words=frozenset(title_words),
            versions=frozenset(self._version_ids(title)),
            content=dict(content),
            title_hash=self._minhash(title_words) if self._settings.title_lsh else None,
        )

    def _version_ids(self, title: str) -> Iterable[str]:
        for pattern in self._versions:
            for found in pattern.finditer(title):
                yield str(_SPACES.sub(" ", found.group(0).lower().replace("-", " ")))

    def _minhash(self, tokens: Iterable[str]) -> MinHash | None:
        encoded = [t.encode("utf-8") for t in tokens]
        if not encoded:
            return None
        sketch = MinHash(
            num_perm=self._settings.num_perm,
            permutations=self._perms,
            scheme="affine32",
            hashfunc=_hash_token,
        )
        sketch.update_batch(encoded)
        return sketch


class TfIdf:
    """TF-IDF weights over the current window, and a term index for finding candidates.

    IDF comes from a snapshot of the window's document frequencies, taken afresh
    whenever the window size has drifted by more than a tenth since the last one
    (an "epoch"); within an epoch every weight, and so every cached vector norm,
    is fixed, and a cosine costs one pass over the shared terms only.

    Candidates for the cosine test come from the postings of the new article's
    rarest terms (names, numbers, unusual words: what rewrites of one scoop keep),
    ranked by the IDF they share; terms found in more than `max_postings` window
    articles are too common to point at one story and are skipped. The work per
    match is therefore bounded, however many articles the window holds.
    """

    def __init__(
        self,
        candidate_terms: int = 12,
        max_postings: int = 50,
        max_candidates: int = 20,
        min_shared_terms: int = 2,
        common_words: Iterable[str] = (),
        common_words_documents: int = 0,
    ) -> None:
        self._common = frozenset(common_words)
        self._prior = common_words_documents
        self._candidate_terms = candidate_terms
        self._min_shared = min_shared_terms
        self._max_postings = max_postings
        self._max_candidates = max_candidates
        # term -> keys of the window articles that use it; its size is the term's document frequency
        self._postings: dict[str, set[int]] = {}
        self._documents = 0
        self._epoch = 0
        self._snapshot: dict[str, int] = {}
        self._snapshot_size = 0
        self._idf: dict[str, float] = {}
        self._norms: dict[int, tuple[int, float]] = {}

    def add(self, key: int, content: Mapping[str, int]) -> None:
        postings = self._postings
        for term in content:
            keys = postings.get(term)
            if keys is None:
                postings[term] = {key}
            else:
                keys.add(key)
        self._documents += 1
        self._maybe_new_epoch()

    def remove(self, key: int, content: Mapping[str, int]) -> None:
        postings = self._postings
        for term in content:
            keys = postings.get(term)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del postings[term]
        self._documents -= 1
        self._norms.pop(key, None)
        self._maybe_new_epoch()

    def _maybe_new_epoch(self) -> None:
        drift = abs(self._documents - self._snapshot_size)
        if drift and drift >= max(1, self._snapshot_size // 10):
            self._epoch += 1
            self._snapshot = {term: len(keys) for term, keys in self._postings.items()}
            self._snapshot_size = self._documents
            self._idf.clear()

    def candidates(self, content: Mapping[str, int]) -> list[int]:
        """Indexed articles that share the new article's rarest terms, best first."""
        postings = self._postings
        frequency = {
            t: len(postings[t]) for t in content if t in postings and t not in self._common
        }
        present = [t for t, df in frequency.items() if df <= self._max_postings]
        present.sort(key=lambda t: (frequency[t], t))
        shared: Counter[int] = Counter()
        weight: dict[int, float] = {}
        for term in present[: self._candidate_terms]:
            idf = self.idf(term)
            for key in postings[term]:
                shared[key] += 1
                weight[key] = weight.get(key, 0.0) + idf
        eligible = [key for key, count in shared.items() if count >= self._min_shared]
        eligible.sort(key=lambda key: (-weight[key], key))
        return eligible[: self._max_candidates]

    def idf(self, term: str) -> float:
        """Smoothed IDF from the epoch's snapshot of the window, plus the common-words prior.

        The prior counts `common_words_documents` extra documents that contain every
        common word, so "meta" or "llama" weigh little even in a window of two articles.
        """
        found = self._idf.get(term)
        if found is None:
            df = self._snapshot.get(term, 0) + (self._prior if term in self._common else 0)
            documents = self._snapshot_size + self._prior
            found = math.log((documents + 2) / (df + 1)) + 1.0
            self._idf[term] = found
        return found

    def weights(self, content: Mapping[str, int]) -> dict[str, float]:
        return {term: count * self.idf(term) for term, count in content.items()}

    def norm(self, key: int, content: Mapping[str, int]) -> float:
        cached = self._norms.get(key)
        if cached is not None and cached[0] == self._epoch:
            return cached[1]
        value = math.sqrt(sum((count * self.idf(term)) ** 2 for term, count in content.items()))
        self._norms[key] = (self._epoch, value)
        return value

    def cosine(
        self, new: Mapping[str, float], new_norm: float, key: int, old: Mapping[str, int]
    ) -> float:
        """Cosine of a new article's weights with an indexed article's counts."""
        shared = new.keys() & old.keys()
        if not shared or not new_norm:
            return 0.0
        dot = sum(new[term] * old[term] * self.idf(term) for term in shared)
        old_norm = self.norm(key, old)
        return dot / (new_norm * old_norm) if old_norm else 0.0


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
