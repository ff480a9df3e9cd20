"""Incremental story index: which earlier story, if any, a new article belongs to.

A new article is compared with candidate *stories as a whole*, never with one member alone:
its TF-IDF vector against the story's centroid (the mean of its members' unit vectors). One
shared word with one member cannot pull an article into a story, so stories do not chain
(A~B and B~C on one word each leave A and C apart). Words are weighted by rarity over a
background of every item seen (:class:`~bot.stories.features.Vocabulary`), in any language.

Signals, surest first: the same URL (or Hacker News comments page); a near-identical title
(word-set Jaccard with a member); similar wording of title plus lead against the centroid,
with a threshold that rises with the days between the article and the story. Safeguards: two
titles naming different model versions ("Llama 3.1" vs "Llama 3.2") are different stories; and
an outlet does not report one event twice as two articles, so an article joins a story that
already holds an article of its own feed only by URL or a near-identical title (updates,
reposts), never by wording alone; aggregator items are exempt.

Only the recent window is held (prune() drops the rest), and a new article is compared only
with the candidate stories that share its rarest words, so the cost of one match stays flat
however large the store grows.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.common.hosts import is_aggregator_url
from bot.stories.features import (
    FeatureMaker,
    Features,
    Vocabulary,
    cosine_unit,
    jaccard,
    terms,
    unit,
)
from bot.stories.language import GeneralLanguage
from bot.stories.settings import ClusterSettings
from bot.stories.text import canonical_title


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
    # Other stories the article would join as well: later coverage bridging two stories
    # that began apart (see StoryIndex.merge_evidence).
    also: tuple[int, ...] = ()


@dataclass(frozen=True)
class Nearest:
    """For an article that starts a story: the closest story it did not join, and why not."""

    story_id: int | None
    title: str = ""
    score: float = 0.0
    needed: float = 0.0
    shared: tuple[str, ...] = ()
    blocked: str = ""

    def describe(self) -> str:
        if self.story_id is None:
            return "first article of the story; no story in the window shares its rare words"
        words = f" (shared: {', '.join(self.shared)})" if self.shared else ""
        why = f"; {self.blocked}" if self.blocked else ""
        return (
            f"first article of the story; nearest story {self.story_id} “{self.title[:80]}” "
            f"scored {self.score:.2f} against the threshold {self.needed:.2f}{words}{why}"
        )


@dataclass(frozen=True)
class _Entry:
    article: ArticleRef
    story_id: int
    features: Features
    aggregator: bool


@dataclass
class _Story:
    members: set[int] = field(default_factory=set)
    # (vocabulary epoch, centroid unit vector), rebuilt when a member changes or the epoch moves.
    centroid: tuple[int, dict[str, float]] | None = None


@dataclass(frozen=True)
class _Scored:
    story_id: int
    score: float
    needed: float
    reason: str
    shared: tuple[str, ...]
    blocked: str = ""


class StoryIndex:
    """Articles of the recent window with their story ids, indexed for fast matching."""

    def __init__(self, settings: ClusterSettings, common_terms: Iterable[str] = ()) -> None:
        """`common_terms`: words every indexed item is expected to use (the topic's own
        vocabulary); they weigh as if found in `common_words_documents` more items, which
        matters while the store is young."""
        self._settings = settings
        self._window = timedelta(hours=settings.window_hours)
        self._maker = FeatureMaker(settings)
        self._aggregators = frozenset(h.lower() for h in settings.aggregator_hosts)
        phrases = [*settings.common_words, *common_terms]
        prior = (t for phrase in phrases for t in terms(phrase))
        general = GeneralLanguage(settings.content_words) if settings.general_documents else None
        self.vocabulary = Vocabulary(
            prior, settings.common_words_documents, general, settings.general_documents
        )
        self._entries: dict[int, _Entry] = {}
        self._stories: dict[int, _Story] = {}
        self._by_url: dict[str, int] = {}
        # term -> story id -> how many of the story's members use it
        self._postings: dict[str, Counter[int]] = {}
        self._expiry: list[tuple[float, int]] = []
        self._last: tuple[ArticleRef, Features] | None = None
        # Features made by observe(), reused when the same article is matched and added.
        self._observed: dict[int, tuple[str, str, Features]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def settings(self) -> ClusterSettings:
        return self._settings

    # ----------------------------------------------------------------- public
    def observe(self, key: int, title: str, text: str, kept: bool = True) -> None:
        """Count an item (kept or dropped) in the background that weights words by rarity."""
        if key not in self.vocabulary:
            features = self._maker.make(title, text, "")
            self.vocabulary.observe(key, features.content, kept)
            self._observed[key] = (title, text, features)

    def match(self, article: ArticleRef) -> StoryMatch | None:
        """The story this article belongs to, or None for a new story. Does not modify stories."""
        found, _ = self.decide(article)
        return found

    def nearest(self, article: ArticleRef) -> Nearest:
        """The closest story an article did not join (for `explain`)."""
        return self.decide(article)[1]

    def decide(self, article: ArticleRef) -> tuple[StoryMatch | None, Nearest]:
        """The story to join (or None), and the nearest story otherwise, with its score."""
        by_url = self._match_url(article)
        if by_url is not None:
            return by_url, Nearest(None)
        features = self._features(article)
        self.vocabulary.observe(article.key, features.content)
        vector = self._vector(features)
        joined: list[_Scored] = []
        closest: _Scored | None = None
        for story_id in self._candidates(article, features):
            scored = self._score(article, features, vector, story_id)
            if scored is None:
                continue
            if scored.score >= scored.needed and not scored.blocked:
                joined.append(scored)
            elif closest is None or scored.score > closest.score:
                closest = scored
        if joined:
            best = max(joined, key=lambda scored: (scored.score, -scored.story_id))
            also = tuple(sorted(s.story_id for s in joined if s is not best))
            return StoryMatch(best.story_id, best.reason, also), Nearest(None)
        if closest is None:
            return None, Nearest(None)
        title = self._story_title(closest.story_id)
        return None, Nearest(
            closest.story_id, title, closest.score, closest.needed, closest.shared, closest.blocked
        )

    def add(self, article: ArticleRef, story_id: int) -> None:
        """Index an article under its story; adding a known key again replaces it."""
        if article.key in self._entries:
            self._remove(article.key)
        features = self._features(article)
        self.vocabulary.observe(article.key, features.content)
        aggregator = is_aggregator(article, self._aggregators)
        self._entries[article.key] = _Entry(article, story_id, features, aggregator)
        story = self._stories.setdefault(story_id, _Story())
        story.members.add(article.key)
        story.centroid = None
        for url in _urls(article):
            self._by_url[url] = article.key
        for term in features.content:
            self._postings.setdefault(term, Counter())[story_id] += 1
        heapq.heappush(self._expiry, (article.published.timestamp(), article.key))

    def merge_evidence(self, one: int, other: int) -> str | None:
        """Why two stories are one event, or None when they are not (or may not be told).

        An article that joins both is the occasion, not the proof: the stories as wholes
        must be alike (centroid cosine at the joining threshold for the days between their
        beginnings), their titles must share a distinctive word, no title pair may name
        different model versions, and no outlet may have reported in both (one outlet does
        not report one event twice).
        """
        first, second = self._stories.get(one), self._stories.get(other)
        if first is None or second is None or one == other:
            return None
        a = [self._entries[key] for key in first.members]
        b = [self._entries[key] for key in second.members]
        versions = [frozenset().union(*(m.features.versions for m in side)) for side in (a, b)]
        if all(versions) and not versions[0] & versions[1]:
            return None
        if self._settings.one_article_per_source:
            sources = [{m.article.source for m in side if not m.aggregator} for side in (a, b)]
            if sources[0] & sources[1]:
                return None
        starts = [min(m.article.published for m in side) for side in (a, b)]
        days = abs((starts[0] - starts[1]).total_seconds()) / 86_400
        needed = self._bar(self._settings.content_threshold, days)
        score = cosine_unit(self._centroid(one, first), self._centroid(other, second))
        titles = [self._distinctive_words(m.features.title_words for m in side) for side in (a, b)]
        common = sorted(titles[0] & titles[1])
        if score < needed or not common:
            return None
        return (
            f"stories {one} and {other} are one event: their articles alike as wholes "
            f"({score:.2f}, threshold {needed:.2f}), their titles share {', '.join(common[:4])}"
        )

    def merge(self, survivor: int, absorbed: int) -> None:
        """Index the absorbed story's articles under the survivor."""
        story = self._stories.get(absorbed)
        if story is None:
            return
        for key in sorted(story.members):
            self.add(self._entries[key].article, survivor)

    def _distinctive_words(self, word_sets: Iterable[Iterable[str]]) -> set[str]:
        """The words of these sets that can name an event: distinctive, not the topic's own."""
        limit = self._settings.max_postings
        vocabulary = self.vocabulary
        return {
            t
            for words in word_sets
            for t in words
            if not vocabulary.is_common(t) and vocabulary.distinctive(t, limit)
        }

    def _bar(self, base: float, days: float) -> float:
        """A joining threshold raised for the days since the story began (coverage of one
        event bunches around its first report)."""
        return base + self._settings.content_threshold_per_day * days

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
            if key is not None and key != article.key:
                return StoryMatch(self._entries[key].story_id, f"same URL as item {key}")
        return None

    def _candidates(self, article: ArticleRef, features: Features) -> list[int]:
        """Stories sharing the article's rarest words (title words always count), best first."""
        settings = self._settings
        vocabulary = self.vocabulary
        # The cut bounds the work (a word's postings grow with the items that use it); the
        # order is rarity, the general-writing prior included.
        present = [t for t in features.content if t in self._postings]
        rare = [t for t in present if vocabulary.observed(t) <= settings.max_postings]
        rare.sort(key=lambda t: (vocabulary.frequency(t), t))
        chosen = set(rare[: settings.candidate_terms])
        chosen.update(
            t
            for t in features.title_words
            if t in self._postings and vocabulary.observed(t) <= 4 * settings.max_postings
        )
        shared: Counter[int] = Counter()
        weight: dict[int, float] = {}
        for term in chosen:
            idf = vocabulary.idf(term)
            for story_id in self._postings[term]:
                shared[story_id] += 1
                weight[story_id] = weight.get(story_id, 0.0) + idf
        eligible = [s for s, count in shared.items() if count >= settings.min_shared_terms]
        eligible.sort(key=lambda s: (-weight[s], s))
        return eligible[: settings.max_candidates]

    def _score(
        self, article: ArticleRef, features: Features, vector: Mapping[str, float], story_id: int
    ) -> _Scored | None:
        """How well the article fits one story; None when a safeguard rules it out."""
        story = self._stories[story_id]
        members = [self._entries[key] for key in story.members]
        versions = frozenset().union(*(m.features.versions for m in members))
        if features.versions and versions and not (features.versions & versions):
            return None
        # Coverage of one event bunches around its first report: the threshold rises with the
        # time since the story began, so a follow-up days later must be closer to join.
        nearest = min(
            abs((article.published - m.article.published).total_seconds()) for m in members
        )
        if nearest > self._window.total_seconds():
            return None
        gap = abs((article.published - min(m.article.published for m in members)).total_seconds())
        title_key, title_sim = self._closest_title(article, features, members)
        if title_sim >= self._settings.title_threshold:
            reason = f"title similarity {title_sim:.2f} with item {title_key}"
            return _Scored(story_id, 2.0 + title_sim, 0.0, reason, ())
        outlet = self._same_outlet(article, members)
        days = gap / 86_400
        if features.short and not outlet:
            lead = self._lead_match(features, members, days)
            if lead is not None:
                return lead
        centroid = self._centroid(story_id, story)
        score = cosine_unit(vector, centroid)
        needed = self._bar(self._settings.content_threshold, days)
        shared = _top_shared(vector, centroid)
        names = self._young_store_names(features, members)
        if names and not outlet:
            reason = (
                f"shares the names and figures {', '.join(names)} with story {story_id}; the "
                f"store holds {len(self.vocabulary)} items, too few to weigh words by rarity"
            )
            return _Scored(story_id, max(score, needed), needed, reason, names)
        blocked = (
            outlet
            or self._too_little_evidence(vector, centroid)
            or self._other_headline(features, members, score, needed)
        )
        reason = (
            f"content similarity {score:.2f} (threshold {needed:.2f}) with story {story_id} "
            f"as a whole ({len(members)} article{'s' if len(members) != 1 else ''}); "
            f"shared: {', '.join(shared)}"
        )
        return _Scored(story_id, score, needed, reason, shared, blocked)

    def _young_store_names(self, features: Features, members: Iterable[_Entry]) -> tuple[str, ...]:
        """In a store too young to measure rarity: the names and figures (outside the topic's
        own words) the article shares with the story, when there are enough to identify one
        event ("Axios", "Wang", "600", "Kimi", "2.5"); else ()."""
        settings = self._settings
        if len(self.vocabulary) >= settings.young_store_items:
            return ()
        theirs = frozenset().union(*(m.features.identifiers for m in members))
        shared = sorted(
            t for t in features.identifiers & theirs if not self.vocabulary.is_common(t)
        )
        return tuple(shared) if len(shared) >= settings.young_store_shared_names else ()

    def _closest_title(
        self, article: ArticleRef, features: Features, members: Iterable[_Entry]
    ) -> tuple[int, float]:
        """The member whose title is nearest to the article's, and that similarity.

        Titles that state different figures ("sells $91,750" / "sells $53 million") report
        different events however alike the rest; a feed's own titles must be closer still
        (one outlet's templated headlines differ in a word or two).
        """
        best = (0, 0.0)
        for member in members:
            figures = (features.figures, member.features.figures)
            if all(figures) and figures[0] != figures[1]:
                continue
            similarity = jaccard(features.title_words, member.features.title_words)
            if self._same_source(article, member):
                similarity = (
                    similarity if similarity >= self._settings.same_source_title_threshold else 0.0
                )
            if similarity > best[1]:
                best = (member.article.key, similarity)
        return best

    def _lead_match(
        self, features: Features, members: Iterable[_Entry], days: float
    ) -> _Scored | None:
        """A short item's title and lead against each member's: the closest member when
        it is close enough (the bar rising with the days since the story began, as for
        wording) and they share two distinctive words, else None."""
        needed = self._bar(self._settings.lead_threshold, days)
        mine = unit(self.vocabulary.weights(features.lead))
        best: tuple[float, _Entry, list[str]] | None = None
        for member in members:
            theirs = unit(self.vocabulary.weights(member.features.lead))
            similarity = cosine_unit(mine, theirs)
            if best is not None and similarity <= best[0]:
                continue
            shared = sorted(
                self._distinctive_words([mine.keys() & theirs.keys()]),
                key=lambda t: (-mine[t] * theirs[t], t),
            )
            best = (similarity, member, shared)
        if best is None or best[0] < needed or len(best[2]) < 2:
            return None
        similarity, member, shared = best
        reason = (
            f"title and lead similarity {similarity:.2f} with item {member.article.key} "
            f"(a short item; shared: {', '.join(shared[:6])})"
        )
        return _Scored(member.story_id, 1.0 + similarity, 0.0, reason, tuple(shared[:6]))

    def _other_headline(
        self, features: Features, members: Iterable[_Entry], score: float, needed: float
    ) -> str:
        """Why wording alone may not join: the titles name different things, or "".

        Coverage of one theme shares its background (a reorganisation story names the hires
        that preceded it), and an article on a neighbouring event can pass the threshold on
        that background alone. Outlets' headlines for one event share a distinctive word
        (a name, a figure, the thing done) far more often: without one, the wording must be
        clearly closer (`headline_free_factor` times the threshold).
        """
        factor = self._settings.headline_free_factor
        if factor <= 1.0 or score >= factor * needed:
            return ""
        theirs = self._distinctive_words(m.features.title_words for m in members)
        if self._distinctive_words([features.title_words]) & theirs:
            return ""
        return (
            "its title shares no distinctive word with the story's titles, and the wording "
            f"is not close enough without one ({score:.2f} < {factor:g} x {needed:.2f})"
        )

    def _too_little_evidence(
        self, vector: Mapping[str, float], centroid: Mapping[str, float]
    ) -> str:
        """Why the shared words are too few to identify one event, or ""."""
        limit = self._settings.max_postings
        distinctive = sum(
            1 for t in vector if t in centroid and self.vocabulary.distinctive(t, limit)
        )
        if distinctive >= self._settings.min_shared_terms:
            return ""
        return f"only {distinctive} distinctive word{'s' if distinctive != 1 else ''} in common"

    def _same_source(self, article: ArticleRef, member: _Entry) -> bool:
        """Both from one feed, neither an aggregator's pointer at someone else's article."""
        return (
            not member.aggregator
            and member.article.source == article.source
            and not is_aggregator(article, self._aggregators)
        )

    def _same_outlet(self, article: ArticleRef, members: Iterable[_Entry]) -> str:
        """Why wording alone may not join (the story holds this feed's own article), or ""."""
        if not self._settings.one_article_per_source:
            return ""
        for member in members:
            if self._same_source(article, member):
                return f"it already holds item {member.article.key} of the same feed"
        return ""

    def _centroid(self, story_id: int, story: _Story) -> dict[str, float]:
        """The mean of the members' unit vectors, scaled to length 1 (cached per epoch)."""
        epoch = self.vocabulary.epoch
        if story.centroid is not None and story.centroid[0] == epoch:
            return story.centroid[1]
        total: Counter[str] = Counter()
        for key in story.members:
            weights = self._vector(self._entries[key].features)
            total.update(weights)
        centroid = unit(total)
        story.centroid = (epoch, centroid)
        return centroid

    def _vector(self, features: Features) -> dict[str, float]:
        """An article's TF-IDF vector, scaled to length 1.

        Measured and rejected: keeping only the heaviest 25-60 terms. In a young store the
        heaviest are one article's own words, and recall fell on both labelled sets.
        """
        return unit(self.vocabulary.weights(features.content))

    def _story_title(self, story_id: int) -> str:
        members = sorted(self._stories[story_id].members)
        return self._entries[members[0]].features.title if members else ""

    # --------------------------------------------------------------- plumbing
    def _features(self, article: ArticleRef) -> Features:
        """Features of an article, reused between a match() and the add() that follows."""
        if self._last is not None and self._last[0] == article:
            return self._last[1]
        seen = self._observed.pop(article.key, None)
        same_text = seen is not None and seen[:2] == (article.title, article.text)
        if (
            same_text
            and seen is not None
            and seen[2].title == canonical_title(article.title, article.url)
        ):
            features = seen[2]
        else:
            features = self._maker.make(article.title, article.text, article.url)
        self._last = (article, features)
        return features

    def _remove(self, key: int) -> None:
        entry = self._entries.pop(key)
        for url in _urls(entry.article):
            if self._by_url.get(url) == key:
                del self._by_url[url]
        for term in entry.features.content:
            counts = self._postings.get(term)
            if counts is None:
                continue
            counts[entry.story_id] -= 1
            if counts[entry.story_id] <= 0:
                del counts[entry.story_id]
            if not counts:
                del self._postings[term]
        story = self._stories.get(entry.story_id)
        if story is not None:
            story.members.discard(key)
            story.centroid = None
            if not story.members:
                del self._stories[entry.story_id]


def _top_shared(vector: Mapping[str, float], centroid: Mapping[str, float]) -> tuple[str, ...]:
    """The terms that contribute most to the similarity, each with its part of the score
    ("reuters 0.31"): the evidence `explain` shows, weights included."""
    products = [(w * centroid[t], t) for t, w in vector.items() if t in centroid]
    products.sort(reverse=True)
    return tuple(f"{t} {product:.2f}" for product, t in products[:6])


def _urls(article: ArticleRef) -> list[str]:
    """The URLs that identify an article: its link and, for Hacker News, its comments page."""
    urls = [article.url] if article.url else []
    if article.comments_url and article.comments_url != article.url:
        urls.append(article.comments_url)
    return urls


def is_aggregator(article: ArticleRef, hosts: Iterable[str]) -> bool:
    """True for an item that only points at someone else's article."""
    known = tuple(hosts)
    return is_aggregator_url(article.url, known) or is_aggregator_url(article.comments_url, known)


__all__ = ["ArticleRef", "Nearest", "StoryIndex", "StoryMatch", "is_aggregator"]
