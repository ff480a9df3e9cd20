"""Settings of the topic stage: the [topic] table of the config file.

The rules are data so that a team can extend them without touching code: every
list is a plain TOML array in the shipped bot/default.toml (the one place the
shipped rules are written), and a user config may replace any of them.

A rule names its words either as a ``phrase`` (literal words; matched on word
boundaries, any run of spaces or hyphens between words, so "open source" also
finds "open-source") or as a ``regex`` in RE2 syntax. RE2 runs in linear time,
so no user pattern can hang the bot; look-arounds and back-references are not
available and are rejected with an error naming the rule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.defaults import ShippedSettings


def re2_problem(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern``, or None: checked when the settings load, so a bad rule is
    one line naming it at start (the classifier compiles the same patterns later)."""
    import re2  # the settings of a command that never polls load it only to check patterns

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


class Term(BaseModel):
    """One word or pattern: an entity (Meta, FAIR, ...) or an AI term (model, GPU, ...)."""

    model_config = ConfigDict(extra="forbid")

    phrase: str | None = None
    regex: str | None = None
    # Off by default; on for words whose lower-case form means something else
    # ("FAIR" the lab versus "fair", "Meta" the company versus "meta").
    case_sensitive: bool = False
    # How the rule is named in reasons; defaults to the phrase or the regex.
    name: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Term:
        if (self.phrase is None) == (self.regex is None):
            raise ValueError("a topic rule needs exactly one of `phrase` or `regex`")
        if self.phrase is not None and not self.phrase.strip():
            raise ValueError("a topic rule's `phrase` must not be empty")
        if self.regex is not None:
            problem = re2_problem(self.regex)
            if problem is not None:
                raise ValueError(
                    f"the rule {self.label!r} has an invalid RE2 pattern ({problem}); RE2 has no "
                    "look-arounds or backreferences, see docs/topic-and-stories.md"
                )
        return self

    @property
    def label(self) -> str:
        """The rule's name as it appears in a verdict's reasons."""
        return self.name or self.phrase or self.regex or ""


class WeightedTerm(Term):
    """A phrase that on its own speaks for (or against) an item being Meta-AI news."""

    weight: float = 3.0


class ExcludeRule(Term):
    """Words that must not count as Meta-AI evidence.

    ``mask`` blanks the words out before any other rule looks at the text (so
    "Meta Quest" or "meta-analysis" no longer count as the entity Meta, but a
    "Meta AI" elsewhere in the item still does); ``penalty`` subtracts ``weight``
    from the score; ``drop`` rejects the item whatever else it says.
    """

    action: Literal["mask", "penalty", "drop"] = "mask"
    weight: float = 0.0
    note: str = ""


class CooccurrenceWeights(ShippedSettings):
    """What an entity (Meta, Zuckerberg, FAIR, ...) next to an AI term is worth.

    The same pair counts for more in the title than in the body, because an
    article about something else often names Meta once in passing ("OpenAI,
    Google and Meta are racing to ...").
    """

    shipped_table = ("topic", "cooccurrence")

    # Entity and AI term both in the title.
    title: float
    # Entity in the title, AI term only in the text.
    title_entity: float
    # ... plus this per further distinct AI term in the text, up to title_entity_terms_cap.
    title_entity_term_bonus: float
    title_entity_terms_cap: float
    # AI term in the title, entity only in the text.
    title_term: float
    # Entity only in the text (AI term anywhere).
    text: float
    # Extra per further mention of an entity in the text, up to text_mentions_cap.
    text_mention_bonus: float
    text_mentions_cap: float


class TopicSettings(ShippedSettings):
    """The [topic] table; omitted keys take the shipped values."""

    shipped_table = ("topic",)

    # An item is kept when its score reaches this.
    threshold: float
    # A phrase found only in the text (not the title) counts this fraction of its weight.
    text_factor: float = Field(ge=0.0, le=1.0)
    # Only the first N characters of the text are read (bounds time on huge pages).
    max_text_chars: int = Field(ge=100)
    phrases: list[WeightedTerm]
    entities: list[Term]
    ai_terms: list[Term]
    cooccurrence: CooccurrenceWeights
    exclude: list[ExcludeRule]

    @field_validator("entities", "ai_terms", mode="before")
    @classmethod
    def _strings_are_phrases(cls, value: object) -> object:
        """Let a config list plain strings ("GPU") as well as tables."""
        if isinstance(value, list):
            return [{"phrase": v} if isinstance(v, str) else v for v in value]
        return value
