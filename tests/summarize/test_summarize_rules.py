"""Each summarizer rule, tested by switching it on alone and seeing the choice it makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.summarize.settings import SummarizeSettings
from bot.summarize.summarizer import ArticleText, Summarizer

DATA = Path(__file__).resolve().parents[1] / "data" / "summarize"
REPO = Path(__file__).resolve().parents[2]

NO_WEIGHTS = {
    "position": 0.0,
    "first_sentence_bonus": 0.0,
    "centrality": 0.0,
    "title_overlap": 0.0,
    "topic_terms": 0.0,
    "numbers": 0.0,
    "entities": 0.0,
    "length": 0.0,
    "redundancy": 0.0,
    "dangling_opening": 0.0,
    "question": 0.0,
    "quote": 0.0,
    "source_rank": 0.0,
}


def only(weights: dict[str, float], **fields: Any) -> SummarizeSettings:
    """Settings in which only the named rules count (all other weights zero)."""
    return SummarizeSettings.model_validate(
        {"weights": {**NO_WEIGHTS, **weights}, "min_sentence_words": 3, **fields}
    )


def pick_one(settings: SummarizeSettings, text: str, **kwargs: Any) -> str:
    summary = Summarizer(settings, **kwargs).summarize(text, max_sentences=1)
    assert len(summary) == 1
    return summary[0]


NEUTRAL = (
    "The weather was mild across the region on the day. "
    "Visitors walked along the river near the old bridge. "
    "Meta released the Llama 5 model with open weights for developers. "
    "Shops stayed open later than usual in the evening."
)
LLAMA = "Meta released the Llama 5 model with open weights for developers."


def test_with_no_rule_the_first_sentence_wins_ties() -> None:
    assert pick_one(only({}), NEUTRAL).startswith("The weather")


def test_position_prefers_the_top_over_a_central_sentence() -> None:
    text = (
        "Officials opened a new bridge over the river on Monday. "
        "Meta trained Llama on clusters. Meta said Llama training used clusters. "
        "Llama clusters at Meta grew. Meta plans more Llama clusters."
    )
    assert pick_one(only({"centrality": 1.0}), text) != text.split(". ")[0] + "."
    both = only({"centrality": 1.0, "position": 5.0})
    assert pick_one(both, text) == "Officials opened a new bridge over the river on Monday."


def test_centrality_prefers_the_sentence_the_article_is_about() -> None:
    text = (
        "The weather was mild across the region on the day. "
        "Meta trained its Llama models on a new cluster of chips. "
        "The Llama cluster uses chips designed by Meta. "
        "Engineers said the chips cut the cost of training Llama models."
    )
    assert pick_one(only({"centrality": 1.0}), text) == (
        "Meta trained its Llama models on a new cluster of chips."
    )


def test_title_overlap_prefers_the_sentence_that_matches_the_title() -> None:
    chosen = Summarizer(only({"title_overlap": 1.0})).summarize(
        NEUTRAL, title="Meta releases Llama 5 with open weights", max_sentences=1
    )
    assert chosen == [LLAMA]


def test_topic_terms_prefer_the_sentence_about_the_topic() -> None:
    assert pick_one(only({"topic_terms": 1.0}), NEUTRAL, topic_terms=["Llama", "Meta"]) == LLAMA
    assert pick_one(only({"topic_terms": 1.0}), NEUTRAL) != LLAMA  # no terms, no preference


def test_numbers_prefer_a_sentence_with_a_figure() -> None:
    text = "Sales grew strongly last quarter. Sales grew 12 percent last quarter."
    assert pick_one(only({"numbers": 1.0}), text) == "Sales grew 12 percent last quarter."


def test_entities_prefer_a_sentence_that_names_names() -> None:
    text = "The company announced a deal with a partner. A deal joins Meta, Nvidia and Dell."
    assert pick_one(only({"entities": 1.0}), text) == "A deal joins Meta, Nvidia and Dell."


def test_length_penalty_skips_run_ons_and_stubs() -> None:
    run_on = "The company said " + "that it would and " * 20 + "it did."
    text = f"{run_on} Meta released a new open model for developers today. Short one here."
    assert pick_one(only({"length": 1.0}), text) == (
        "Meta released a new open model for developers today."
    )


def test_sentences_outside_the_hard_length_limits_are_never_chosen() -> None:
    text = "Too short. Meta released a new open model for developers today."
    settings = only({"position": 1.0}, min_sentence_words=4)
    assert pick_one(settings, text) == "Meta released a new open model for developers today."


REPEATING = (
    "Meta released Llama 5 open models on Tuesday. "
    "On Tuesday Meta released open Llama 5 models. "
    "Developers can download the weights from Hugging Face."
)


def test_redundancy_never_repeats_a_fact() -> None:
    summarizer = Summarizer(only({"position": 1.0, "redundancy": 1.0}))
    assert summarizer.summarize(REPEATING, max_sentences=2) == [
        "Meta released Llama 5 open models on Tuesday.",
        "Developers can download the weights from Hugging Face.",
    ]


def test_without_the_redundancy_rule_the_repeat_would_be_chosen() -> None:
    summarizer = Summarizer(only({"position": 1.0}, redundancy_threshold=1.0))
    assert summarizer.summarize(REPEATING, max_sentences=2)[1].startswith("On Tuesday")


DANGLING = (
    "He said the deal would close within weeks. "
    "Meta agreed to buy a stake in Scale AI for $14 billion. "
    "The startup labels data for training models."
)


def test_a_summary_does_not_open_on_a_missing_antecedent() -> None:
    # A hard rule by default; as a penalty (require_antecedent off) it is the weight's to say.
    assert pick_one(only({"position": 1.0}), DANGLING).startswith("Meta agreed")
    soft = {"exclude": {"require_antecedent": False}}
    settings = only({"position": 1.0, "dangling_opening": 1.0}, **soft)
    assert pick_one(settings, DANGLING).startswith("Meta agreed")
    assert pick_one(only({"position": 1.0}, **soft), DANGLING).startswith("He said")


def test_a_leaning_sentence_may_follow_its_antecedent() -> None:
    text = (
        "Meta agreed to buy a stake in Scale AI for $14 billion. "
        "But regulators may look at the deal closely. "
        "Weather in Paris was mild on the day of the announcement."
    )
    summary = Summarizer(only({"position": 1.0, "dangling_opening": 0.5})).summarize(
        text, max_sentences=2
    )
    assert summary == [
        "Meta agreed to buy a stake in Scale AI for $14 billion.",
        "But regulators may look at the deal closely.",
    ]


def test_questions_and_quotes_are_penalised() -> None:
    text = (
        '"We are excited about this launch," the spokesperson said. '
        "What will developers build with the new model? "
        "Meta released a new open model for developers today."
    )
    settings = only({"position": 1.0, "question": 2.0, "quote": 2.0})
    assert pick_one(settings, text) == "Meta released a new open model for developers today."


def test_boilerplate_is_never_chosen_even_with_room_for_everything() -> None:
    text = (DATA / "article_boilerplate.txt").read_text("utf-8")
    summarizer = Summarizer(
        SummarizeSettings(max_sentences=50, max_words=10_000, redundancy_threshold=1.0)
    )
    summary = summarizer.summarize(text)
    joined = "\n".join(summary)
    for boilerplate in (
        "Jane Doe",
        "Updated 10:42",
        "Advertisement",
        "MENLO PARK",
        "Photo:",
        "Sign up",
        "Read more",
        "@ylecun",
        "anyone can build on them",
        "cookies",
        "originally appeared",
    ):
        assert boilerplate not in joined
    assert "Meta releases Llama 5 open-weight models" not in summary  # the headline line
    assert summary[0].startswith("Meta on Tuesday released Llama 5")  # dateline stripped
    assert "Analysts said the release puts pressure" in summary[-1]
    assert all(sentence in text for sentence in summary)


def test_boilerplate_patterns_are_configuration() -> None:
    text = "Meta released a new open model today. Developers welcomed the new open model."
    default = Summarizer().summarize(text, max_sentences=1)
    assert default == ["Meta released a new open model today."]
    settings = SummarizeSettings.model_validate(
        {"boilerplate": {"sentence_patterns": [r"\btoday\.$"]}}
    )
    assert Summarizer(settings).summarize(text, max_sentences=1) == [
        "Developers welcomed the new open model."
    ]


def test_summary_is_verbatim_in_article_order_and_within_the_word_limit() -> None:
    text = (DATA / "article_boilerplate.txt").read_text("utf-8")
    summarizer = Summarizer(SummarizeSettings(max_words=60))
    summary = summarizer.summarize(text, max_sentences=3)
    assert 1 <= len(summary) <= 3
    positions = [text.index(sentence) for sentence in summary]
    assert positions == sorted(positions)
    assert sum(len(sentence.split()) for sentence in summary) <= 60


def test_when_nothing_fits_the_budget_one_whole_sentence_is_chosen() -> None:
    first = "Meta " + "released models and " * 12 + "tools."
    second = "Developers " + "downloaded weights and " * 12 + "code."
    summary = Summarizer(SummarizeSettings(max_words=10)).summarize(f"{first} {second}")
    assert summary == [first]


def test_a_sentence_that_does_not_fit_the_budget_is_skipped_not_cut() -> None:
    long_sentence = "Meta " + "released models and " * 12 + "tools."
    text = f"Meta released Llama 5 today. {long_sentence} Developers can download it now."
    summary = Summarizer(SummarizeSettings(max_words=15, min_sentence_words=3)).summarize(text)
    assert summary == ["Meta released Llama 5 today.", "Developers can download it now."]


def test_max_sentences_is_respected_and_validated() -> None:
    text = (DATA / "article_boilerplate.txt").read_text("utf-8")
    summarizer = Summarizer(SummarizeSettings(max_words=1000))
    assert len(summarizer.summarize(text, max_sentences=2)) == 2
    assert len(summarizer.summarize(text)) == 3
    with pytest.raises(ValueError, match="at least 1"):
        summarizer.summarize(text, max_sentences=0)


def test_given_title_is_not_repeated_as_a_summary_sentence() -> None:
    text = "Meta opens a Paris lab\nMeta will open a research lab in Paris this year."
    summary = Summarizer().summarize(text, title="Meta opens a Paris lab")
    assert summary == ["Meta will open a research lab in Paris this year."]


def test_short_snippet_and_empty_text() -> None:
    summarizer = Summarizer()
    assert summarizer.summarize("") == []
    assert summarizer.summarize("Llama 5 is out.") == ["Llama 5 is out."]
    assert summarizer.summarize("Advertisement") == []
    run_on = " ".join(["word"] * 500)  # no punctuation at all: nothing readable to choose
    assert summarizer.summarize(run_on) == []


def test_needs_full_text_for_snippets_only() -> None:
    summarizer = Summarizer()
    assert summarizer.needs_full_text("Meta released Llama 5 today. Read more…")
    long_text = (DATA / "article_boilerplate.txt").read_text("utf-8") * 2
    assert not summarizer.needs_full_text(long_text)
    truncated = " ".join(["Meta released a model."] * 30) + " The company said […]"
    assert summarizer.needs_full_text(truncated)
    strict = Summarizer(SummarizeSettings(min_snippet_words=5))
    assert not strict.needs_full_text("Meta released Llama 5 open models today.")


# -- multi-source stories ----------------------------------------------------------------------

FULL = ArticleText(
    title="Meta releases Llama 5",
    text=(
        "Meta released Llama 5, a family of open-weight models, on Tuesday. "
        "The models come in three sizes and can be downloaded from Hugging Face. "
        "The largest was trained on more than 100,000 GPUs, the company said. "
        "Developers can run the smallest model on a laptop."
    ),
)
SYNDICATED = ArticleText(
    title="Meta releases Llama 5 (wire copy)",
    text=(
        "Meta released Llama 5, a family of open-weight models, on Tuesday. "
        "The models come in three sizes and can be downloaded from Hugging Face. "
        "Shares of Meta rose 2 percent after the announcement in New York."
    ),
)
SNIPPET = ArticleText(title="Llama 5 is here", text="Meta has a new model out.")


def test_story_summary_repeats_no_fact_across_sources() -> None:
    summary = Summarizer().summarize_story([SYNDICATED, FULL], max_sentences=3)
    assert len(summary) == len(set(summary)) == 3
    assert summary.count("Meta released Llama 5, a family of open-weight models, on Tuesday.") == 1
    for sentence in summary:
        assert sentence in FULL.text or sentence in SYNDICATED.text


def test_story_summary_comes_from_the_best_article_first() -> None:
    summary = Summarizer().summarize_story([SNIPPET, FULL], max_sentences=2)
    assert all(sentence in FULL.text for sentence in summary)
    assert summary[0] == "Meta released Llama 5, a family of open-weight models, on Tuesday."


def test_story_summary_may_add_a_fact_only_another_source_has() -> None:
    settings = SummarizeSettings(max_words=200)
    summary = Summarizer(settings).summarize_story([FULL, SYNDICATED], max_sentences=4)
    other = [s for s in summary if s not in FULL.text]
    assert other in ([], ["Shares of Meta rose 2 percent after the announcement in New York."])


def test_story_without_text_has_no_summary() -> None:
    assert Summarizer().summarize_story([]) == []
    assert Summarizer().summarize_story([ArticleText(title="x", text="  ")]) == []


# -- settings ------------------------------------------------------------------------------------


def test_settings_reject_unknown_keys_and_bad_patterns() -> None:
    with pytest.raises(ValidationError):
        SummarizeSettings.model_validate({"max_sentence": 3})
    with pytest.raises(ValidationError):
        SummarizeSettings.model_validate({"weights": {"postion": 1.0}})
    with pytest.raises(ValidationError, match="invalid RE2"):
        SummarizeSettings.model_validate({"boilerplate": {"sentence_patterns": ["(unclosed"]}})
    with pytest.raises(ValidationError, match="invalid RE2"):
        SummarizeSettings.model_validate({"paywall_patterns": ["(?<=lookbehind)x"]})
