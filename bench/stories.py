"""Quality on real coverage: topic, grouping and summaries on ../shared/corpus.

Run:  .venv/bin/python -m bench.stories [--errors] [--feeds]

1. ``corpus/stories/meta_ai_stories.jsonl`` (80 real articles in 21 hand-labelled Meta-AI
   events and 22 near misses) is laid out as a week of feeds: one event every 8 hours, its
   articles 40 minutes apart, near misses in between. Each article goes through the shipped
   stages exactly as ``poll`` sends it: the topic rules, then the story index (match, else a
   new story), then the story summary of the digest. Printed: topic precision/recall;
   pairwise and B-cubed precision/recall of the grouping of the kept articles, as poll groups
   them (the targets), and as an extra row of all 102 articles (no topic filter, near misses
   as stories of their own) next to named baselines; the share of events whose digest summary
   states at least half of their ``key_facts``; and how many chosen sentences fall in each
   rejected class (detected here by the bench's own patterns, not the summarizer's).
2. The reference story (``corpus/seeds/``): both outlets' articles and a one-sentence
   aggregator item of the same scoop; one entry expected, and a summary stating at least 3 of
   its 5 facts.
3. With ``--feeds``: every entry of the 61 real documents of ``corpus/feeds/`` grouped with
   no topic filter (``topic = "all"``); every story with more than one article is listed
   with its titles, for a reader to judge that none mixes unrelated events.

Targets (issue 10) are printed with PASS/FAIL. Exit status 1 when any fails.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import SMOKE_HELP
from bench.cluster import cluster_with_index, pairwise
from bot.config import load_settings
from bot.feeds.http import FetchError
from bot.feeds.parser import parse_feed
from bot.stories.index import ArticleRef, StoryIndex
from bot.stories.representative import reading_order
from bot.stories.text import canonical_title
from bot.summarize.summarizer import ArticleText, Summarizer
from bot.topic.classifier import TopicClassifier

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "corpus"
STORIES = SHARED / "stories" / "meta_ai_stories.jsonl"
SEEDS = SHARED / "seeds"
FEEDS = SHARED / "feeds"
START = datetime(2025, 11, 3, 6, 0, tzinfo=UTC)

TARGETS = {
    "topic precision": 0.97,
    "topic recall": 0.95,
    "pairwise precision": 0.97,
    "pairwise recall": 0.92,
    "events with half their key facts": 0.90,
}

# The bench's own detectors of sentences a summary must never choose (issue 10). They are
# deliberately written apart from the summarizer's rules, so the count is an independent check.
REJECTED: dict[str, re.Pattern[str]] = {
    "first-person narration": re.compile(
        r"(?:^|[^\w\"“‘'])(?:I|I'm|I’m|I've|I’ve|I'll|I’ll|me|my|you|you'll|you’ll|your)\b(?![^\"“”]*[\"”])"
    ),
    "question": re.compile(r"\?[\"”’')\s]*$"),
    "figure of speech opener": re.compile(
        r"^(?:To say\b|Imagine\b|Picture this\b|Think of\b|It(?:'|’)s no secret\b)"
        r"|\bwould be like\b",
        re.IGNORECASE,
    ),
    "call to action": re.compile(
        r"\b(?:click here|read (?:more|the full)|subscribe|sign up|download (?:the|our)"
        r"|follow us|to read this article)\b",
        re.IGNORECASE,
    ),
    "byline or credit": re.compile(
        r"^(?:By|Written by|Reporting by|Editing by|Photo:|Image:|Credit:)\s+[A-Z]"
        r"|\((?:Photo|Image) (?:by|credit)",
    ),
    "submitted by": re.compile(r"\bsubmitted by\b", re.IGNORECASE),
    "cut off by a feed": re.compile(r"(?:…|\.\.\.|\[…\]|\[\.\.\.\])[\"”’')\s]*$"),
    "doubled full stop": re.compile(r"[^.]\.\.$|’\.\.$"),
}
# A connective or pronoun opening, or a demonstrative pointing back ("this approach", "these
# models"); a mid-sentence "that" is left out: it is mostly a relative pronoun ("a model that").
_LEANS_BACK = re.compile(
    r"^(?:But|And|So|Yet|However|Still|Also|Then|Thus|Therefore|He|She|It|They|His|Her|Its"
    r"|Their|This|That|These|Those)\b"
    r"|\b(?:this|these|those|such) (?!year|week|month|morning|afternoon|evening|weekend"
    r"|time|summer|spring|autumn|fall|winter|quarter|decade|century|is|was|will|has|had|would"
    r"|could|can|may|might|the|a|an|it|they|he|she|we|its|their|his|her)[a-z]+\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Record:
    id: str
    story: str
    relevant: bool
    title: str
    url: str
    text: str
    key_facts: tuple[str, ...]
    published: datetime
    outlet: str


def load_records() -> list[Record]:
    """The labelled articles, laid out as a week of feeds (events 8 hours apart)."""
    raw = [json.loads(line) for line in STORIES.read_text("utf-8").splitlines() if line.strip()]
    events = list(dict.fromkeys(r["story"] for r in raw if r["relevant"]))
    misses = [r["story"] for r in raw if not r["relevant"]]
    offset: dict[str, int] = Counter()
    records = []
    for row in raw:
        if row["relevant"]:
            slot = START + timedelta(hours=8 * events.index(row["story"]))
            when = slot + timedelta(minutes=40 * offset[row["story"]])
            offset[row["story"]] += 1
        else:
            when = START + timedelta(hours=8 * misses.index(row["story"]) + 3, minutes=17)
        records.append(
            Record(
                row["id"],
                row["story"],
                row["relevant"],
                row["title"],
                row["url"],
                row["text"],
                tuple(row["key_facts"]),
                when,
                row["outlet"],
            )
        )
    return sorted(records, key=lambda r: (r.published, r.id))


# ------------------------------------------------------------------ grouping
def group(articles: Sequence[ArticleRef], index: StoryIndex) -> dict[int, int]:
    """Group articles in order as the pipeline does (bench/cluster.py); key -> story id."""
    return cluster_with_index(articles, index.settings, index)[0]


def bcubed(predicted: dict[int, int], truth: dict[int, str]) -> tuple[float, float]:
    by_pred: dict[int, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for key in truth:
        by_pred[predicted[key]].add(key)
        by_true[truth[key]].add(key)
    precision = recall = 0.0
    for key in truth:
        both = len(by_pred[predicted[key]] & by_true[truth[key]])
        precision += both / len(by_pred[predicted[key]])
        recall += both / len(by_true[truth[key]])
    return precision / len(truth), recall / len(truth)


def by_key(articles: Sequence[ArticleRef], key: Callable[[ArticleRef], str]) -> dict[int, int]:
    ids: dict[str, int] = {}
    return {a.key: ids.setdefault(key(a), len(ids) + 1) for a in articles}


# ------------------------------------------------------------------ summaries
def rejected_classes(summary: Sequence[tuple[str, int, int]]) -> list[str]:
    """The rejected classes of each chosen sentence: (text, article number, sentence start)."""
    found = []
    for number, (sentence, article, start) in enumerate(summary):
        for name, pattern in REJECTED.items():
            if pattern.search(sentence):
                found.append(name)
        if _LEANS_BACK.search(sentence):
            before = summary[number - 1] if number else None
            follows = before is not None and before[1] == article and before[2] < start
            if not follows:
                found.append("leans on a sentence not chosen")
    return found


def locate(sentences: Sequence[str], texts: Sequence[str]) -> list[tuple[str, int, int]]:
    located = []
    for sentence in sentences:
        where = next(((n, t.find(sentence)) for n, t in enumerate(texts) if sentence in t), (-1, 0))
        located.append((sentence, where[0], where[1]))
    return located


def facts_stated(summary: str, facts: Sequence[str]) -> int:
    return sum(1 for fact in facts if re.search(fact, summary, re.IGNORECASE))


@dataclass
class Pipeline:
    classifier: TopicClassifier
    summarizer: Summarizer
    make_index: Callable[[], StoryIndex]
    aggregator_hosts: tuple[str, ...]

    def ordered(self, members: Sequence[ArticleRef]) -> list[ArticleRef]:
        """The story's articles in the order the pipeline hands them to the summarizer."""
        return reading_order(members, self.aggregator_hosts)

    def summary_of(self, members: Sequence[ArticleRef]) -> list[str]:
        texts = [ArticleText(a.title, a.text) for a in self.ordered(members) if a.text]
        return self.summarizer.summarize_story(texts)


