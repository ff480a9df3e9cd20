"""Quality regression on real news: the 1,000 CNN articles with human highlights.

The corpus lives outside the repository (../shared, evaluation data that must not be copied
in), so these tests skip with a reason when it is absent. The ROUGE floors sit just under the
target (ROUGE-1 and ROUGE-2 at least 0.5 above Lead-3), measured in the same run on the whole
set the target is defined on (about 4 s): on a 100-article slice the comparison swung by more
than the margin once the summary rules barred narration and leaning sentences (slice R-2
-0.5 against Lead-3 while the whole set stays +0.5), so the slice tested noise, not the target.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from bot.summarize.splitter import SentenceSplitter
from bot.summarize.summarizer import Summarizer

CORPUS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "corpus"
    / "summarization"
    / "cnn_dailymail_val1000.jsonl"
)
SLICE = 100
FLOOR_OVER_LEAD = 0.4  # the target is +0.5; this floor sits just under it

pytestmark = pytest.mark.skipif(
    not CORPUS.exists(), reason=f"evaluation corpus not found at {CORPUS}"
)


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def articles(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return corpus[:SLICE]


def test_every_chosen_sentence_appears_verbatim_in_its_source(
    articles: list[dict[str, Any]],
) -> None:
    summarizer = Summarizer()
    for article in articles:
        summary = summarizer.summarize(article["text"], title=article["title"])
        assert 1 <= len(summary) <= 3
        positions = [article["text"].index(sentence) for sentence in summary]
        assert positions == sorted(positions)  # article order, each found verbatim


def test_rouge_beats_lead_3_on_the_whole_set(corpus: list[dict[str, Any]]) -> None:
    articles = corpus
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    summarizer, splitter = Summarizer(), SentenceSplitter()

    def scores(summaries: list[list[str]]) -> dict[str, float]:
        results = [
            scorer.score("\n".join(a["summary_sentences"]), "\n".join(s))
            for a, s in zip(articles, summaries, strict=True)
        ]
        return {
            key: 100 * statistics.fmean(r[key].fmeasure for r in results)
            for key in ("rouge1", "rouge2")
        }

    ours = scores([summarizer.summarize(a["text"]) for a in articles])
    lead = scores([splitter.split(a["text"])[:3] for a in articles])
    for key in ("rouge1", "rouge2"):
        assert ours[key] >= lead[key] + FLOOR_OVER_LEAD, (key, ours, lead)
