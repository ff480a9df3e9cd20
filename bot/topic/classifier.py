"""Decide whether a feed item is news about Meta's AI work, and say why.

The score is a sum of named rule contributions, so every verdict can be
explained line by line: phrases that speak for themselves ("Llama 4", "Meta
AI"), an entity next to an AI term ("Zuckerberg" + "superintelligence"), and
exclusions (VR game news, "meta-analysis", stock-market wording). All patterns
run on RE2, whose matching time is linear in the text, so a rule written by a
user cannot hang the bot.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import re2

from bot.topic.settings import ExcludeRule, Term, TopicSettings, WeightedTerm

# Our own two cleaning patterns run on Python's re, not RE2: google-re2's Python
# wrapper implements sub() as a Python loop over every match (one per space between
# words), which was two thirds of the time per item. Both patterns run in linear time
# on Python's re too (no nested or overlapping repeats), so RE2's guarantee is not
# needed for them; every rule a user writes still runs on RE2. _SPACE is RE2's \s
# spelled out, so the cleaned text is exactly what RE2 produced.
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"[\t\n\f\r ]+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
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


def _compile(rule: Term, family: str) -> _Compiled:
    """Compile one rule, or raise ValueError that names it."""
    pattern = rule.regex if rule.regex is not None else _phrase_pattern(rule.phrase or "")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = rule.case_sensitive
    options.max_mem = _PATTERN_MAX_MEM
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"topic rule {family} {rule.label!r}: invalid RE2 pattern: {exc}") from exc
    return _Compiled(rule.label, compiled)


def clean_text(raw: str, limit: int) -> str:
    """Plain text for matching: no tags or entities, NFKC, straight quotes, one space."""
    text = html.unescape(_TAG.sub(" ", raw[: limit * 2]))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()[:limit]


def _fmt(value: float) -> str:
    """One decimal where that is exact (3.0, 1.5), two otherwise (2.95), so a reason never
    shows a score rounded up to the threshold it missed."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


class TopicClassifier:
    """Scores an item against the configured rules; construction validates every pattern."""

    def __init__(self, settings: TopicSettings) -> None:
        self._settings = settings
        self._phrases = [(_compile(r, "phrase"), r) for r in settings.phrases]
        self._entities = [_compile(r, "entity") for r in settings.entities]
        self._ai_terms = [_compile(r, "ai_term") for r in settings.ai_terms]
        self._excludes = [(_compile(r, "exclude"), r) for r in settings.exclude]

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
        total = 0.0
        for compiled, rule in self._phrases:
            total += self._phrase_score(compiled, rule, title, text, reasons)
        return total

    def _phrase_score(
        self, compiled: _Compiled, rule: WeightedTerm, title: str, text: str, reasons: list[str]
    ) -> float:
        if compiled.regex.search(title):
            reasons.append(f"phrase {compiled.label!r} in title +{_fmt(rule.weight)}")
            return rule.weight
        if compiled.regex.search(text):
            weight = rule.weight * self._settings.text_factor
            reasons.append(f"phrase {compiled.label!r} in text +{_fmt(weight)}")
            return weight
        return 0.0

    def _score_cooccurrence(self, title: str, text: str, reasons: list[str]) -> float:
        """An entity next to an AI term, weighted by where the two were found."""
        weights = self._settings.cooccurrence
        entity_title = _first(self._entities, title)
        term_title = _first(self._ai_terms, title)
        if entity_title and term_title:
            reasons.append(
                f"co-occurrence {entity_title} + {term_title} in title +{_fmt(weights.title)}"
            )
            return weights.title
        text_terms = _matching(self._ai_terms, text)
        if entity_title and text_terms:
            extra = weights.title_entity_term_bonus * (len(text_terms) - 1)
            weight = weights.title_entity + min(weights.title_entity_terms_cap, extra)
            found = ", ".join(text_terms[:3])
            reasons.append(f"co-occurrence {entity_title} (title) + {found} (text) +{_fmt(weight)}")
            return weight
        entity_text = _first(self._entities, text)
        if term_title and entity_text:
            weight = weights.title_term
            reasons.append(
                f"co-occurrence {term_title} (title) + {entity_text} (text) +{_fmt(weight)}"
            )
            return weight
        if not (entity_text and text_terms):
            return 0.0
        mentions = _count(self._entities, text)
        bonus = min(weights.text_mentions_cap, weights.text_mention_bonus * (mentions - 1))
        weight = weights.text + bonus
        detail = f"{mentions} entity mentions"
        reasons.append(
            f"co-occurrence {entity_text} + {text_terms[0]} in text ({detail}) +{_fmt(weight)}"
        )
        return weight


def _first(rules: Sequence[_Compiled], text: str) -> str | None:
    """The label of the first rule that matches, or None."""
    if not text:
        return None
    for rule in rules:
        if rule.regex.search(text):
            return rule.label
    return None


def _matching(rules: Sequence[_Compiled], text: str) -> list[str]:
    """Labels of every rule that matches, in rule order."""
    if not text:
        return []
    return [rule.label for rule in rules if rule.regex.search(text)]


def _count(rules: Sequence[_Compiled], text: str) -> int:
    """Entity mentions in the text, counted across all entity rules."""
    return sum(sum(1 for _ in rule.regex.finditer(text)) for rule in rules)