def make_pipeline() -> Pipeline:
    settings = load_settings(None, env={})
    classifier = TopicClassifier(settings.topic)
    return Pipeline(
        classifier,
        Summarizer(settings.summarize, topic_terms=classifier.terms()),
        lambda: StoryIndex(settings.stories, common_terms=classifier.common_terms()),
        tuple(settings.stories.aggregator_hosts),
    )


def ref(key: int, title: str, text: str, url: str, published: datetime, source: str) -> ArticleRef:
    return ArticleRef(key, title, text, url, published, source)


def run_labelled(pipe: Pipeline, show_errors: bool) -> dict[str, float]:
    records = load_records()
    refs = [ref(n, r.title, r.text, r.url, r.published, r.outlet) for n, r in enumerate(records)]
    by_ref = {a.key: r for a, r in zip(refs, records, strict=True)}
    figures: dict[str, float] = {}

    # Topic.
    kept = {a.key for a in refs if pipe.classifier.classify(a.title, a.text).keep}
    relevant = {a.key for a in refs if by_ref[a.key].relevant}
    tp = len(kept & relevant)
    figures["topic precision"] = tp / len(kept) if kept else 1.0
    figures["topic recall"] = tp / len(relevant)
    print(
        f"articles: {len(records)} ({len(relevant)} relevant in "
        f"{len({r.story for r in records if r.relevant})} events, "
        f"{len(records) - len(relevant)} near misses), laid out over a week"
    )
    print(
        f"topic: precision {figures['topic precision']:.3f}  recall {figures['topic recall']:.3f}"
        f"  (kept {len(kept)})"
    )
    if show_errors:
        for a in refs:
            if (a.key in kept) != (a.key in relevant):
                verdict = "FP" if a.key in kept else "FN"
                print(f"   topic {verdict}: {by_ref[a.key].id}: {a.title[:80]}")

    # Grouping as poll does it: only the articles the topic rules keep reach the index.
    # The same over every article (no topic filter, near misses as stories of their own)
    # is a harder extra row: near misses of one theme (two rulings, two headsets) meet.
    truth = {a.key: by_ref[a.key].story for a in refs}
    kept_refs = [a for a in refs if a.key in kept]
    predicted_kept = group(kept_refs, pipe.make_index())
    predicted = group(refs, pipe.make_index())
    methods = {
        "story index, kept articles (as poll)": predicted_kept,
        "story index, every article (extra)": predicted,
        "baseline: exact canonical title": by_key(
            refs, lambda a: canonical_title(a.title, a.url).casefold()
        ),
        "baseline: same URL only": by_key(refs, lambda a: a.url),
    }
    print(f"{'grouping':<38}{'pair P':>8}{'pair R':>8}{'B3 P':>8}{'B3 R':>8}{'stories':>9}")
    for name, clusters in methods.items():
        judged = {k: v for k, v in truth.items() if k in clusters}
        p, r, _f1 = pairwise(clusters, judged)
        bp, br = bcubed(clusters, judged)
        stories = len({clusters[k] for k in relevant if k in clusters})
        print(f"{name:<38}{p:>8.3f}{r:>8.3f}{bp:>8.3f}{br:>8.3f}{stories:>9}")
        if clusters is predicted_kept:
            figures["pairwise precision"], figures["pairwise recall"] = p, r
    if show_errors:
        print_grouping_errors(kept_refs, predicted_kept, truth)
        print("   extra row (every article):")
        print_grouping_errors(refs, predicted, truth)

    # Summaries: the digest entry holding most of each event's articles.
    members: dict[int, list[ArticleRef]] = defaultdict(list)
    for a in kept_refs:
        members[predicted_kept[a.key]].append(a)
    events = sorted({r.story for r in records if r.relevant})
    good = 0
    classes: Counter[str] = Counter()
    for event in events:
        keys = [a.key for a in kept_refs if truth[a.key] == event]
        if not keys:
            continue  # the topic rules dropped the whole event: counted as not stated
        story = Counter(predicted_kept[k] for k in keys).most_common(1)[0][0]
        chosen = pipe.summary_of(members[story])
        facts = by_ref[keys[0]].key_facts
        stated = facts_stated(" ".join(chosen), facts)
        good += stated * 2 >= len(facts)
        texts = [a.text for a in pipe.ordered(members[story])]
        found = rejected_classes(locate(chosen, texts))
        classes.update(found)
        if show_errors and (stated * 2 < len(facts) or found):
            print(f"   summary of {event}: {stated}/{len(facts)} facts {found or ''}")
            for sentence in chosen:
                print(f"      - {sentence}")
    figures["events with half their key facts"] = good / len(events)
    print(
        f"summaries: {good}/{len(events)} events state at least half their key facts "
        f"({good / len(events):.2f})"
    )
    print_classes(classes)
    figures["rejected sentences"] = sum(classes.values())
    return figures


