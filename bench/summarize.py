"""Benchmark of the extractive summarizer against Lead-3, sumy and a greedy oracle.

Usage (from the repository root; the baselines need the bench extra:
`.venv/bin/pip install -e '.[bench]'`):
    .venv/bin/python -m bench.summarize                 # all 1,000 CNN articles
    .venv/bin/python -m bench.summarize --limit 100     # the first 100
    .venv/bin/python -m bench.summarize --start 500     # the held-out half only
    .venv/bin/python -m bench.summarize --skip-sumy     # quick tuning runs

Data: ../shared/corpus/summarization/cnn_dailymail_val1000.jsonl (relative to the repository
root, found from this file's location), 1,000 CNN articles with human highlights.

Scores are ROUGE-1, ROUGE-2 and ROUGE-Lsum F1 x100 from `rouge-score` with use_stemmer=True;
ROUGE-Lsum sees one sentence a line on both sides. Time is the median wall time per article of
choosing the summary from the raw text, sentence splitting included, measured one article at a
time in this process, so every method is timed on the same machine in the same run.

How the baselines are run (fair by construction):
- Every baseline sees the SAME sentences: the whole article split once by the project's
  splitter (bot.summarize.SentenceSplitter, nupunkt), a separate instance from the one our
  summarizer uses, so neither profits from the other's memoized decisions. Lead-3 is the
  first three of those sentences.
- sumy's own Tokenizer needs NLTK's punkt data, which cannot be downloaded here (no internet).
  So each sumy document is built directly from those pre-split sentences:
  ObjectDocumentModel([Paragraph([Sentence(s, words) for s in sentences])]), where `words` is an
  object whose to_words() is NLTK's TreebankWordTokenizer (needs no data) filtered by sumy's own
  word pattern, i.e. what sumy's Tokenizer.to_words does minus the punkt sentence pass. Each
  summarizer gets sumy's English Snowball stemmer and English stop words, as in sumy's docs,
  and is asked for 3 sentences. Splitting time is added to every method's time.
- The greedy oracle adds, up to 3 times, the sentence that most raises ROUGE-1 + ROUGE-2 F1
  against the reference (stopping when nothing raises it); it is an upper bound for choosing
  3 whole sentences, not a method.

Our summarizer ("ours") runs with its shipped defaults (at most 3 sentences, 75-word budget).
Two ablations show where its gain comes from: "ours, no word cap" (always 3 sentences, as every
other row) and "ours, position only" (every weight but position at zero: the lead with our
boilerplate, dateline and length filters and the budget). Ablations are not timed: they share
the splitter instance of "ours". The defaults were tuned on the first 500 articles only; the
tables for articles 0-499 (tuning) and 500-999 (held out) are printed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import SMOKE_HELP
from bot.summarize.settings import ScoreWeights, SummarizeSettings
from bot.summarize.splitter import SentenceSplitter
from bot.summarize.summarizer import Summarizer

REPO = Path(__file__).resolve().parents[1]

CORPUS = REPO.parent / "shared" / "corpus" / "summarization" / "cnn_dailymail_val1000.jsonl"
SPLIT_CASES = REPO / "tests" / "data" / "summarize" / "split_cases.json"
SENTENCES = 3
TUNING_END = 500  # articles [0, 500) were used for tuning; [500, 1000) are held out
POSITION_ONLY = {
    name: 0.0
    for name in (
        "centrality", "title_overlap", "topic_terms", "numbers", "entities", "length",
        "redundancy", "dangling_opening", "question", "quote",
    )
}  # fmt: skip


@dataclass
class Article:
    id: str
    text: str
    reference: list[str]


@dataclass
class MethodResult:
    name: str
    scores: list[dict[str, float]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    words: list[int] = field(default_factory=list)
    timed: bool = True


def load_articles(start: int, limit: int | None) -> list[Article]:
    if not CORPUS.exists():
        sys.exit(f"corpus not found: {CORPUS}")
    articles = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            articles.append(Article(record["id"], record["text"], record["summary_sentences"]))
    end = None if limit is None else start + limit
    return articles[start:end]


# -- sumy, fed pre-split sentences ------------------------------------------------------------


class SumyWords:
    """sumy's Tokenizer.to_words without the NLTK punkt data it cannot get here."""

    def __init__(self) -> None:
        from nltk.tokenize import TreebankWordTokenizer
        from sumy.nlp.tokenizers import Tokenizer

        self._tokenize = TreebankWordTokenizer().tokenize
        self._is_word = Tokenizer._WORD_PATTERN.match

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(word for word in self._tokenize(sentence) if self._is_word(word))


