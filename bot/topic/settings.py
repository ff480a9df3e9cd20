"""Settings of the topic stage: the [topic] table of the config file.

The rules are data so that a team can extend them without touching code: every
list below is a plain TOML array in config/default.toml, and a user config may
replace any of them. The defaults here are the same rule set as the shipped TOML
(a test keeps the two in step), so the classifier works with no config at all.

A rule names its words either as a ``phrase`` (literal words; matched on word
boundaries, any run of spaces or hyphens between words, so "open source" also
finds "open-source") or as a ``regex`` in RE2 syntax. RE2 runs in linear time,
so no user pattern can hang the bot; look-arounds and back-references are not
available and are rejected with an error naming the rule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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


# Meta (or Zuckerberg) and money going into AI within one sentence: capex guidance, data
# centre budgets, bond sales that fund the AI build-out. Either "Meta ... spend/invest/
# bonds ... AI" or "Meta ... AI spending/infrastructure". [^.] keeps both in one sentence.
_META_AI_SPENDING = (
    r"\b(?:Meta|Zuckerberg)\b[^.]{0,80}(?:"
    r"\b(?:spend|spends|spending|spent|capex|capital expenditures?|capital spending"
    r"|invest|invests|invested|investing|investments?|bonds?|borrow|borrowing|financing|debt)\b"
    r"[^.]{0,60}\b(?:AI|artificial[ -]intelligence|superintelligence)\b"
    r"|\b(?:AI|artificial[ -]intelligence)[ -](?:spending|capex|investments?|infrastructure"
    r"|build-?out)\b)"
)
# Glasses sold or shown as AI/AR devices (Meta's AI hardware); not VR headsets.
_SMART_GLASSES = r"\b(?:smart|AI|AR|augmented[ -]reality|mixed[ -]reality)[ -](?:glasses|eyewear)\b"


def _terms(*phrases: str) -> list[Term]:
    return [Term(phrase=p) for p in phrases]


def _default_phrases() -> list[WeightedTerm]:
    return [
        WeightedTerm(phrase="Meta AI", weight=3.0),
        WeightedTerm(name="Llama <version>", regex=r"\bllama[ -]?[1-9](?:\.\d+)?\b", weight=3.0),
        WeightedTerm(phrase="LlamaCon", weight=3.0),
        WeightedTerm(phrase="Code Llama", weight=3.0),
        WeightedTerm(phrase="Llama Guard", weight=3.0),
        WeightedTerm(phrase="Purple Llama", weight=3.0),
        WeightedTerm(phrase="Llama Stack", weight=3.0),
        WeightedTerm(phrase="Llama models", weight=3.0),
        WeightedTerm(phrase="Superintelligence Labs", weight=3.0),
        WeightedTerm(phrase="Meta FAIR", weight=3.0),
        WeightedTerm(phrase="Fundamental AI Research", weight=3.0),
        WeightedTerm(phrase="Facebook AI Research", weight=3.0),
        WeightedTerm(phrase="Segment Anything", weight=3.0),
        WeightedTerm(phrase="V-JEPA", weight=3.0),
        WeightedTerm(phrase="Movie Gen", weight=3.0),
        WeightedTerm(phrase="SeamlessM4T", weight=3.0),
        WeightedTerm(phrase="AudioCraft", weight=3.0),
        WeightedTerm(phrase="Yann LeCun", weight=2.0),
        WeightedTerm(phrase="Alexandr Wang", weight=1.0),
        WeightedTerm(name="Meta AI spending", regex=_META_AI_SPENDING, weight=1.5),
        WeightedTerm(phrase="Llama", case_sensitive=True, weight=1.0),
    ]


def _default_entities() -> list[Term]:
    return [
        *_terms("Meta", "Facebook", "Zuckerberg", "Instagram", "WhatsApp"),
        Term(phrase="FAIR", case_sensitive=True),
        Term(phrase="MSL", case_sensitive=True),
        *_terms("LeCun", "Menlo Park"),
    ]


def _default_ai_terms() -> list[Term]:
    return [
        Term(phrase="AI"),
        Term(name="A.I.", regex=r"\bA\.I\."),
        *_terms(
            "artificial intelligence",
            "superintelligence",
            "AGI",
            "LLM",
            "LLMs",
            "large language model",
            "language model",
            "model",
            "models",
            "Llama",
            "open source",
            "open weights",
            "open-weight",
            "chatbot",
            "chatbots",
            "assistant",
            "generative",
            "machine learning",
            "deep learning",
            "neural",
            "training",
            "trained",
            "GPU",
            "GPUs",
            "Nvidia",
            "H100",
            "compute",
            "data center",
            "data centers",
            "data centre",
            "data centres",
            "supercomputer",
            "inference",
            "PyTorch",
            "OpenAI",
            "Anthropic",
            "DeepSeek",
            "Scale AI",
            "researchers",
            "multimodal",
            "benchmark",
            "benchmarks",
            "agents",
            "AI agent",
            "deepfake",
            "deepfakes",
            "transformer",
            "Midjourney",
            "Hugging Face",
            "world model",
            "world models",
        ),
        Term(name="smart glasses", regex=_SMART_GLASSES),
    ]


def _default_excludes() -> list[ExcludeRule]:
    return [
        ExcludeRule(
            name="meta-analysis",
            regex=r"\bmeta[ -]?analys[ie]s\b",
            note="statistics term, not the company",
        ),
        ExcludeRule(phrase="metadata", note="data about data, not the company"),
        ExcludeRule(
            name="meta-learning",
            regex=r"\bmeta[ -]?(?:learning|learner|learners|learned)\b",
            note="machine-learning technique, not the company",
        ),
        # Not "meta data": in news that is far more often the company ("Meta data centre").
        ExcludeRule(
            name="web meta tags",
            regex=r"\bmeta (?:tags?|descriptions?|titles?|keywords)\b",
            note="HTML meta tags, not the company",
        ),
        ExcludeRule(
            name="the adjective meta",
            regex=r"\b(?:so|very|too|pretty|a bit|kind of|getting) meta\b",
            note="the word meta, not the company",
        ),
        ExcludeRule(phrase="llama.cpp", note="community inference project, not Meta"),
        ExcludeRule(phrase="Meta Quest", note="VR headset and game news"),
        ExcludeRule(phrase="Quest 3", note="VR headset and game news"),
        ExcludeRule(phrase="Horizon Worlds", note="VR social app"),
        ExcludeRule(
            name="stock-market wording",
            regex=(
                r"\b(?:stock|stocks|shares|share price|price target|premarket|pre-market"
                r"|market cap|Nasdaq|S&P 500|buy rating|sell rating|dividend)\b"
            ),
            action="penalty",
            weight=1.5,
            note="stock-market news about Meta",
        ),
        ExcludeRule(
            name="animal llama",
            regex=r"\b(?:llamas|alpacas?|alpaca farm|llama farm|llama wool)\b",
            action="penalty",
            weight=2.0,
            note="the animal",
        ),
    ]


class CooccurrenceWeights(BaseModel):
    """What an entity (Meta, Zuckerberg, FAIR, ...) next to an AI term is worth.

    The same pair counts for more in the title than in the body, because an
    article about something else often names Meta once in passing ("OpenAI,
    Google and Meta are racing to ...").
    """

    model_config = ConfigDict(extra="forbid")

    # Entity and AI term both in the title.
    title: float = 3.0
    # Entity in the title, AI term only in the text.
    title_entity: float = 2.0
    # ... plus this per further distinct AI term in the text, up to title_entity_terms_cap.
    title_entity_term_bonus: float = 0.5
    title_entity_terms_cap: float = 1.0
    # AI term in the title, entity only in the text.
    title_term: float = 2.0
    # Entity only in the text (AI term anywhere).
    text: float = 1.0
    # Extra per further mention of an entity in the text, up to text_mentions_cap.
    text_mention_bonus: float = 0.5
    text_mentions_cap: float = 1.5


class TopicSettings(BaseModel):
    """The [topic] table. Every field has a default, so a user config may omit the whole table."""

    model_config = ConfigDict(extra="forbid")

    # An item is kept when its score reaches this.
    threshold: float = 3.0
    # A phrase found only in the text (not the title) counts this fraction of its weight.
    text_factor: float = Field(default=0.5, ge=0.0, le=1.0)
    # Only the first N characters of the text are read (bounds time on huge pages).
    max_text_chars: int = Field(default=20_000, ge=100)
    phrases: list[WeightedTerm] = Field(default_factory=_default_phrases)
    entities: list[Term] = Field(default_factory=_default_entities)
    ai_terms: list[Term] = Field(default_factory=_default_ai_terms)
    cooccurrence: CooccurrenceWeights = Field(default_factory=CooccurrenceWeights)
    exclude: list[ExcludeRule] = Field(default_factory=_default_excludes)

    @field_validator("entities", "ai_terms", mode="before")
    @classmethod
    def _strings_are_phrases(cls, value: object) -> object:
        """Let a config list plain strings ("GPU") as well as tables."""
        if isinstance(value, list):
            return [{"phrase": v} if isinstance(v, str) else v for v in value]
        return value
