"""Incremental story index: which earlier story, if any, a new article belongs to.

Only the recent window is held (prune() drops the rest), and a new article is
compared only with the candidates an index returns, never with every stored
article, so the cost of one match stays flat however large the store grows. The
candidates come from a term index over the window: the articles that share the
new one's rarest words. (MinHash LSH over titles, from datasketch, can be added
with `title_lsh = true`; bench/cluster.py measures both, and the term index alone
found the same stories at a fraction of the cost, so it is the default.)

Signals, surest first: the same URL (or Hacker News comments page); near-identical
titles (word-set Jaccard); similar wording of title plus lead (TF-IDF cosine; copied
text scores near 1.0), whose threshold rises with the days between the two
articles. A safeguard keeps apart articles whose titles name different model
versions ("Llama 3.1" vs "Llama 3.2").
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from datasketch import MinHashLSH

from bot.stories.features import FeatureMaker, Features, TfIdf, jaccard
from bot.stories.settings import ClusterSettings
from bot.stories.text import host_of, words


@dataclass(frozen=True)
class ArticleRef:
    """One stored item as the story stage sees it."""

    key: int
    title: str
    text: str
    url: str
    published: datetime
    source: str
    comments_url: str | None = None


@dataclass(frozen=True)
class StoryMatch:
    """The story an article joins, and the evidence in words."""

    story_id: int
    reason: str


@dataclass(frozen=True)
class _Entry:
    article: ArticleRef
    story_id: int
    features: Features


class StoryIndex:
    """Articles of the recent window with their story ids, indexed for fast matching."""

    def __init__(self, settings: ClusterSettings) -> None:
        self._settings = settings
        self._window = timedelta(hours=settings.window_hours)
        self._maker = FeatureMaker(settings)
        self._title_lsh = MinHashLSH(settings.title_candidate_threshold, settings.num_perm)
        self._entries: dict[int, _Entry] = {}
        self._by_url: dict[str, int] = {}
        self._expiry: list[tuple[float, int]] = []
        self._tfidf = TfIdf(
            settings.candidate_terms,
            settings.max_postings,
            settings.max_candidates,
            settings.min_shared_terms,
            common_words=(w for phrase in settings.common_words for w in words(phrase)),
            common_words_documents=settings.common_words_documents,
        )
        self._last: tuple[ArticleRef, Features] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    # ----------------------------------------------------------------- public
    def match(self, article: ArticleRef) -> StoryMatch | None:
        """The story this article belongs to, or None for a new story. Does not modify the index."""
        by_url = self._match_url(article)
        if by_url is not None:
            return by_url
        features = self._features(article)
        candidates = self._candidates(article, features)
        if not candidates:
            return None
        weights = self._tfidf.weights(features.content)
        norm = math.sqrt(sum(w * w for w in weights.values()))
        best: tuple[float, StoryMatch] | None = None
        for key in candidates:
            entry = self._entries[key]
            days = abs((article.published - entry.article.published).total_seconds()) / 86_400
            if days * 24 > self._settings.window_hours:
                continue
            cosine = self._tfidf.cosine(weights, norm, key, entry.features.content)
            found = self._compare(features, entry, days, cosine)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        return best[1] if best else None

    def add(self, article: ArticleRef, story_id: int) -> None:
        """Index an article under its story; adding a known key again replaces it."""
        if article.key in self._entries:
            self._remove(article.key)
        features = self._features(article)
        self._entries[article.key] = _Entry(article, story_id, features)
        for url in _urls(article):
            self._by_url[url] = article.key
        self._tfidf.add(article.key, features.content)
        if features.title_hash is not None:
            self._title_lsh.insert(article.key, features.title_hash)
        heapq.heappush(self._expiry, (article.published.timestamp(), article.key))

    def prune(self, now: datetime) -> int:
        """Forget articles published before the window that ends at `now`; return how many."""
        cutoff = (now - self._window).timestamp()
        removed = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            stamp, key = heapq.heappop(self._expiry)
            entry = self._entries.get(key)
            if entry is not None and entry.article.published.timestamp() == stamp:
                self._remove(key)
                removed += 1
        return removed

    # --------------------------------------------------------------- matching
    def _match_url(self, article: ArticleRef) -> StoryMatch | None:
        for url in _urls(article):
            key = self._by_url.get(url)
            if key is not None:
                return StoryMatch(self._entries[key].story_id, f"same URL as item {key}")
        return None

    def _candidates(self, article: ArticleRef, features: Features) -> set[int]:
        found: set[int] = set()
        if features.title_hash is not None:
            found.update(self._title_lsh.query(features.title_hash))
        found.update(self._tfidf.candidates(features.content))
        found.discard(article.key)
        return found

    def _compare(
        self, new: Features, entry: _Entry, days: float, cosine: float
    ) -> tuple[float, StoryMatch] | None:
        """Score one candidate; None when it is not the same story."""
        old = entry.features
        key = entry.article.key
        if new.versions and old.versions and not (new.versions & old.versions):
            return None
        title_sim = jaccard(new.title_words, old.title_words)
        if title_sim >= self._settings.title_threshold:
            reason = f"title similarity {title_sim:.2f} with item {key}"
            return 2.0 + title_sim, StoryMatch(entry.story_id, reason)
        needed = self._settings.content_threshold + self._settings.content_threshold_per_day * days
        if cosine >= needed:
            reason = f"TF-IDF cosine {cosine:.2f} with item {key}"
            return cosine, StoryMatch(entry.story_id, reason)
        return None

    # --------------------------------------------------------------- plumbing
    def _features(self, article: ArticleRef) -> Features:
        """Features of an article, reused between a match() and the add() that follows."""
        if self._last is not None and self._last[0] == article:
            return self._last[1]
        features = self._maker.make(article.title, article.text, article.url)
        self._last = (article, features)
        return features

    def _remove(self, key: int) -> None:
        entry = self._entries.pop(key)
        for url in _urls(entry.article):
            if self._by_url.get(url) == key:
                del self._by_url[url]
        self._tfidf.remove(key, entry.features.content)
        if entry.features.title_hash is not None:
            self._title_lsh.remove(key)


def _urls(article: ArticleRef) -> list[str]:
    """The URLs that identify an article: its link and, for Hacker News, its comments page."""
    urls = [article.url] if article.url else []
    if article.comments_url and article.comments_url != article.url:
        urls.append(article.comments_url)
    return urls


def is_aggregator(article: ArticleRef, hosts: Iterable[str]) -> bool:
    """True for an item that only points at someone else's article."""
    known = {h.lower() for h in hosts}
    if host_of(article.url) in known:
        return True
    return bool(article.comments_url) and host_of(article.comments_url or "") in known


__all__ = ["ArticleRef", "StoryIndex", "StoryMatch", "is_aggregator"]
