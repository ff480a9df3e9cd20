"""Topic rules: each rule family, word-boundary traps, the shipped config, the labelled set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.topic.classifier import TopicClassifier, TopicVerdict
from bot.topic.settings import ExcludeRule, Term, TopicSettings, WeightedTerm
from tests.data.topic.loader import (
    CORPUS_ENV,
    LABELLED,
    CorpusReferenceError,
    LabelledItem,
    LabelledSet,
    load_labelled,
)

ROOT = Path(__file__).resolve().parents[2]
# Regression floors, a little under the targets (precision 0.95, recall 0.90). They hold
# for the items shipped in the repo alone (measured P 0.993, R 0.971, as on the full set:
# every corpus item is a negative and none is kept) and for the full set. Recall rose from
# 0.949 when Meta's AI deals and training data became subjects that outweigh market wording.
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.95
# The corpus part is 112 negatives; none is kept today. More than 3 kept is a regression.
CORPUS_FALSE_POSITIVE_CEILING = 3


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier(TopicSettings())


def shipped() -> TopicSettings:
    return TopicSettings.defaults()


# ------------------------------------------------------------- rule families
def test_phrase_in_title_keeps_and_says_why(classifier: TopicClassifier) -> None:
    verdict = classifier.classify("Meta releases Llama 4 Scout and Maverick", "")
    assert verdict.keep
    assert "phrase 'Llama <version>' in title +3.0" in verdict.reasons
    assert verdict.reasons[-1].startswith("score ") and ">= threshold 3.0" in verdict.reasons[-1]


def test_phrase_only_in_text_counts_less(classifier: TopicClassifier) -> None:
    in_title = classifier.classify("Meta AI gets a voice mode", "")
    in_text = classifier.classify("A new voice mode", "The update comes to Meta AI this week.")
    assert "phrase 'Meta AI' in title +3.0" in in_title.reasons
    assert "phrase 'Meta AI' in text +1.5" in in_text.reasons
    assert in_text.score < in_title.score


def test_entity_and_ai_term_in_title(classifier: TopicClassifier) -> None:
    verdict = classifier.classify("Zuckerberg says superintelligence is in sight", "")
    assert verdict.keep
    assert "co-occurrence Zuckerberg + superintelligence in title +3.0" in verdict.reasons


def test_entity_in_title_with_several_ai_terms_in_text(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Meta signs a licensing deal with an image startup",
        "The licence covers image models and the training of future generative systems.",
    )
    assert verdict.keep
    assert any(r.startswith("co-occurrence Meta (title) + ") for r in verdict.reasons)


def test_meta_named_in_passing_is_dropped(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Google's Gemini 2.5 Pro tops the leaderboards",
        "Google says its reasoning model beats OpenAI, Anthropic and Meta models.",
    )
    assert not verdict.keep
    assert verdict.reasons[-1].endswith("< threshold 3.0")


def test_lowercase_headlines_still_match(classifier: TopicClassifier) -> None:
    assert classifier.classify("meta cuts 600 ai jobs in superintelligence unit", "").keep


# ----------------------------------------------------- word-boundary traps
@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Your photos' metadata can reveal where you live", "Strip EXIF metadata before posting."),
        (
            "A new meta-analysis questions intermittent fasting",
            "Pooling 20 trials of weight models.",
        ),
        ("Meta-learning helps robots adapt", "A meta-learning method improves grasping models."),
        ("How to write meta descriptions", "SEO guide to meta tags for AI-generated pages."),
        ("Escaped llamas lead police on a chase", "Two llamas got loose from a farm."),
        ("llama.cpp adds a new quantisation format", "Run local models faster on CPUs."),
        ("LlamaIndex raises $19 million", "The startup connects company data to language models."),
        ("Batman: Arkham Shadow arrives on Meta Quest 3", "The VR game is bundled with headsets."),
        ("The metaverse is still empty", "Virtual worlds wait for users."),
        ("A fair model for pricing rides", "Economists propose a new model."),
    ],
)
def test_lookalike_words_are_not_meta_ai(
    classifier: TopicClassifier, title: str, text: str
) -> None:
    assert not classifier.classify(title, text).keep


def test_meta_quest_is_masked_but_meta_ai_beside_it_counts(classifier: TopicClassifier) -> None:
    verdict = classifier.classify("Meta AI comes to Meta Quest 3", "")
    assert verdict.keep
    assert any(r.startswith("exclude 'Meta Quest'") for r in verdict.reasons)


def test_fair_is_case_sensitive(classifier: TopicClassifier) -> None:
    assert classifier.classify("FAIR releases a new open model for robots", "").keep
    assert not classifier.classify("Is it fair? A new model for grading", "").keep


def test_stock_only_news_is_penalised(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Meta shares hit a record high ahead of earnings", "META stock rose 2% on Nasdaq."
    )
    assert not verdict.keep
    assert "exclude 'stock-market wording' (stock-market news about Meta) -1.5" in verdict.reasons


# ------------------------------------- AI hardware, AI spending, data centres
def test_meta_ar_glasses_in_the_title_count_as_ai_hardware(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Meta shows its first AR glasses prototype",
        "The glasses project holograms and are steered by a wristband that reads muscle signals.",
    )
    assert verdict.keep
    assert "co-occurrence Meta + smart glasses in title +3.0" in verdict.reasons


def test_augmented_reality_eyewear_in_the_text_adds_to_meta_in_the_title(
    classifier: TopicClassifier,
) -> None:
    verdict = classifier.classify(
        "Meta unveils a glasses prototype at its developer conference",
        "The augmented reality eyewear overlays holograms and reads a neural wristband; "
        "artificial intelligence will answer questions about what the wearer sees.",
    )
    assert verdict.keep
    assert (
        "co-occurrence Meta (title) + artificial intelligence, neural, smart glasses (text) +3.0"
        in verdict.reasons
    )


@pytest.mark.parametrize(
    "title",
    [
        "Meta data centre in Louisiana will be its largest",
        "meta data center to cover 4m square feet",
    ],
)
def test_meta_data_centre_is_the_company_not_web_metadata(
    classifier: TopicClassifier, title: str
) -> None:
    verdict = classifier.classify(title, "The site is planned to come online in 2028.")
    assert verdict.keep
    assert not any("web meta tags" in reason for reason in verdict.reasons)


def test_meta_ai_spending_outweighs_stock_wording(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Meta sells $20 billion of bonds to pay for its AI build-out",
        "Orders topped $80 billion even as the shares fell 9% after earnings.",
    )
    assert verdict.keep
    assert "phrase 'Meta AI spending' in title +1.5" in verdict.reasons
    assert "exclude 'stock-market wording' (stock-market news about Meta) -1.5" in verdict.reasons


def test_meta_ai_spending_in_the_text_lifts_a_capex_story(classifier: TopicClassifier) -> None:
    verdict = classifier.classify(
        "Zuckerberg lays out a record year of capital spending",
        "Zuckerberg said Meta will spend up to $65 billion this year, much of it on AI "
        "infrastructure, and end the year with over a million GPUs.",
    )
    assert verdict.keep
    assert "phrase 'Meta AI spending' in text +0.75" in verdict.reasons


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Meta announces Quest 3 headset days before Apple's",
            "The mixed reality headset is slimmer; Meta says AI features come later.",
        ),
        (
            "Meta's Reality Labs loses $4 billion in the quarter",
            "The metaverse unit keeps spending on AR and VR; the shares slipped after hours.",
        ),
        (
            "Big Tech's AI spending is set to top $300 billion",
            "Microsoft, Alphabet, Amazon and Meta all raised their capital spending plans.",
        ),
        (
            "Ray-Ban Meta glasses come in new transparent frames",
            "The limited edition adds clear frames and new lens colours.",
        ),
    ],
)
def test_vr_headsets_metaverse_losses_and_industry_roundups_stay_out(
    classifier: TopicClassifier, title: str, text: str
) -> None:
    assert not classifier.classify(title, text).keep


def test_curly_quotes_and_html_are_normalised(classifier: TopicClassifier) -> None:
    verdict = classifier.classify("Meta\u2019s <b>Llama&nbsp;3.1</b> is out", "")
    assert "phrase 'Llama <version>' in title +3.0" in verdict.reasons


# ------------------------------------------------------ configurable rules
def test_drop_rule_vetoes_whatever_else_fires() -> None:
    rules = TopicSettings(exclude=[ExcludeRule(phrase="sponsored", action="drop", note="ads")])
    verdict = TopicClassifier(rules).classify("Sponsored: Meta AI tips", "Llama 4 and Meta AI")
    assert not verdict.keep
    assert "exclude 'sponsored' (ads): drop" in verdict.reasons


def test_team_can_add_a_weighted_phrase() -> None:
    base = TopicSettings()
    extended = base.model_copy(
        update={"phrases": [*base.phrases, WeightedTerm(phrase="Behemoth", weight=3.0)]}
    )
    title = "Behemoth delayed again"
    assert not TopicClassifier(base).classify(title, "").keep
    assert TopicClassifier(extended).classify(title, "").keep


def test_plain_strings_are_accepted_as_terms() -> None:
    rules = TopicSettings.model_validate({"entities": ["Meta", {"phrase": "FAIR"}]})
    assert rules.entities == [Term(phrase="Meta"), Term(phrase="FAIR")]


def test_invalid_regex_names_the_rule() -> None:
    """Refused when the settings load (one line at start), and by the classifier too."""
    with pytest.raises(ValidationError, match="the rule 'lookahead rule' has an invalid RE2"):
        WeightedTerm(name="lookahead rule", regex=r"llama(?=4)")
    term = WeightedTerm.model_construct(name="lookahead rule", regex=r"llama(?=4)")
    bad = TopicSettings.defaults().model_copy(update={"phrases": [term]})
    with pytest.raises(ValueError, match="lookahead rule"):
        TopicClassifier(bad)


def test_rule_needs_exactly_one_of_phrase_or_regex() -> None:
    with pytest.raises(ValidationError):
        Term()
    with pytest.raises(ValidationError):
        Term(phrase="a", regex="b")


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValidationError):
        TopicSettings.model_validate({"treshold": 2.0})


def test_pathological_user_regex_runs_in_linear_time() -> None:
    """(a+)+$ backtracks exponentially in Python's re; RE2 answers at once."""
    rules = TopicSettings(phrases=[WeightedTerm(name="evil", regex=r"(a+)+$", weight=1.0)])
    verdict = TopicClassifier(rules).classify("a" * 5000 + "!", "a" * 20_000 + "!")
    assert isinstance(verdict, TopicVerdict)