def sumy_methods() -> dict[str, Callable[[list[str]], list[str]]]:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.lsa import LsaSummarizer
    from sumy.summarizers.luhn import LuhnSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    words = SumyWords()
    stemmer = Stemmer("english")
    stop_words = get_stop_words("english")

    def make(cls: Any) -> Callable[[list[str]], list[str]]:
        summarizer = cls(stemmer)
        summarizer.stop_words = stop_words

        def run(sentences: list[str]) -> list[str]:
            document = ObjectDocumentModel(
                [Paragraph([Sentence(sentence, words) for sentence in sentences])]
            )
            return [str(sentence) for sentence in summarizer(document, SENTENCES)]

        return run

    return {
        "sumy LexRank": make(LexRankSummarizer),
        "sumy TextRank": make(TextRankSummarizer),
        "sumy LSA": make(LsaSummarizer),
        "sumy Luhn": make(LuhnSummarizer),
    }


# -- ROUGE and the oracle -----------------------------------------------------------------------


def make_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


def rouge(scorer: Any, summary: Sequence[str], reference: Sequence[str]) -> dict[str, float]:
    result = scorer.score("\n".join(reference), "\n".join(summary))
    return {key: 100 * value.fmeasure for key, value in result.items()}


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(candidate: Counter[Any], reference: Counter[Any]) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(candidate.values())
    recall = overlap / sum(reference.values())
    return 2 * precision * recall / (precision + recall)


def greedy_oracle(scorer: Any, sentences: list[str], reference: list[str]) -> list[str]:
    """Search with rouge-score's own tokenizer and stemmer; the final score uses the scorer."""
    tokenize = scorer._tokenizer.tokenize
    ref_tokens = tokenize(" ".join(reference))
    ref1, ref2 = _ngrams(ref_tokens, 1), _ngrams(ref_tokens, 2)
    tokens = [tokenize(sentence) for sentence in sentences]
    chosen: list[int] = []
    best = 0.0
    for _ in range(SENTENCES):
        step_best, step_index = best, -1
        for index in range(len(sentences)):
            if index in chosen:
                continue
            joined = [t for i in sorted([*chosen, index]) for t in tokens[i]]
            value = _f1(_ngrams(joined, 1), ref1) + _f1(_ngrams(joined, 2), ref2)
            if value > step_best:
                step_best, step_index = value, index
        if step_index < 0:
            break
        chosen.append(step_index)
        best = step_best
    return [sentences[i] for i in sorted(chosen)]


# -- running ------------------------------------------------------------------------------------


