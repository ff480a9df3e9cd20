"""Decide whether a feed item is news about Meta's AI work, and say why.

The score is a sum of named rule contributions, so every verdict can be
explained line by line: phrases that speak for themselves ("Llama 4", "Meta
AI"), an entity next to an AI term ("Zuckerberg" + "superintelligence"), and
exclusions (VR game news, "meta-analysis", stock-market wording). All patterns
run on RE2, whose matching time is linear in the text, so a rule written by a
user cannot hang the bot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import re2

from bot.common.text import matching_text
from bot.topic.settings import ExcludeRule, Term, TopicSettings, WeightedTerm

# Splits a rule's phrase into words: RE2's \s spelled out, on Python's re. Text is
# cleaned by bot.common.text.matching_text, the story stage's cleaning too; every rule a
# user writes still runs on RE2.
_SPACE = re.compile(r"[\t\n\f\r ]+")
_PATTERN_MAX_MEM = 8 << 20


@dataclass(frozen=True)
class TopicVerdict:
    """The outcome for one item: kept or not, its score, and every reason behind it."""

    keep: bool
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Compiled:
    label: str
    regex: re2._Regexp


def _phrase_pattern(phrase: str) -> str:
    """Literal words on word boundaries, any run of spaces or hyphens between them."""
    words = [w for w in _SPACE.split(phrase.strip().replace("-", " ")) if w]
    body = r"[\s\-]+".join(re2.escape(w) for w in words)
    start = r"\b" if words[0][0].isalnum() else ""
    end = r"\b" if words[-1][-1].isalnum() else ""
    return f"{start}{body}{end}"


def _pattern(rule: Term) -> str:
    return rule.regex if rule.regex is not None else _phrase_pattern(rule.phrase or "")


def _compile(rule: Term, family: str) -> _Compiled:
    """Compile one rule, or raise ValueError that names it."""
    pattern = _pattern(rule)
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = rule.case_sensitive
    options.max_mem = _PATTERN_MAX_MEM
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"topic rule {family} {rule.label!r}: invalid RE2 pattern: {exc}") from exc
    return _Compiled(rule.label, compiled)


class _Family:
    """A family of rules (entities, AI terms, phrases) that says in one pass which match.

    Every rule used to be searched on its own: 180 searches an item, most of the topic
    stage's time. An RE2 set runs all of a family's patterns over the text at once and
    returns the indices that match; only those are then searched alone (for a count).
    """

    def __init__(self, rules: Sequence[Term], family: str) -> None:
        self.rules = [_compile(rule, family) for rule in rules]
        options = re2.Options()
        options.log_errors = False
        options.max_mem = _PATTERN_MAX_MEM * max(1, len(self.rules))
        self._set = re2.Set.SearchSet(options)
        for rule in rules:
            flags = "" if rule.case_sensitive else "(?i)"
            self._set.Add(f"{flags}(?:{_pattern(rule)})")
        self._set.Compile()

    def matching(self, text: str) -> list[int]:
        """Indices of the rules that match ``text``, in rule order."""
        if not text:
            return []
        return sorted(self._set.Match(text) or ())

    def first(self, text: str) -> str | None:
        """The label of the first rule that matches, or None."""
        found = self.matching(text)
        return self.rules[found[0]].label if found else None

    def labels(self, text: str) -> list[str]:
        """Labels of every rule that matches, in rule order."""
        return [self.rules[index].label for index in self.matching(text)]

    def count(self, text: str) -> int:
        """Mentions in the text, counted across the family's rules."""
        return sum(
            sum(1 for _ in self.rules[index].regex.finditer(text)) for index in self.matching(text)
        )


def clean_text(raw: str, limit: int) -> str:
    """Plain text for matching (:func:`bot.common.text.matching_text`), at most ``limit``
    characters."""
    return matching_text(raw[: limit * 2])[:limit]


