"""Settings of the summarize stage: the [summarize] table of the config file.

Every rule the summarizer applies is a number or a pattern here, so it can be read and tuned
without touching code. Defaults were tuned on the first 500 articles of the CNN evaluation set
(see docs/summarizer.md); the values are in the shipped bot/default.toml, and a user config
may omit any key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2
from pydantic import ConfigDict, Field, field_validator

from bot.defaults import ShippedSettings


def compile_patterns(patterns: Sequence[str], *, case_sensitive: bool) -> Any:
    """One RE2 pattern matching any of `patterns` (None for an empty list).

    RE2 (google-re2) rather than `re`: it runs in linear time whatever a user writes in the
    config, and checks a 26-way alternation about 13x faster than `re` on news sentences.
    """
    if not patterns:
        return None
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    joined = "|".join(f"(?:{pattern})" for pattern in patterns)
    return re2.compile(joined, options=options)


def _check_patterns(patterns: list[str]) -> list[str]:
    """A broken pattern is a config error reported at load time, not a crash mid-digest."""
    for pattern in patterns:
        try:
            compile_patterns([pattern], case_sensitive=True)
        except re2.error as error:
            raise ValueError(f"invalid RE2 regular expression {pattern!r}: {error}") from error
    return patterns


class _Strict(ShippedSettings):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreWeights(_Strict):
    """How much each rule adds to (or takes from) a sentence's score.

    Each feature is scaled to roughly 0..1 before weighting, so the weights compare directly.
    """

    shipped_table = ("summarize", "weights")

    position: float = Field(ge=0, description="prior for sentences near the top")
    position_decay: float = Field(
        gt=0, description="sentences; the prior falls to 1/e after this many"
    )
    first_sentence_bonus: float = Field(ge=0, description="extra for sentence one")
    centrality: float = Field(ge=0, description="shares terms with the rest")
    title_overlap: float = Field(ge=0, description="shares terms with the title")
    topic_terms: float = Field(ge=0, description="mentions the topic's terms")
    numbers: float = Field(ge=0, description="holds a figure (date, amount)")
    entities: float = Field(ge=0, description="names people, firms, places")
    length: float = Field(ge=0, description="penalty outside the preferred range")
    redundancy: float = Field(ge=0, description="penalty for repeating a chosen one")
    dangling_opening: float = Field(
        ge=0,
        description="penalty for leaning on a missing antecedent (exclude.require_antecedent off)",
    )
    question: float = Field(
        ge=0, description="penalty for a question (when exclude.question lets one in)"
    )
    quote: float = Field(ge=0, description="penalty for a sentence that is a quote")
    source_rank: float = Field(
        ge=0, description="multi-source: penalty per rank below the best article"
    )
    consensus: float = Field(
        ge=0, description="multi-source: new terms other sources and titles also state, per word"
    )


class BoilerplateRules(_Strict):
    """Patterns for text that is never summary material (RE2 regular expressions).

    `sentence_patterns` drop a whole sentence when they match anywhere in it.
    `paragraph_patterns` drop every sentence of a line (paragraph) they match: embedded posts,
    whose text reads like a sentence. Both ignore case unless a pattern starts with (?-i).
    `prefix_patterns` strip a dateline or label from the start of a paragraph's first
    sentence, which stays verbatim from there on; they are case-sensitive.
    """

    shipped_table = ("summarize", "boilerplate")

    sentence_patterns: list[str]
    paragraph_patterns: list[str]
    prefix_patterns: list[str]

    @field_validator("sentence_patterns", "paragraph_patterns", "prefix_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)


class ExclusionRules(_Strict):
    """Sentences a summary never chooses, however high they score (RE2 patterns, case ignored
    unless a pattern starts with (?-i)).

    Each class is a hard rule, not a penalty: a penalty is outweighed by a strong position or
    overlap score, which is how narration, questions and teasers reached summaries before.
    `narration` is matched with quoted speech blanked out, so a quoted "I" or "you" is fine.
    The leaning rules (`dangling_openers`, `back_reference_*`) admit a sentence only right after
    the sentence before it in the same article, when that one is chosen too.
    """

    shipped_table = ("summarize", "exclude")

    narration: list[str]
    question: list[str]
    figure_of_speech: list[str]
    call_to_action: list[str]
    byline: list[str]
    submitted_by: list[str]
    cut_off: list[str]
    dangling_openers: list[str]
    require_antecedent: bool = Field(
        description="a leaning sentence only right after its antecedent; off: a penalty instead"
    )
    back_reference_words: list[str] = Field(
        description="determiners that point back anywhere in a sentence ('this approach')"
    )
    back_reference_after: list[str] = Field(
        description="prepositions after which 'that' is a determiner ('part of that money')"
    )
    back_reference_exempt: list[str] = Field(
        description="what follows a determiner (word or pair) when it points nowhere back"
    )
    back_reference_patterns: list[str]
    lede_pronouns: list[str] = Field(
        description="pronouns an article's first sentence may open on when it names someone"
    )

    @field_validator(
        "narration",
        "question",
        "figure_of_speech",
        "call_to_action",
        "byline",
        "submitted_by",
        "cut_off",
        "back_reference_patterns",
    )
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)


class SummarizeSettings(_Strict):
    """The [summarize] table: limits, rule weights and boilerplate patterns."""

    shipped_table = ("summarize",)

    max_sentences: int = Field(ge=1, description="most sentences in a summary")
    max_words: int = Field(
        ge=1, description="word budget; if no sentence fits, the best one is kept whole"
    )
    min_snippet_words: int = Field(
        ge=0, description="fewer words than this: fetch the full article"
    )
    min_sentence_words: int = Field(ge=1, description="shorter sentences are skipped")
    preferred_min_words: int = Field(ge=1, description="length penalty below this")
    preferred_max_words: int = Field(ge=1, description="length penalty above this")
    max_sentence_words: int = Field(ge=1, description="longer ones are skipped")
    redundancy_threshold: float = Field(
        ge=0, le=1, description="overlap at which a sentence repeats a chosen one"
    )
    max_candidates: int = Field(
        ge=1, description="only the first N sentences of an article are candidates"
    )
    max_chars: int = Field(
        ge=0,
        description="only sentences within the first N characters are split and scored; 0: all",
    )
    full_text_min_words: int = Field(
        ge=0, description="an extracted page with fewer words is not used"
    )
    paywall_whole_text_words: int = Field(
        ge=0, description="a page this long is taken as whole despite paywall signs"
    )
    paywall_patterns: list[str]
    weights: ScoreWeights
    boilerplate: BoilerplateRules
    exclude: ExclusionRules

    @field_validator("paywall_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)
