"""Settings of the stories stage: the [stories] table of the config file.

Three signals put two articles into one story, tried from the surest to the
loosest: the same (already normalized) URL; near-identical titles; and
similar wording of title plus text (the way outlets rewrite one scoop). Each
has its own threshold here, and every threshold was chosen by running
bench/cluster.py on the labelled set in tests/data/stories/ (see
docs/topic-and-stories.md for the figures).
"""

from __future__ import annotations

from typing import Any

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.defaults import ShippedSettings


class ClusterSettings(ShippedSettings):
    """The [stories] table; omitted keys take the shipped values (bot/default.toml)."""

    shipped_table = ("stories",)

    # Only articles published within this many hours of each other can share a story.
    window_hours: float = Field(gt=0)
    # Near-identical titles: word-set Jaccard of the canonical titles.
    title_threshold: float = Field(ge=0.0, le=1.0)
    # A feed's own titles must be closer still to count as one story (an update, a repost):
    # one outlet's templated headlines ("CEO sells ... shares") differ in a word or two.
    same_source_title_threshold: float = Field(ge=0.0, le=1.0)
    # Rewrites of one scoop: TF-IDF cosine of the article with the story's centroid.
    content_threshold: float = Field(ge=0.0, le=1.0)
    # Words of text read per article (the lead paragraph carries the event).
    content_words: int = Field(ge=10)
    # Coverage of one event bunches in time: each day between the article and the story
    # raises the content threshold by this much (a follow-up two days later must be closer).
    content_threshold_per_day: float = Field(ge=0.0, le=1.0)
    # How much a title word counts against one word of the lead ...
    title_weight: float = Field(ge=0.0)
    # ... and a name or figure of the lead (capitalised inside a sentence, or with a digit).
    identifier_weight: float = Field(ge=0.0)
    # An outlet does not report one event twice as two articles: an article joins a story that
    # holds an article of its own feed only by URL or a near-identical title (aggregators exempt).
    one_article_per_source: bool
    # Short items (an aggregator's one-liner, a snippet feed: fewer than `lead_words` words
    # of text) are matched on title and lead against each member's title and lead: a join at
    # `lead_threshold` cosine with two distinctive words in common.
    lead_words: int = Field(ge=5)
    lead_threshold: float = Field(ge=0.0, le=1.0)
    # Headlines of one event share a distinctive word far more often than neighbouring
    # events of one theme do: without one, an article joins by wording only at this many
    # times the threshold (1 turns the guard off).
    headline_free_factor: float = Field(ge=1.0)
    # Candidate stories: those sharing at least `min_shared_terms` of the article's
    # `candidate_terms` rarest words (words found in more than `max_postings` background items
    # are too common to point at one story; title words count up to four times that), at most
    # `max_candidates` verified. These bound the work per item.
    candidate_terms: int = Field(ge=1)
    max_postings: int = Field(ge=1)
    max_candidates: int = Field(ge=1)
    min_shared_terms: int = Field(ge=1)
    # Rarity is measured on the kept items of this horizon (at most `background_items`, the
    # newest): among on-topic items, the words they all use say nothing about one event.
    background_days: float = Field(gt=0)
    background_items: int = Field(ge=0)
    # While fewer kept items than this are stored, recent dropped items fill the background up
    # to this size: a young store cannot tell "the" from a name on a handful of items.
    background_min_items: int = Field(ge=0)
    # Below `young_store_items` background items rarity cannot be measured (in a store of
    # three items every shared word is in most of them): an article then joins a story
    # with which it shares `young_store_shared_names` names or figures outside the topic's
    # own words ("Axios", "Wang", "600", "2.5").
    young_store_items: int = Field(ge=0)
    young_store_shared_names: int = Field(ge=1)
    # Optional words to weigh as if found in `common_words_documents` extra items. Empty by
    # default: rarity is measured on the stored items themselves, in any language, and the
    # pipeline adds the topic rules' own entity and AI terms (what every kept item uses).
    common_words: list[str]
    # General writing (word frequencies of 40+ languages) weighs as this many virtual items in
    # the rarity background: from the first item, "the" and "said" say nothing about an event
    # and a name says much, whatever else the store holds. 0 turns the prior off.
    general_documents: int = Field(ge=0)
    common_words_documents: int = Field(ge=0)
    # Hosts whose items point at someone else's article (Google News, Hacker News).
    aggregator_hosts: list[str]
    # Safeguard against over-merging: when both titles name a model version and the
    # versions differ ("Llama 3.1" and "Llama 3.2"), the articles are different stories.
    version_patterns: list[str]

    @field_validator("version_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        """Reject a bad RE2 pattern when the config is read, naming it."""
        options = re2.Options()
        options.log_errors = False
        for pattern in patterns:
            try:
                re2.compile(pattern, options)
            except re2.error as exc:
                raise ValueError(f"version pattern {pattern!r} is not valid RE2: {exc}") from exc
        return patterns


class KindRule(BaseModel):
    """One kind: its short name (used in filters), its label (shown) and its patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    label: str
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        """A bad pattern is a config error naming it, not a crash at the first story."""
        for pattern in patterns:
            try:
                compile_kind_pattern(pattern)
            except re2.error as error:
                raise ValueError(f"kind pattern {pattern!r} is not valid RE2: {error}") from error
        return patterns


class KindSettings(ShippedSettings):
    """The [kinds] table; omitted keys take the shipped values (bot/default.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shipped_table = ("kinds",)

    title_weight: float = Field(ge=0, description="a pattern in the title counts this many times")
    lead_words: int = Field(ge=0, description="words of text read after the title")
    fallback: str = Field(description="the kind of a story no pattern matches")
    kind: list[KindRule] = Field(min_length=1)

    @field_validator("kind")
    @classmethod
    def _names_unique(cls, kinds: list[KindRule]) -> list[KindRule]:
        names = [rule.name for rule in kinds]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"kind names must be unique; given twice: {', '.join(twice)}")
        return kinds

    def names(self) -> list[str]:
        """Every kind a story can have: each rule's, then the fallback."""
        return list(dict.fromkeys([*(rule.name for rule in self.kind), self.fallback]))


def compile_kind_pattern(pattern: str) -> Any:
    """A kind pattern compiled as the rules use it: RE2, case ignored."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return re2.compile(pattern, options)