def print_classes(classes: Counter[str]) -> None:
    names = [*REJECTED, "leans on a sentence not chosen"]
    print(
        "chosen sentences in a rejected class: "
        + ", ".join(f"{name} {classes[name]}" for name in names)
    )


def print_grouping_errors(
    refs: Sequence[ArticleRef], predicted: dict[int, int], truth: dict[int, str]
) -> None:
    by_pred: dict[int, list[ArticleRef]] = defaultdict(list)
    for a in refs:
        by_pred[predicted[a.key]].append(a)
    for members in by_pred.values():
        if len({truth[a.key] for a in members}) > 1:
            print(
                "   over-merged: " + " | ".join(f"[{truth[a.key]}] {a.title[:50]}" for a in members)
            )
    for story in sorted(set(truth.values())):
        parts = {predicted[a.key] for a in refs if truth[a.key] == story}
        if len(parts) > 1:
            print(f"   split: {story} into {len(parts)}")
            for a in refs:
                if truth[a.key] == story:
                    print(f"      ({predicted[a.key]}) {a.title[:90]}")


# ------------------------------------------------------------------ reference story
SEED_FACTS = {
    "open-source plan": r"open[- ]source",
    "proprietary parts for safety": r"proprietary",
    "Wang": r"\bWang\b",
    "Axios": r"\bAxios\b",
    "$600 billion": r"\$600 billion",
}