def _fmt(value: float) -> str:
    """One decimal where that is exact (3.0, 1.5), two otherwise (2.95), so a reason never
    shows a score rounded up to the threshold it missed."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


class TopicClassifier:
    """Scores an item against the configured rules; construction validates every pattern."""

    def __init__(self, settings: TopicSettings) -> None:
        self._settings = settings
        self._phrases = _Family(settings.phrases, "phrase")
        self._entities = _Family(settings.entities, "entity")
        self._ai_terms = _Family(settings.ai_terms, "ai_term")
        self._excludes = [(_compile(r, "exclude"), r) for r in settings.exclude]

    @property
    def settings(self) -> TopicSettings:
        """The rule set, e.g. to build the same classifier in a worker process."""
        return self._settings

    def terms(self) -> list[str]:
        """Literal topic words (AI terms, then phrases), for the summarizer's topic-term rule."""
        rules: list[Term] = [*self._settings.ai_terms, *self._settings.phrases]
        seen: dict[str, None] = {}
        for rule in rules:
            if rule.phrase is not None:
                seen.setdefault(rule.phrase, None)
        return list(seen)

    def common_terms(self) -> list[str]:
        """Literal entity and AI terms: what every kept item is built from, so they tell one
        Meta-AI story from another no better than "the" does (the story stage's rarity prior)."""
        rules: list[Term] = [*self._settings.entities, *self._settings.ai_terms]
        return list(dict.fromkeys(rule.phrase for rule in rules if rule.phrase is not None))

    def classify(self, title: str, text: str) -> TopicVerdict:
        """Score one item; never raises on any input text."""
        limit = self._settings.max_text_chars
        title_clean = clean_text(title or "", limit)
        text_clean = clean_text(text or "", limit)
        reasons: list[str] = []
        score = 0.0
        vetoed = False
        for compiled, rule in self._excludes:
            title_clean, text_clean, delta, veto = self._apply_exclude(
                compiled, rule, title_clean, text_clean, reasons
            )
            score += delta
            vetoed = vetoed or veto
        score += self._score_phrases(title_clean, text_clean, reasons)
        score += self._score_cooccurrence(title_clean, text_clean, reasons)
        return self._verdict(score, vetoed, reasons)

    def _verdict(self, score: float, vetoed: bool, reasons: list[str]) -> TopicVerdict:
        threshold = self._settings.threshold
        score = round(score, 3)
        if vetoed:
            reasons.append(f"dropped by an exclude rule (score {_fmt(score)})")
            return TopicVerdict(False, score, tuple(reasons))
        keep = score >= threshold
        relation = ">=" if keep else "<"
        reasons.append(f"score {_fmt(score)} {relation} threshold {_fmt(threshold)}")
        return TopicVerdict(keep, score, tuple(reasons))

    @staticmethod
    def _apply_exclude(
        compiled: _Compiled, rule: ExcludeRule, title: str, text: str, reasons: list[str]
    ) -> tuple[str, str, float, bool]:
        found = compiled.regex.search(title) or compiled.regex.search(text)
        if found is None:
            return title, text, 0.0, False
        note = f" ({rule.note})" if rule.note else ""
        if rule.action == "mask":
            reasons.append(f"exclude {compiled.label!r}{note}: not counted")
            blank = compiled.regex.sub(" ", title), compiled.regex.sub(" ", text)
            return blank[0], blank[1], 0.0, False
        if rule.action == "penalty":
            reasons.append(f"exclude {compiled.label!r}{note} -{_fmt(rule.weight)}")
            return title, text, -rule.weight, False
        reasons.append(f"exclude {compiled.label!r}{note}: drop")
        return title, text, 0.0, True

    def _score_phrases(self, title: str, text: str, reasons: list[str]) -> float:
        in_title = set(self._phrases.matching(title))
        in_text = set(self._phrases.matching(text))
        total = 0.0
        for index, rule in enumerate(self._settings.phrases):
            total += self._phrase_score(
                self._phrases.rules[index].label, rule, index in in_title, index in in_text, reasons
            )
        return total

    def _phrase_score(
        self, label: str, rule: WeightedTerm, in_title: bool, in_text: bool, reasons: list[str]
    ) -> float:
        if in_title:
            reasons.append(f"phrase {label!r} in title +{_fmt(rule.weight)}")
            return rule.weight
        if in_text:
            weight = rule.weight * self._settings.text_factor
            reasons.append(f"phrase {label!r} in text +{_fmt(weight)}")
            return weight
        return 0.0

    def _score_cooccurrence(self, title: str, text: str, reasons: list[str]) -> float:
        """An entity next to an AI term, weighted by where the two were found."""
        weights = self._settings.cooccurrence
        entity_title = self._entities.first(title)
        term_title = self._ai_terms.first(title)
        if entity_title and term_title:
            reasons.append(
                f"co-occurrence {entity_title} + {term_title} in title +{_fmt(weights.title)}"
            )
            return weights.title
        text_terms = self._ai_terms.labels(text)
        if entity_title and text_terms:
            extra = weights.title_entity_term_bonus * (len(text_terms) - 1)
            weight = weights.title_entity + min(weights.title_entity_terms_cap, extra)
            found = ", ".join(text_terms[:3])
            reasons.append(f"co-occurrence {entity_title} (title) + {found} (text) +{_fmt(weight)}")
            return weight
        entity_text = self._entities.first(text)
        if term_title and entity_text:
            weight = weights.title_term
            reasons.append(
                f"co-occurrence {term_title} (title) + {entity_text} (text) +{_fmt(weight)}"
            )
            return weight
        if not (entity_text and text_terms):
            return 0.0
        mentions = self._entities.count(text)
        bonus = min(weights.text_mentions_cap, weights.text_mention_bonus * (mentions - 1))
        weight = weights.text + bonus
        detail = f"{mentions} entity mentions"
        reasons.append(
            f"co-occurrence {entity_text} + {text_terms[0]} in text ({detail}) +{_fmt(weight)}"
        )
        return weight


# ------------------------------------------------------------- in worker processes
# A poll classifies in worker processes (bot.common.workers): each builds the rules once,
# in the pool's initializer, and then classifies the entries sent to it.
_worker_classifier: TopicClassifier | None = None


def use_in_worker(settings: TopicSettings) -> None:
    """Pool initializer: compile this rule set once in the worker process."""
    global _worker_classifier
    _worker_classifier = TopicClassifier(settings)


def worker_classifier() -> TopicClassifier:
    """The rule set this worker built (see :func:`use_in_worker`)."""
    if _worker_classifier is None:
        raise RuntimeError("use_in_worker() builds the rules before a worker classifies")
    return _worker_classifier