def test_long_text_is_read_only_up_to_the_limit() -> None:
    rules = TopicSettings(max_text_chars=200)
    verdict = TopicClassifier(rules).classify("An update", "x " * 500 + "Meta AI Llama 4")
    assert not any("Meta AI" in reason for reason in verdict.reasons)


def test_terms_lists_literal_topic_words(classifier: TopicClassifier) -> None:
    terms = classifier.terms()
    assert "GPU" in terms and "superintelligence" in terms and "Meta AI" in terms
    assert len(terms) == len(set(terms))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=2000))
def test_never_raises_on_arbitrary_text(title: str, text: str) -> None:
    verdict = TopicClassifier(TopicSettings()).classify(title, text)
    assert math.isfinite(verdict.score)
    assert verdict.reasons and verdict.keep == (verdict.score >= 3.0)


# -------------------------------------------------- shipped config and data
def raw_rows() -> list[dict[str, object]]:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def confusion(items: list[LabelledItem]) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of the shipped rules."""
    classifier = TopicClassifier(shipped())
    tp = fp = fn = 0
    for item in items:
        keep = classifier.classify(item.title, item.snippet).keep
        tp += keep and item.label
        fp += keep and not item.label
        fn += item.label and not keep
    return tp, fp, fn


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    return load_labelled()


@pytest.fixture(scope="module")
def full_set(labelled: LabelledSet) -> LabelledSet:
    if not labelled.corpus_found:
        pytest.skip(
            f"{labelled.corpus_referenced} labelled items reference the shared feed corpus, "
            f"which is not at {labelled.corpus_dir} (only CI and developers have ../shared; "
            f"set {CORPUS_ENV} to point elsewhere); the items shipped in the repo are "
            "still tested"
        )
    return labelled


def test_labelled_set_is_well_formed() -> None:
    rows = raw_rows()
    assert len(rows) >= 300
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert isinstance(row["label"], bool) and str(row["reason"]).strip()
        assert str(row["provenance"]).startswith(("real:", "modelled:"))
        reference = row.get("corpus")
        if reference is None:
            assert str(row["title"]).strip()
            assert isinstance(row["snippet"], str)
        else:
            # Corpus text is not ours to republish: only the reference is stored.
            assert "title" not in row and "snippet" not in row
            assert isinstance(reference, dict) and set(reference) == {"file", "guid"}
            assert row["provenance"] == f"real:shared/corpus/feeds/{reference['file']}"


def test_every_corpus_reference_resolves(full_set: LabelledSet) -> None:
    rows = raw_rows()
    assert len(full_set.items) == len(rows)
    assert [item.id for item in full_set.items] == [row["id"] for row in rows]
    assert len(full_set.from_corpus) == sum("corpus" in row for row in rows) == 112
    assert all(item.title.strip() for item in full_set.from_corpus)
    assert len({(item.title, item.snippet) for item in full_set.from_corpus}) == 112


def test_without_the_corpus_only_the_shipped_items_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path / "no-such-corpus"))
    partial = load_labelled()
    shipped_rows = [row for row in raw_rows() if "corpus" not in row]
    assert not partial.corpus_found and not partial.complete
    assert partial.corpus_referenced == 112
    assert [item.id for item in partial.items] == [row["id"] for row in shipped_rows]
    assert not partial.from_corpus


def test_a_dangling_corpus_reference_is_an_error(tmp_path: Path) -> None:
    corpus = tmp_path / "feeds"
    corpus.mkdir()
    (corpus / "tiny.xml").write_text(
        "<rss version='2.0'><channel><title>t</title><item><title>Kept</title>"
        "<guid>urn:kept</guid><description>One two three</description></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    row = {"id": "x1", "label": False, "reason": "r", "provenance": "real:shared/corpus/feeds/tiny"}
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps({**row, "corpus": {"file": "tiny.xml", "guid": "urn:kept"}}) + "\n")
    item = load_labelled(data, corpus).items[0]
    assert (item.title, item.snippet, item.from_corpus) == ("Kept", "One two three", True)
    data.write_text(json.dumps({**row, "corpus": {"file": "tiny.xml", "guid": "urn:gone"}}) + "\n")
    with pytest.raises(CorpusReferenceError, match="x1: no entry with guid 'urn:gone'"):
        load_labelled(data, corpus)


def test_shipped_items_regression_floor(labelled: LabelledSet) -> None:
    """Runs on every clone: the 218 items whose text ships with the repo."""
    tp, fp, fn = confusion(labelled.in_repo)
    assert tp / (tp + fp) >= PRECISION_FLOOR
    assert tp / (tp + fn) >= RECALL_FLOOR


def test_full_set_regression_floor(full_set: LabelledSet) -> None:
    tp, fp, fn = confusion(full_set.items)
    assert tp / (tp + fp) >= PRECISION_FLOOR
    assert tp / (tp + fn) >= RECALL_FLOOR
    _, corpus_fp, _ = confusion(full_set.from_corpus)
    assert corpus_fp <= CORPUS_FALSE_POSITIVE_CEILING
