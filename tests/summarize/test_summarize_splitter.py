"""Sentence splitting: the hard cases of news text, and the verbatim guarantee."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.summarize.splitter import SentenceSplitter, sentence_spans, split_sentences
from tests.helpers import DATA

CASES = json.loads((DATA / "summarize" / "split_cases.json").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_hard_cases_split_where_a_reader_would(case: dict[str, object]) -> None:
    assert split_sentences(str(case["text"])) == case["sentences"]


def test_everyday_words_are_not_taken_for_abbreviations() -> None:
    # nupunkt's stock model lists "threads", "week", "park" among its abbreviations.
    text = "He posted it on Threads. Anyone can read it. They met in the park. Police came."
    assert split_sentences(text) == [
        "He posted it on Threads.",
        "Anyone can read it.",
        "They met in the park.",
        "Police came.",
    ]


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []


def test_spans_index_the_original_text_even_with_curly_quotes() -> None:
    text = "“It is open,” she said.  “Try it.”\n\nThen she left."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "“It is open,” she said.",
        "“Try it.”",
        "Then she left.",
    ]


def test_character_window_never_returns_a_cut_sentence() -> None:
    text = " ".join(f"Sentence number {n} says something about Meta." for n in range(40))
    window = SentenceSplitter().split(text, max_chars=500)
    full = split_sentences(text)
    assert 0 < len(window) < len(full)
    assert window == full[: len(window)]
    assert sum(len(s) + 1 for s in window) <= 500


def test_character_window_smaller_than_the_first_sentence_returns_it_whole() -> None:
    text = "A first sentence that is far longer than the tiny window asked for. A second one."
    assert SentenceSplitter().split(text, max_chars=10) == split_sentences(text)


_news_words = st.sampled_from(
    ["Meta", "said", "U.S.", "Dr.", "$1.5", "billion", "3.2%", "Llama", "the", "model", "It"]
)
_punctuation = st.sampled_from([".", "!", "?", "...", ",", '."', "", "\n", "\n\n", " —"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_news_words, _punctuation), min_size=1, max_size=40))
def test_sentences_are_verbatim_ordered_and_disjoint(parts: list[tuple[str, str]]) -> None:
    text = " ".join(word + mark for word, mark in parts)
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        previous_end = end
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())


def test_an_opening_quote_left_at_a_sentence_end_goes_to_the_sentence_it_opens() -> None:
    # The shape of a CNN article's quote of a quote: Punkt ends the first sentence after
    # the space, on the second sentence's opening quote.
    text = (
        "Stars are back to play the agents who always got a little too close to the truth. "
        "\" 'The Series' was a phenomenon that shaped pop culture,\" the network said."
    )
    assert split_sentences(text) == [
        "Stars are back to play the agents who always got a little too close to the truth.",
        "\" 'The Series' was a phenomenon that shaped pop culture,\" the network said.",
    ]
