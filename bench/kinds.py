"""Story kinds on real coverage: do the articles of one event agree on its kind?

Run:  .venv/bin/python -m bench.kinds [--articles]

``../shared/corpus/stories/meta_ai_stories.jsonl`` holds 80 real articles in 21 hand-labelled
Meta-AI events. Each article is classified alone with the shipped ``[kinds]`` rules, and each
event as the story the bot makes of it (all its articles). Printed: each event's kind with
its scores, for a reader to judge; the share of articles whose own kind is their event's
kind (a subscription to one kind should see an event whichever outlet came first); the
share of events whose articles all agree; and, as the baseline, the share a constant kind
(the most frequent one) would give. ``--articles`` lists every article's kind.

Target (issue 23): at least 0.80 of articles agree with their event's kind.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from bench import SMOKE_HELP
from bot.stories.kinds import KindRules

ROOT = Path(__file__).resolve().parents[1]

STORIES = ROOT.parent / "shared" / "corpus" / "stories" / "meta_ai_stories.jsonl"
TARGET = 0.80


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", action="store_true", help="every article's kind")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    options = parser.parse_args()
    if not STORIES.exists():
        print(f"skipped: {STORIES} not found (the shared corpus sits beside the checkout)")
        return 0
    events: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in STORIES.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["relevant"]:
            events[record["story"]].append(record)
    rules = KindRules()
    agreeing = unanimous = total = 0
    story_kinds: Counter[str] = Counter()
    article_kinds: Counter[str] = Counter()
    for event, articles in sorted(events.items()):
        story = rules.story_kind((a["title"], a["text"]) for a in articles)
        alone = [rules.story_kind([(a["title"], a["text"])]).name for a in articles]
        story_kinds[story.name] += 1
        article_kinds.update(alone)
        agree = sum(kind == story.name for kind in alone)
        agreeing += agree
        unanimous += agree == len(alone)
        total += len(alone)
        print(f"{event[:34]:34} {story.describe()[:90]}")
        if options.articles or agree < len(alone):
            for article, kind in zip(articles, alone, strict=True):
                mark = " " if kind == story.name else "≠"
                print(f"   {mark} {kind:15} {article['title'][:60]}")
    share = agreeing / total
    constant = article_kinds.most_common(1)[0]
    print(f"\nstories by kind: {dict(story_kinds.most_common())}")
    print(f"articles agreeing with their event's kind: {agreeing}/{total} ({share:.3f})")
    print(f"events whose articles all agree: {unanimous}/{len(events)}")
    print(
        f"baseline: one constant kind ({constant[0]}) for every article: "
        f"{constant[1]}/{total} ({constant[1] / total:.3f})"
    )
    met = share >= TARGET
    print(f"target: agreement {share:.3f} >= {TARGET}: {'PASS' if met else 'FAIL'}")
    return 0 if met or options.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
