"""Rule-based extractive summaries: 2–3 verbatim sentences chosen by readable, tunable rules.

A sentence's score is a weighted sum of features scaled to 0..1 (weights in
SummarizeSettings.weights): position (news puts the point first), centrality (it shares terms
with the rest of the article), overlap with the title, the topic's terms, figures and names,
minus penalties for awkward length, questions and quotes. Sentences are then chosen greedily:
each step takes the best remaining sentence after a redundancy penalty (terms already said) and
a penalty for opening on a missing antecedent ("He said…", "But…"), within the sentence and
word limits. The chosen sentences come back in article order, never cut.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import re2

from bot.summarize.exclusions import SentenceRules
from bot.summarize.features import SentenceFeatures, Span, analyse, terms_of
from bot.summarize.settings import SummarizeSettings, compile_patterns
from bot.summarize.splitter import sentence_spans

_LINE = re.compile(r"[^\n]+")
_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ")", "…", ":")
_HEADLINE_MAX_WORDS = 25
# A summary line is a sentence: it ends with terminal punctuation (a closing quote or bracket
# may follow), and it is no list item. Headings, subheads ("Phrase: Phrase"), captions, the
# lines of a "key takeaways" box and datelines end without one; list items open with a marker
# (the text stage writes "- " before each <li>, as trafilatura does).
_TERMINATED = re.compile(r"[.!?…][\"'”’)\]]*$")
_LIST_MARKER = re.compile(r"^\s*[-–—•·▪*]\s")
_TRUNCATED_SNIPPET = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\]|\bRead more\b)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ArticleText:
    """One source article of a story: its title (if any) and its text."""

    title: str | None
    text: str


@dataclass(frozen=True, slots=True)
class _Scored:
    """A candidate sentence with its score before the selection-time penalties."""

    features: SentenceFeatures
    base: float
    source: int = 0


class Summarizer:
    """Chooses summary sentences by the rules in SummarizeSettings.

    Build one per configuration and reuse it: patterns are compiled here, once.
    """

    def __init__(
        self, settings: SummarizeSettings | None = None, topic_terms: Iterable[str] = ()
    ) -> None:
        self.settings = settings or SummarizeSettings.defaults()
        rules = self.settings.boilerplate
        self._boilerplate = compile_patterns(rules.sentence_patterns, case_sensitive=False)
        self._embeds = compile_patterns(rules.paragraph_patterns, case_sensitive=False)
        self._prefixes = [
            compile_patterns([pattern], case_sensitive=True) for pattern in rules.prefix_patterns
        ]
        self._rules = SentenceRules(self.settings.exclude)
        terms = sorted({term.strip() for term in topic_terms if term.strip()}, key=len)
        self._topic = compile_patterns(
            [rf"\b{re2.escape(term)}\b" for term in reversed(terms)], case_sensitive=False
        )

    # -- public API ---------------------------------------------------------------------------

    def summarize(
        self, text: str, title: str | None = None, max_sentences: int | None = None
    ) -> list[str]:
        """The summary of one article: verbatim sentences of `text`, in article order."""
        scored = self._score_article(text, title)
        chosen = self._select(scored, self._limit(max_sentences))
        return [item.features.text for item in sorted(chosen, key=lambda c: c.features.position)]

    def summarize_story(
        self, articles: Sequence[ArticleText], max_sentences: int | None = None
    ) -> list[str]:
        """The summary of a multi-source story, chosen across all its articles.

        Articles are ranked by how much of the story they carry (terms shared with the other
        sources and with their own title, and substance); lower-ranked ones pay a small penalty
        per rank. With two or more sources, each sentence also earns the new information it
        adds per word, a term counting by how many other sources and titles state it
        (consensus): facts the outlets agree on beat one outlet's narration. The redundancy
        rule works across sources, so no fact is repeated. An empty list when every sentence
        is excluded: the digest shows the story's title instead of a bad sentence.
        """
        usable = [article for article in articles if article.text.strip()]
        if not usable:
            return []
        per_article = [self._score_article(a.text, a.title) for a in usable]
        order = self._rank_articles(usable, per_article)
        pool: list[_Scored] = []
        for rank, position in enumerate(order):
            penalty = self.settings.weights.source_rank * rank
            pool.extend(
                _Scored(item.features, item.base - penalty, source=rank)
                for item in per_article[position]
            )
        information = _consensus(usable, per_article)
        chosen = self._select(pool, self._limit(max_sentences), information)
        chosen.sort(key=lambda c: (c.source, c.features.position))
        chosen = _lead_first(chosen, agreed_terms([a.title for a in usable if a.title]))
        return [item.features.text for item in chosen]

    def needs_full_text(self, text: str) -> bool:
        """True when `text` is a teaser too short to summarize well (fetch the page instead)."""
        words = len(text.split())
        if words < self.settings.min_snippet_words:
            return True
        return _TRUNCATED_SNIPPET.search(text) is not None and words < 2 * self.settings.max_words

    # -- scoring ------------------------------------------------------------------------------

    def _limit(self, max_sentences: int | None) -> int:
        limit = self.settings.max_sentences if max_sentences is None else max_sentences
        if limit < 1:
            raise ValueError(f"max_sentences must be at least 1, got {limit}")
        return limit

    def _strip_prefix(self, sentence: str) -> int:
        """Offset after any dateline or byline prefix (the sentence itself stays whole)."""
        offset = 0
        for pattern in self._prefixes:
            if pattern is None:
                continue
            match = pattern.match(sentence[offset:])
            if match and offset + match.end() < len(sentence):
                offset += match.end()
        return offset

    def _candidates(
        self, text: str, title: str | None
    ) -> tuple[list[SentenceFeatures], str | None]:
        """Sentences worth scoring, and the title (given, or the text's headline line).

        Boilerplate, the excluded classes (narration, questions… see exclusions.py), embedded
        posts, the headline and fragments are removed. Without a title, a
        first line with no full stop is taken as the headline: it becomes the title rather than
        a summary sentence. When every sentence is a fragment (a one-line snippet), the first
        non-boilerplate one is kept so that a short text still gets a summary; a run-on longer
        than max_sentence_words never is (it would be unreadable in a digest).
        """
        settings = self.settings
        window = settings.max_chars or None
        embedded = self._embedded_lines(text, window)
        title_key = " ".join(title.split()).lower() if title else None
        candidates: list[SentenceFeatures] = []
        fallback: list[SentenceFeatures] = []
        previous_end = 0
        lede = True  # the body's first sentence: nothing before it to lean on
        for number, (start, end) in enumerate(sentence_spans(text, window)):
            sentence = text[start:end]
            opens_block = start == 0 or "\n" in text[previous_end:start]
            previous_end = end
            if embedded and any(low <= start < high for low, high in embedded):
                continue
            if number == 0 and title is None and _is_headline(text, end, sentence):
                title = sentence
                continue
            opens_body, lede = lede, False
            offset = self._strip_prefix(sentence) if opens_block else 0
            if offset:
                start += offset
                sentence = sentence[offset:]
            if self._boilerplate is not None and self._boilerplate.search(sentence):
                continue
            if self._rules.excluded(sentence) is not None:
                continue
            if title_key is not None and " ".join(sentence.split()).lower() == title_key:
                continue
            if not is_sentence(sentence):
                continue
            leans = self._rules.leans_back(sentence, lede=opens_body)
            span = Span(number, start, end)
            words = len(sentence.split())
            if not settings.min_sentence_words <= words <= settings.max_sentence_words:
                if not candidates and not fallback and words < settings.min_sentence_words:
                    fallback.append(analyse(0, span, sentence, leans))
                continue
            candidates.append(analyse(len(candidates), span, sentence, leans))
            if len(candidates) >= settings.max_candidates:
                break
        return candidates or fallback, title

    def _embedded_lines(self, text: str, window: int | None) -> list[tuple[int, int]]:
        """Spans of lines that are embedded posts (a tweet's text and its attribution)."""
        if self._embeds is None or "\n" not in text:
            return []
        top = text if window is None else text[: window + 1]
        return [
            match.span()
            for match in _LINE.finditer(top)
            if self._embeds.search(match.group()) is not None
        ]

    def _score_article(self, text: str, title: str | None) -> list[_Scored]:
        candidates, title = self._candidates(text, title)
        if not candidates:
            return []
        weights = self.settings.weights
        frequency = Counter(term for sentence in candidates for term in sentence.terms)
        centrality = [self._centrality(sentence, frequency) for sentence in candidates]
        top = max(centrality) or 1.0
        title_terms = terms_of(title) if title else frozenset()
        scored: list[_Scored] = []
        for rank, sentence in enumerate(candidates):
            base = (
                weights.position * math.exp(-rank / weights.position_decay)
                + (weights.first_sentence_bonus if rank == 0 else 0.0)
                + weights.centrality * centrality[rank] / top
                + weights.title_overlap * _coverage(title_terms, sentence.terms)
                + weights.topic_terms * self._topic_score(sentence.text)
                + weights.numbers * sentence.has_number
                + weights.entities * min(1.0, sentence.entity_count / 3)
                - weights.length * self._length_penalty(sentence.word_count)
                - weights.question * sentence.is_question
                - weights.quote * sentence.is_quote
            )
            scored.append(_Scored(sentence, base))
        return scored

    @staticmethod
    def _centrality(sentence: SentenceFeatures, frequency: Counter[str]) -> float:
        """How many other candidate sentences share this one's terms, damped for length.

        Counted over the candidates (the top of the article) rather than the whole text: on the
        tuning slice both gave the same ROUGE, and this needs no second pass over the text.
        """
        if not sentence.terms:
            return 0.0
        shared = sum(frequency[term] for term in sentence.terms) - len(sentence.terms)
        return shared / math.sqrt(len(sentence.terms))

    def _topic_score(self, text: str) -> float:
        if self._topic is None:
            return 0.0
        return min(1.0, len(self._topic.findall(text)) / 2)

    def _length_penalty(self, words: int) -> float:
        low, high = self.settings.preferred_min_words, self.settings.preferred_max_words
        if words < low:
            return (low - words) / low
        if words > high:
            return min(1.0, (words - high) / high)
        return 0.0

    # -- selection ----------------------------------------------------------------------------

    def _rank_articles(
        self, articles: Sequence[ArticleText], scored: Sequence[Sequence[_Scored]]
    ) -> list[int]:
        """Article positions, best first: consensus with the other sources, then substance."""
        term_sets = [
            frozenset(term for item in items for term in item.features.terms) for items in scored
        ]

        def quality(position: int) -> float:
            others = frozenset().union(*(t for i, t in enumerate(term_sets) if i != position))
            consensus = _coverage(others, term_sets[position]) if others else 0.0
            substance = min(1.0, len(scored[position]) / 10)
            title = articles[position].title
            own_title = _coverage(terms_of(title), term_sets[position]) if title else 0.0
            return consensus + substance + 0.5 * own_title

        return sorted(range(len(articles)), key=lambda p: (-quality(p), p))

    def _select(
        self,
        scored: Sequence[_Scored],
        limit: int,
        information: Mapping[str, float] | None = None,
    ) -> list[_Scored]:
        """Greedy choice under the sentence and word limits, with redundancy and coherence.

        Each step takes the eligible sentence with the best marginal score: its base score,
        minus what it repeats, plus (for a story) the new information it adds per word. A
        sentence that leans back is eligible only once the sentence before it is chosen.
        """
        settings = self.settings
        chosen: list[_Scored] = []
        words = 0
        remaining = list(scored)
        while len(chosen) < limit:
            eligible = [c for c in remaining if self._admissible(c, chosen)]
            if not eligible:
                break
            fitting = [c for c in eligible if words + c.features.word_count <= settings.max_words]
            if not fitting:
                if chosen:
                    break
                fitting = eligible  # nothing fits: one whole sentence beats none
            covered = frozenset().union(*(c.features.terms for c in chosen))
            best = max(fitting, key=lambda c: self._marginal(c, chosen, covered, information))
            remaining.remove(best)
            if chosen and self._overlap(best, chosen) > settings.redundancy_threshold:
                continue
            chosen.append(best)
            words += best.features.word_count
        return chosen

    def _marginal(
        self,
        candidate: _Scored,
        chosen: Sequence[_Scored],
        covered: frozenset[str],
        information: Mapping[str, float] | None,
    ) -> float:
        weights = self.settings.weights
        score = candidate.base
        if chosen:
            score -= weights.redundancy * self._overlap(candidate, chosen)
        if not self._follows_antecedent(candidate, chosen):
            score -= weights.dangling_opening
        if information:
            score += weights.consensus * _new_information(candidate.features, covered, information)
        return score

    @staticmethod
    def _overlap(candidate: _Scored, chosen: Sequence[_Scored]) -> float:
        return max(_coverage(candidate.features.terms, c.features.terms) for c in chosen)

    def _admissible(self, candidate: _Scored, chosen: Sequence[_Scored]) -> bool:
        """A sentence that leans back only comes right after its antecedent, also chosen."""
        if not self.settings.exclude.require_antecedent:
            return True
        return self._follows_antecedent(candidate, chosen)

    @staticmethod
    def _follows_antecedent(candidate: _Scored, chosen: Sequence[_Scored]) -> bool:
        """True unless it leans back and the sentence before it (same article) is not chosen."""
        features = candidate.features
        if not features.leans_back:
            return True
        return any(
            c.source == candidate.source and c.features.number == features.number - 1
            for c in chosen
        )


def agreed_terms(titles: Sequence[str]) -> frozenset[str]:
    """The terms at least half of a story's titles use: what the outlets say happened."""
    counts = Counter(term for title in titles for term in terms_of(title))
    return frozenset(term for term, count in counts.items() if count * 2 >= len(titles))


def _lead_first(chosen: list[_Scored], agreed: frozenset[str]) -> list[_Scored]:
    """Open on the sentence that states what the titles agree on, not on a tangent.

    Sources and positions order a summary, so the best source's opening line comes first,
    and an article may open on scene-setting ("Most speech recognition systems handle maybe
    a dozen languages well.") before the news. When another chosen sentence (one that does
    not lean back) covers more of the titles' agreed terms than the first, it moves to the
    front, with the sentences that lean on it; the rest keep their order.
    """
    if len(chosen) < 2 or not agreed:
        return chosen

    def coverage(item: _Scored) -> float:
        return _coverage(agreed, item.features.terms)

    leads = [i for i, item in enumerate(chosen) if not item.features.leans_back]
    best = max(leads, key=lambda i: (coverage(chosen[i]), -i), default=0)
    if best == 0 or coverage(chosen[best]) <= coverage(chosen[0]):
        return chosen
    end = best + 1
    while end < len(chosen) and chosen[end].features.leans_back:
        end += 1
    return [*chosen[best:end], *chosen[:best], *chosen[end:]]


def is_sentence(line: str) -> bool:
    """Whether a line may stand in a summary: terminal punctuation, no list marker."""
    stripped = line.strip()
    return _TERMINATED.search(stripped) is not None and _LIST_MARKER.match(stripped) is None


def _is_headline(text: str, end: int, sentence: str) -> bool:
    """A first line without a full stop, followed by more text: the article's headline."""
    line_ends = text[end : end + 2].lstrip(" \t").startswith("\n")
    return (
        line_ends
        and not sentence.endswith(_SENTENCE_END)
        and len(sentence.split()) <= _HEADLINE_MAX_WORDS
        and bool(text[end:].strip())
    )


def _coverage(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of `part`'s terms that also appear in `whole` (0 when `part` is empty)."""
    if not part:
        return 0.0
    return len(part & whole) / len(part)


def _new_information(
    features: SentenceFeatures, covered: frozenset[str], information: Mapping[str, float]
) -> float:
    """What a sentence adds, per word: the weights of its terms not said yet.

    Per word, so that a long sentence must carry proportionally more facts to win; this is what
    lets the word budget admit fact sentences instead of favouring short narration.
    """
    gained = sum(information.get(term, 0.0) for term in features.terms - covered)
    return gained / features.word_count


def _consensus(
    articles: Sequence[ArticleText], scored: Sequence[Sequence[_Scored]]
) -> dict[str, float]:
    """Term weights for a story: the share of the other sources whose text states a term, plus
    the share of titles that name it, scaled so the most informative sentence gets 1 per word.

    Empty for a single source (nothing to agree with): the article's own rules then decide.
    """
    sources = [
        frozenset(term for item in items for term in item.features.terms) for items in scored
    ]
    if sum(1 for terms in sources if terms) < 2:
        return {}
    titles = [terms_of(article.title) for article in articles if article.title]
    stated = Counter(term for terms in sources for term in terms)
    named = Counter(term for terms in titles for term in terms)
    others = len(sources) - 1
    weights = {
        term: (count - 1) / others + (named[term] / len(titles) if titles else 0.0)
        for term, count in stated.items()
    }
    best = max(
        (
            _new_information(item.features, frozenset(), weights)
            for items in scored
            for item in items
        ),
        default=0.0,
    )
    return {term: weight / best for term, weight in weights.items()} if best else {}