def seed_articles() -> list[ArticleRef]:
    """The two outlets' articles and an aggregator's one-line item of the same scoop."""
    when = START + timedelta(days=9)
    return [
        ref(
            1,
            "Meta's half-open bet: what going open source means for builders",
            (SEEDS / "article_a.txt").read_text("utf-8"),
            "https://column.example/meta-open-source-bet",
            when,
            "Column",
        ),
        ref(
            2,
            "Meta reportedly plans to open-source its next AI models",
            (SEEDS / "article_b.txt").read_text("utf-8"),
            "https://news.example/meta-open-source-models",
            when + timedelta(hours=2),
            "News",
        ),
        ref(
            3,
            "Meta to make its next AI models open source, Axios reports - Axios",
            "Meta to make its next AI models open source, Axios reports.",
            "https://news.google.com/rss/articles/CBMiexample",
            when + timedelta(hours=3),
            "Google News",
        ),
    ]


def run_seed(pipe: Pipeline) -> tuple[bool, int]:
    """The scoop arrives at a bot that has run for a week: the labelled set is its store."""
    articles = seed_articles()
    index = pipe.make_index()
    for number, record in enumerate(load_records()):
        index.observe(-1 - number, record.title, record.text)
    predicted = group(articles, index)
    entries = len(set(predicted.values()))
    summary = pipe.summary_of(articles) if entries == 1 else []
    joined = " ".join(summary)
    stated = [name for name, pattern in SEED_FACTS.items() if re.search(pattern, joined)]
    print(
        f"reference story: {entries} entr{'y' if entries == 1 else 'ies'}; "
        f"summary states {len(stated)}/5 facts ({', '.join(stated)})"
    )
    for sentence in summary:
        print(f"   - {sentence}")
    texts = [a.text for a in pipe.ordered(articles)]
    classes = rejected_classes(locate(summary, texts))
    if classes:
        print(f"   rejected classes chosen: {classes}")
    return entries == 1 and len(stated) >= 3, len(classes)


