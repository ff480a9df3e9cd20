"""Sentence classes a summary never chooses (issue 10), each checked with room for everything.

Every test gives the summarizer room for all sentences (max_sentences and max_words above the
text): the old rules, which only penalised some classes, returned the bad sentence too.
"""

from __future__ import annotations

import pytest

from bot.summarize.exclusions import outside_quotes
from bot.summarize.settings import SummarizeSettings
from bot.summarize.summarizer import ArticleText, Summarizer

FACT = "Meta plans to release its next AI models under an open-source license."
SAFETY = "Some parts of the models will stay proprietary for safety reasons, the company said."
ROOMY = SummarizeSettings(max_sentences=10, max_words=1000, redundancy_threshold=1.0)


def summary_of(bad: str, *, last: bool = False) -> list[str]:
    """The summary of the bad sentence (a line of its own) and two plain news sentences.

    `last` puts it after them: a first line without a full stop would be taken as the headline.
    """
    text = f"{FACT} {SAFETY}\n{bad}" if last else f"{bad}\n{FACT} {SAFETY}"
    return Summarizer(ROOMY).summarize(text)


@pytest.mark.parametrize(
    "bad",
    [
        # first-person narration and the reader addressed
        "I remember the day the memo about the new models landed on my desk.",
        "You could feel the mood in the room change when the plan was shared.",
        # questions
        "Will Meta really open its next models to every developer?",
        # figures of speech used as openers
        "To say the last launch went badly would be like calling a flood a little rain.",
        "Make no mistake, the company is betting heavily on open models again.",
        # calls to action
        "To read this article in full, please click here and log in today.",
        "Download our app to get the latest technology news on your phone.",
        # bylines, credits and author bios
        "Reporting by Jane Doe in San Francisco; editing by John Roe.",
        "Jane Doe is a senior reporter covering artificial intelligence for the paper.",
        "Photo by Alex Smith for the newspaper, taken at the event in Menlo Park.",
        # link-aggregator credits
        "submitted by /u/techfan42 [link] [comments]",
        # cut off by a feed, or a full stop doubled
        "Meta said on Tuesday that it would open the models to outside developers […]",
        "Meta said on Tuesday that it would open the models to outside developers …",
        "The company described the plan in a memo titled ‘Building Open Models Together’..",
    ],
)
def test_a_rejected_class_is_never_chosen(bad: str) -> None:
    assert summary_of(bad) == [FACT, SAFETY]
    assert summary_of(bad, last=True) == [FACT, SAFETY]


@pytest.mark.parametrize(
    "leaning",
    [
        "But the company still plans to spend heavily on chips and data centres.",
        "However, the release date for the models has not been announced yet.",
        "He said the models would be available to researchers within weeks.",
        "Part of that spending will be paid for with new corporate bonds.",
        "The move comes as rivals keep their most capable systems closed.",
    ],
)
def test_a_sentence_that_leans_on_a_missing_antecedent_is_never_chosen(leaning: str) -> None:
    assert summary_of(leaning) == [FACT, SAFETY]


def test_a_leaning_sentence_comes_right_after_its_antecedent() -> None:
    leaning = "But the company still plans to spend heavily on chips and data centres."
    text = f"{FACT} {leaning} {SAFETY}"
    assert Summarizer(ROOMY).summarize(text) == [FACT, leaning, SAFETY]
    # Its antecedent not chosen (one sentence only): it is never chosen alone.
    assert leaning not in Summarizer(ROOMY).summarize(text, max_sentences=1)


def test_leaning_becomes_a_penalty_when_the_hard_rule_is_off() -> None:
    text = f"He said the models would be available within weeks. {FACT}"
    off = SummarizeSettings.model_validate(
        {"exclude": {"require_antecedent": False}, "weights": {"dangling_opening": 0.0}}
    )
    assert Summarizer(off).summarize(text, max_sentences=1) == [
        "He said the models would be available within weeks."
    ]


def test_time_words_after_a_determiner_do_not_lean_back() -> None:
    first = "This week Meta released the first models of its new open family."
    assert Summarizer(ROOMY).summarize(f"{first} {SAFETY}") == [first, SAFETY]


def test_quoted_first_person_is_not_narration() -> None:
    quoted = "“I am proud of what the team has built,” Zuckerberg said in a post on Threads."
    assert summary_of(quoted) == [quoted, FACT, SAFETY]
    assert outside_quotes('We did it," she said.').strip() == "she said."


def test_when_every_sentence_is_excluded_the_summary_is_empty() -> None:
    text = "I remember the memo. Would you have guessed what it said? Click here to read more."
    assert Summarizer(ROOMY).summarize(text) == []
    story = [ArticleText("Column", text), ArticleText("Teaser", "Meta did something […]")]
    assert Summarizer().summarize_story(story) == []


def test_story_summary_skips_the_columns_narration_for_the_facts_sources_share() -> None:
    column = ArticleText(
        "What Meta's open bet means",
        "I remember the moment the memo landed on my desk. "
        "You could feel the room tilt as people read it. "
        f"{FACT} {SAFETY}",
    )
    news = ArticleText(
        "Meta to open-source its next AI models",
        "To say the last launch disappointed would be like calling a storm a breeze. "
        "Meta will release its next AI models under an open-source license, a report said. "
        "Parts of the models stay proprietary for safety reasons.",
    )
    summary = Summarizer().summarize_story([column, news])
    assert summary
    assert all("open-source" in s or "proprietary" in s for s in summary)
    assert not any(s.startswith(("I ", "You ", "To say")) for s in summary)


def test_exclusion_rules_are_configuration() -> None:
    settings = SummarizeSettings.model_validate({"exclude": {"question": []}})
    question = "Will Meta really open its next models to every developer?"
    assert question in Summarizer(settings.model_copy(update={"max_words": 1000})).summarize(
        f"{question} {FACT}", max_sentences=5
    )
    with pytest.raises(ValueError, match="invalid RE2"):
        SummarizeSettings.model_validate({"exclude": {"byline": ["(unclosed"]}})


def test_a_lede_that_opens_on_a_pronoun_and_names_someone_points_forward() -> None:
    lede = (
        "He may be nursing a dislocated shoulder, but Meta's chief AI scientist has vowed to "
        "present the new models at the Paris conference next month."
    )
    assert summary_of(lede) == [lede, FACT, SAFETY]
    # After another sentence (here one never chosen), it leans on that one: never alone.
    text = f"I remember the day the memo landed on every desk.\n{lede}\n{FACT} {SAFETY}"
    assert Summarizer(ROOMY).summarize(text) == [FACT, SAFETY]


def test_a_lede_that_opens_on_a_pronoun_and_names_nobody_is_still_a_fragment() -> None:
    assert summary_of("He said the models would be available to researchers within weeks.") == [
        FACT,
        SAFETY,
    ]


def test_a_story_summary_opens_on_what_the_titles_agree_on_not_a_tangent() -> None:
    scene = "Most speech recognition systems handle maybe a dozen languages well."
    news = (
        "Meta introduces Omnilingual ASR, an open-source speech recognition platform that "
        "supports over 1,600 languages."
    )
    detail = "The training set aggregates 120,710 hours of annotated speech from volunteers."
    articles = [
        ArticleText("Meta Omnilingual ASR covers 1,600 languages", f"{scene} {news} {detail}"),
        ArticleText(
            "Meta AI releases Omnilingual ASR for 1,600 languages",
            f"{news} It ships with a dataset of speech in 350 underserved languages.",
        ),
    ]
    summary = Summarizer(ROOMY).summarize_story(articles)
    assert summary[0] == news
    assert scene in summary  # still there, after the news: only the order changed