def run_methods(articles: list[Article], with_sumy: bool) -> list[MethodResult]:
    scorer = make_scorer()
    summarizer = Summarizer()
    summarizer.summarize("Warm-up. The splitter model loads on first use.")
    # The baselines get their own splitter instance: nupunkt memoizes boundary decisions per
    # instance, and sharing ours would let them reuse the work ours just did on each article.
    baseline_splitter = SentenceSplitter()
    results = {name: MethodResult(name) for name in ("ours", "Lead-3")}
    sumy = sumy_methods() if with_sumy else {}
    results.update({name: MethodResult(name) for name in sumy})
    results["greedy oracle"] = MethodResult("greedy oracle", timed=False)
    ablations = {
        # Same rules, no word budget: always 3 sentences, like every other row.
        "ours, no word cap": Summarizer(SummarizeSettings(max_words=10_000)),
        # Position alone (plus the boilerplate, dateline and length filters and the budget).
        "ours, position only": Summarizer(
            SummarizeSettings(weights=ScoreWeights.model_validate(POSITION_ONLY))
        ),
    }
    results.update({name: MethodResult(name, timed=False) for name in ablations})

    for number, article in enumerate(articles, 1):
        started = time.perf_counter()
        ours = summarizer.summarize(article.text)
        record(results["ours"], scorer, ours, article, time.perf_counter() - started)

        started = time.perf_counter()
        sentences = baseline_splitter.split(article.text)
        split_time = time.perf_counter() - started
        record(results["Lead-3"], scorer, sentences[:SENTENCES], article, split_time)

        for name, method in sumy.items():
            started = time.perf_counter()
            chosen = method(sentences)
            elapsed = split_time + time.perf_counter() - started
            record(results[name], scorer, chosen, article, elapsed)

        oracle = greedy_oracle(scorer, sentences, article.reference)
        record(results["greedy oracle"], scorer, oracle, article, 0.0)
        for name, ablation in ablations.items():
            record(results[name], scorer, ablation.summarize(article.text), article, 0.0)
        if number % 250 == 0:
            print(f"  ... {number} articles", file=sys.stderr)
    return list(results.values())


def record(
    result: MethodResult, scorer: Any, summary: list[str], article: Article, elapsed: float
) -> None:
    result.scores.append(rouge(scorer, summary, article.reference))
    result.times.append(elapsed)
    result.words.append(sum(len(sentence.split()) for sentence in summary))


def mean(result: MethodResult, key: str, subset: slice = slice(None)) -> float:
    values = [score[key] for score in result.scores[subset]]
    return statistics.fmean(values) if values else float("nan")


def median_ms(result: MethodResult, subset: slice = slice(None)) -> float:
    return 1000 * statistics.median(result.times[subset])


def print_table(title: str, results: list[MethodResult], subset: slice = slice(None)) -> None:
    print(f"\n{title} (words: mean words per summary)")
    print(
        f"| {'method':<19} | {'R-1':>6} | {'R-2':>6} | {'R-Lsum':>6} | {'words':>5} "
        f"| {'median ms/article':>17} |"
    )
    print(f"|{'-' * 21}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 7}|{'-' * 19}|")
    for result in results:
        timing = f"{median_ms(result, subset):.2f}" if result.timed else "—"
        print(
            f"| {result.name:<19} | {mean(result, 'rouge1', subset):6.2f} "
            f"| {mean(result, 'rouge2', subset):6.2f} | {mean(result, 'rougeLsum', subset):6.2f} "
            f"| {statistics.fmean(result.words[subset]):5.1f} | {timing:>17} |"
        )


