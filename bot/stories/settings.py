"""Settings of the stories stage: the [stories] table of the config file.

Three signals put two articles into one story, tried from the surest to the
loosest: the same (already normalized) URL; near-identical titles; and
similar wording of title plus text (the way outlets rewrite one scoop). Each
has its own threshold here, and every threshold was chosen by running
bench/cluster.py on the labelled set in tests/data/stories/ (see
docs/topic-and-stories.md for the figures).
"""

from __future__ import annotations

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _default_common_words() -> list[str]:
    return [
        # Words nearly every article about Meta's AI work uses: they say nothing about
        # which story an article belongs to, even when the window holds two articles.
        "Meta",
        "Meta Platforms",
        "Facebook",
        "Instagram",
        "WhatsApp",
        "Mark Zuckerberg",
        "AI",
        "artificial intelligence",
        "model",
        "models",
        "Llama",
        "open source",
        "generative",
        "company",
        "tech",
        "technology",
        "people",
        "use",
        "year",
    ]


def _default_version_patterns() -> list[str]:
    return [
        # A model family followed by a version: "Llama 3.1", "Llama-4", "GPT-4o", "Gemini 2.5".
        (
            r"\b(?:llama|code llama|llama guard|gpt|claude|gemini|gemma|grok|qwen|mistral"
            r"|mixtral|phi|deepseek|sam|v-jepa|dinov|emu)[ -]?v?\d+(?:\.\d+)*[a-z]?\b"
        ),
    ]


class ClusterSettings(BaseModel):
    """The [stories] table. Every field has a default, so a user config may omit the whole table."""

    model_config = ConfigDict(extra="forbid")

    # Only articles published within this many hours of each other can share a story.
    window_hours: float = Field(default=72.0, gt=0)
    # Near-identical titles: word-set Jaccard of the canonical titles.
    title_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    # Rewrites of one scoop: TF-IDF cosine of title plus text.
    content_threshold: float = Field(default=0.22, ge=0.0, le=1.0)
    # Words of text read per article (the lead paragraph carries the event).
    content_words: int = Field(default=120, ge=10)
    # Coverage of one event bunches in time: each day between two articles raises
    # the content threshold by this much (a follow-up two days later must be closer).
    content_threshold_per_day: float = Field(default=0.05, ge=0.0, le=1.0)
    # Optional extra candidates from MinHash LSH over title words (datasketch).
    # Off by default: measured, it found no story the term index missed, at about twice the cost.
    title_lsh: bool = False
    num_perm: int = Field(default=32, ge=16, le=512)
    title_candidate_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    # Candidates for the TF-IDF test: articles sharing the new one's `candidate_terms`
    # rarest words; words in more than `max_postings` window articles are skipped as
    # too common; at most `max_candidates` are verified. These bound the work per item.
    candidate_terms: int = Field(default=12, ge=1)
    max_postings: int = Field(default=50, ge=1)
    max_candidates: int = Field(default=20, ge=1)
    # A candidate must share at least this many of those rare words.
    min_shared_terms: int = Field(default=2, ge=1)
    # Words of no help in telling stories apart; they count as if found in
    # `common_words_documents` extra articles, and never propose candidates.
    common_words: list[str] = Field(default_factory=_default_common_words)
    common_words_documents: int = Field(default=20, ge=0)
    # Hosts whose items point at someone else's article (Google News, Hacker News).
    aggregator_hosts: list[str] = Field(
        default_factory=lambda: ["news.google.com", "news.ycombinator.com"]
    )
    # Safeguard against over-merging: when both titles name a model version and the
    # versions differ ("Llama 3.1" and "Llama 3.2"), the articles are different stories.
    version_patterns: list[str] = Field(default_factory=_default_version_patterns)

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

    @model_validator(mode="after")
    def _candidates_below_thresholds(self) -> ClusterSettings:
        if self.title_candidate_threshold > self.title_threshold:
            raise ValueError("title_candidate_threshold must not exceed title_threshold")
        return self