# ------------------------------------------------------------------ the 61 real feeds
def run_feeds(pipe: Pipeline) -> None:
    refs: list[ArticleRef] = []
    fallback = datetime(2025, 6, 1, tzinfo=UTC)
    for path in sorted(FEEDS.iterdir()):
        if path.name == "SOURCES.md":
            continue
        try:
            parsed = parse_feed(path.read_bytes())
        except FetchError as error:
            print(f"   {path.name}: {error}")
            continue
        for entry in parsed.entries:
            refs.append(
                ref(
                    len(refs),
                    entry.title,
                    entry.text,
                    entry.link or "",
                    entry.published or fallback,
                    path.stem,
                )
            )
    refs.sort(key=lambda a: (a.published, a.key))
    predicted = group(refs, pipe.make_index())
    members: dict[int, list[ArticleRef]] = defaultdict(list)
    for a in refs:
        members[predicted[a.key]].append(a)
    multi = [m for m in members.values() if len(m) > 1]
    sources = sum(1 for m in multi if len({a.source for a in m}) > 1)
    print(
        f'\n61 real feeds, topic = "all": {len(refs)} entries, {len(members)} stories, '
        f"{len(multi)} with more than one article ({sources} from more than one feed)"
    )
    for story in multi:
        print(f"  story of {len(story)}:")
        for a in story:
            print(f"     {a.source[:28]:<28} {a.title[:90]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="print each miss")
    parser.add_argument(
        "--feeds", action="store_true", help="list multi-article stories of 61 feeds"
    )
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if not STORIES.exists():
        print(f"skipped: {STORIES} is not here (the shared corpus sits beside the checkout)")
        return 0
    pipe = make_pipeline()
    figures = run_labelled(pipe, args.errors)
    seed_ok, seed_rejected = run_seed(pipe)
    ok = seed_ok and seed_rejected == 0 and figures["rejected sentences"] == 0
    print("targets:")
    for name, target in TARGETS.items():
        passed = figures[name] >= target
        ok = ok and passed
        print(f"   {name} {figures[name]:.3f} >= {target}: {'PASS' if passed else 'FAIL'}")
    print(
        f"   no rejected-class sentence chosen: "
        f"{'PASS' if figures['rejected sentences'] + seed_rejected == 0 else 'FAIL'}"
    )
    print(f"   reference story one entry with >= 3 facts: {'PASS' if seed_ok else 'FAIL'}")
    if args.feeds:
        run_feeds(pipe)
    return 0 if ok or args.smoke else 1


if __name__ == "__main__":
    raise SystemExit(main())