def print_verdicts(results: list[MethodResult]) -> bool:
    by_name = {result.name: result for result in results}
    ours, lead = by_name["ours"], by_name["Lead-3"]
    sumy = [result for name, result in by_name.items() if name.startswith("sumy")]
    checks: list[tuple[str, bool]] = []
    for key, label in (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2")):
        ours_value, lead_value = mean(ours, key), mean(lead, key)
        checks.append(
            (
                f"{label}: ours {ours_value:.2f} >= Lead-3 {lead_value:.2f} + 0.5",
                ours_value >= lead_value + 0.5,
            )
        )
        if sumy:
            best = max(sumy, key=lambda r: mean(r, key))
            checks.append(
                (
                    f"{label}: ours {ours_value:.2f} > best sumy ({best.name}) "
                    f"{mean(best, key):.2f}",
                    ours_value > mean(best, key),
                )
            )
    if "sumy LexRank" in by_name:
        lexrank_ms, ours_ms = median_ms(by_name["sumy LexRank"]), median_ms(ours)
        checks.append(
            (
                f"speed: ours {ours_ms:.2f} ms <= sumy LexRank {lexrank_ms:.2f} ms / 10 "
                f"({lexrank_ms / ours_ms:.1f}x faster)",
                ours_ms * 10 <= lexrank_ms,
            )
        )
    print()
    for text, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    return all(passed for _, passed in checks)


# -- sentence splitter comparison ----------------------------------------------------------------


def splitters() -> dict[str, Callable[[str], list[str]]]:
    import nupunkt
    import pysbd
    from syntok import segmenter

    raw_nupunkt = nupunkt.load("default")
    pysbd_segmenter = pysbd.Segmenter(language="en", clean=False)
    regex = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]*[A-Z0-9])")

    def syntok_split(text: str) -> list[str]:
        return [
            "".join(str(token) for token in sentence).strip()
            for paragraph in segmenter.analyze(text)
            for sentence in paragraph
        ]

    def regex_split(text: str) -> list[str]:
        return [piece.strip() for piece in regex.split(text) if piece.strip()]

    return {
        "ours (nupunkt+rules)": SentenceSplitter().split,
        "nupunkt default": lambda text: [s.strip() for s in raw_nupunkt.tokenize(text)],
        "pysbd": lambda text: [s.strip() for s in pysbd_segmenter.segment(text)],
        "syntok": syntok_split,
        "regex baseline": regex_split,
    }


def compare_splitters(articles: list[Article]) -> None:
    cases = json.loads(SPLIT_CASES.read_text(encoding="utf-8"))
    sample = articles[:200]
    print(f"\nSentence splitters: hard cases ({SPLIT_CASES.relative_to(REPO)}) and speed")
    print(f"(median ms per article over the first {len(sample)} articles; sentences found there)")
    print(f"| {'splitter':<20} | {'hard cases':>10} | {'median ms':>9} | {'sentences':>9} |")
    print(f"|{'-' * 22}|{'-' * 12}|{'-' * 11}|{'-' * 11}|")
    for name, split in splitters().items():
        correct = sum(split(case["text"]) == case["sentences"] for case in cases)
        split(sample[0].text)  # warm-up (model loading)
        times, count = [], 0
        for article in sample:
            started = time.perf_counter()
            count += len(split(article.text))
            times.append(time.perf_counter() - started)
        median = 1000 * statistics.median(times)
        print(f"| {name:<20} | {correct:>4} / {len(cases):<3} | {median:9.2f} | {count:>9} |")


def require_baselines(*, sumy: bool, splitters: bool) -> None:
    """Exit with the install command when a baseline library is missing, before any work."""
    needed = (
        ["rouge_score"] + (["sumy"] if sumy else []) + (["pysbd", "syntok"] if splitters else [])
    )
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"missing {', '.join(missing)}: run .venv/bin/pip install -e '.[bench]' "
            "(or pass --skip-sumy / --skip-splitters)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=0, help="first article (0-based)")
    parser.add_argument("--limit", type=int, default=None, help="number of articles")
    parser.add_argument("--skip-sumy", action="store_true", help="ours, Lead-3 and oracle only")
    parser.add_argument("--skip-splitters", action="store_true", help="no splitter comparison")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:  # three articles, ours, Lead-3 and the oracle: only what the tests install
        args.limit, args.skip_sumy, args.skip_splitters = 3, True, True
    require_baselines(sumy=not args.skip_sumy, splitters=not args.skip_splitters)

    articles = load_articles(args.start, args.limit)
    started = time.perf_counter()
    results = run_methods(articles, with_sumy=not args.skip_sumy)
    first, last = args.start, args.start + len(articles) - 1
    print_table(f"Articles {first}-{last} ({len(articles)}), 3 sentences each", results)
    if first < TUNING_END <= last:
        cut = TUNING_END - first
        print_table(f"Tuning slice: articles {first}-{TUNING_END - 1}", results, slice(None, cut))
        print_table(f"Held out: articles {TUNING_END}-{last}", results, slice(cut, None))
    print_verdicts(results)
    if not args.skip_splitters:
        compare_splitters(articles)
    print(f"\nTotal bench time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
