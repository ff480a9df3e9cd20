"""Story quality as the running bot meets it: the shared real set served as feeds, polled.

Run:  .venv/bin/python -m bench.realworld [--mode trickle|once|both] [--no-background]
      [--errors]

The 102 labelled articles of ``../shared/corpus/stories/meta_ai_stories.jsonl`` are laid out
as a week of outlets' feeds by the shared tool ``../shared/tools/realworld`` (events 8 hours
apart, each event's coverage spread over 20 hours, so neighbours overlap; near misses across
the week) and served on 127.0.0.1 beside the 61 real feed documents of
``../shared/corpus/feeds`` (a real install's other traffic). The shipped bot polls them
through its own poll cycle (``DigestBot.poll``, the code of ``meta-ai-digest poll``: fetch,
parse in worker processes, topic rules, store, group, summarize) and its digest
(``queue_digest``, the code of ``digest``), in one of two arrival orders:

- ``trickle``: the week revealed in 14 slices, oldest first, one forced poll per slice and a
  digest every second slice, as a daemon polling all week meets it;
- ``once``: everything at once, one poll, the digest drained, as a new install's first poll.

Each article's story is read back from the store (what ``explain`` prints). Printed against
the targets of issue 20 and the named baseline (exact-title grouping): topic precision,
article recall, pairwise grouping precision/recall, the merged and split events, summary
lines that are not sentences and (``once``) the share of events whose digest entry states
half their key facts. ``../shared/tools/realworld/run.sh`` measures the same through the
installed command in subprocesses (slower; its figures agree).

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import SMOKE_HELP

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOOL = SHARED / "tools" / "realworld"
STORIES = SHARED / "corpus" / "stories" / "meta_ai_stories.jsonl"
BACKGROUND = SHARED / "corpus" / "feeds"
SLICES = 14

TARGETS = {
    "topic precision": 0.97,
    "article recall": 0.95,
    "pairwise precision": 0.97,
    "pairwise recall": 0.92,
    "events with half their key facts": 0.90,
}
# Terminal punctuation, closing quotes or brackets allowed after it.
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass
class Outcome:
    """What one run measured."""

    mode: str
    background: bool
    figures: dict[str, float] = field(default_factory=dict)
    merged: list[tuple[str, str]] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    not_sentences: list[str] = field(default_factory=list)
    summary_lines: int = 0
    stories: int = 0
    events: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    # Digest entries (not updates) per event: one each is the goal.
    entries: dict[str, int] = field(default_factory=dict)


def load_world(directory: Path) -> dict[str, Any]:
    """The shared tool's week of feeds (its layout, its arrival times)."""
    target = directory / "world.json"
    script = TOOL / "stories_jsonl_to_world.py"
    subprocess.run(
        [sys.executable, str(script), str(STORIES), str(target)], check=True, capture_output=True
    )
    world: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return world


@functools.cache
def feedworld() -> Any:
    """The shared tool's RSS/Atom writers (imported, not copied)."""
    spec = importlib.util.spec_from_file_location("feedworld", TOOL / "feedworld.py")
    assert spec is not None and spec.loader is not None, TOOL
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_slice(
    world: dict[str, Any], feeds: Path, cut_hours: float, now: datetime, step: int
) -> int:
    """Write every outlet's feed with the items at least ``cut_hours`` old (as trickle.py).

    Each slice's files get a modification time a minute after the previous slice's: the
    server's Last-Modified has one-second resolution, and a slice written within the second
    of the previous poll would otherwise answer that poll's If-Modified-Since with a 304.
    """
    writer = feedworld()
    by_feed: dict[str, list[dict[str, Any]]] = {}
    for item in world["items"]:
        if item["age_hours"] >= cut_hours:
            when = now - timedelta(hours=item["age_hours"])
            by_feed.setdefault(item["feed"], []).append(dict(item, t=when))
    count = 0
    for name, feed in world["feeds"].items():
        items = sorted(by_feed.get(name, []), key=lambda i: i["t"], reverse=True)
        count += len(items)
        if not items:
            title, site = writer.escape(feed["title"]), writer.escape(feed["site"])
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>{title}</title><link>{site}</link><description>News</description>"
                "</channel></rss>"
            )
        elif feed["format"] == "atom":
            body = writer.atom(feed, items)
        else:
            body = writer.rss2(feed, items, snippet=feed["format"] == "rss2-snippet")
        path = feeds / f"{name}.xml"
        path.write_text(body, encoding="utf-8")
        stamp = now.timestamp() - 3600 + 60 * step
        os.utime(path, (stamp, stamp))
    return count


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""


@contextmanager
def serve(directory: Path) -> Iterator[int]:
    """A static file server on 127.0.0.1 for the feeds, stopped on exit."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def write_config(
    path: Path, world: dict[str, Any], port: int, database: Path, background: bool, extra: str
) -> None:
    lines = []
    for name, feed in world["feeds"].items():
        lines += ["[[feeds]]", f"name = {json.dumps(feed['title'])}"]
        lines += [f'url = "http://127.0.0.1:{port}/{name}.xml"', ""]
    if background:
        for document in sorted(BACKGROUND.iterdir()):
            if document.suffix in (".xml", ".json"):
                lines += ["[[feeds]]", f'name = "bg-{document.name}"']
                lines += [f'url = "http://127.0.0.1:{port}/bg-{document.name}"', ""]
    lines += ["[database]", f'url = "sqlite:///{database}"', ""]
    lines += ["[fetch]", "backfill_hours = 200", "allowed_private_hosts = []", "", extra]
    path.write_text("\n".join(lines), encoding="utf-8")


def run(mode: str, background: bool, keep: Path | None = None, extra: str = "") -> Outcome:
    """Serve the week, poll it as ``mode`` says, read every article's story back."""
    from bot.adapters.terminal import TerminalAdapter
    from bot.config import load_settings
    from bot.pipeline import DigestBot

    started = time.perf_counter()
    outcome = Outcome(mode, background)
    with tempfile.TemporaryDirectory(prefix="realworld-") as scratch:
        directory = keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        world = load_world(directory)
        feeds = directory / "feeds"
        feeds.mkdir()
        if background:
            for document in BACKGROUND.iterdir():
                if document.suffix in (".xml", ".json"):
                    (feeds / f"bg-{document.name}").write_bytes(document.read_bytes())
        now = datetime.now(UTC).replace(microsecond=0)
        oldest = max(item["age_hours"] for item in world["items"])
        with serve(feeds) as port:
            config = directory / "config.toml"
            write_config(config, world, port, directory / "bot.db", background, extra)
            # The terminal adapter, as `digest` with no chat platform: posting marks stories.
            sink = open(directory / "digests.txt", "w", encoding="utf-8")  # noqa: SIM115
            adapters = [TerminalAdapter("json", stream=sink)]
            bot = DigestBot.migrated(load_settings(config, env={}), adapters, env={})
            try:
                steps = range(1, SLICES + 1) if mode == "trickle" else [SLICES]
                for step in steps:
                    cut = oldest - (oldest + 0.01) * step / SLICES
                    write_slice(world, feeds, cut, now, step)
                    asyncio.run(bot.poll(force=True))
                    if mode == "once" or step % 2 == 0:
                        digests = drain(bot) if mode == "once" else [post(bot)]
                        collect_summaries(outcome, digests, world)
                read_back(outcome, bot, world)
            finally:
                bot.close()
                sink.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


def post(bot: Any) -> Any:
    """One digest, posted as `digest` posts it; returns what it held."""
    result = asyncio.run(bot.digests.post())
    return result.digest


def drain(bot: Any) -> list[Any]:
    """Every digest until nothing is pending (a first poll posts several)."""
    digests = []
    for _ in range(20):
        digest = post(bot)
        if not digest.stories:
            break
        digests.append(digest)
    return digests


def collect_summaries(outcome: Outcome, digests: list[Any], world: dict[str, Any]) -> None:
    """Summary lines that are not sentences; in ``once`` mode, key facts per event."""
    facts = {item["story"]: item.get("key_facts") or [] for item in world["items"]}
    by_link = {item["link"]: item["story"] for item in world["items"]}
    for digest in digests:
        for story in digest.stories:
            links = [story.url, *(source.url for source in story.sources)]
            if not story.new_sources:  # a new entry, not a "+N sources" update
                for event in {by_link[link] for link in links if link in by_link}:
                    outcome.entries[event] = outcome.entries.get(event, 0) + 1
            lines = list(story.summary or [])
            outcome.summary_lines += len(lines)
            outcome.not_sentences += [s for s in lines if not SENTENCE_END.search(s.strip())]
            if outcome.mode != "once":
                continue
            events = {by_link[link] for link in links if link in by_link}
            for event in events:
                patterns = facts.get(event) or []
                text = " ".join(lines)
                stated = sum(1 for p in patterns if re.search(p, text, re.IGNORECASE))
                if patterns:
                    key = f"facts:{event}"
                    best = outcome.figures.get(key, 0.0)
                    outcome.figures[key] = max(best, stated / len(patterns))
                    first = lines[0] if lines else ""
                    leads = any(re.search(p, first, re.IGNORECASE) for p in patterns)
                    lead_key = f"lead:{event}"
                    outcome.figures[lead_key] = max(outcome.figures.get(lead_key, 0.0), leads)


def read_back(outcome: Outcome, bot: Any, world: dict[str, Any]) -> None:
    """Each article's story, as `explain` reads it, and the figures."""
    from sqlalchemy import select

    from bot.store.schema import Item

    with bot.sessions() as session:
        rows = session.execute(select(Item.url, Item.kept, Item.story_id, Item.story_reason))
        stored = {url: (kept, story, reason) for url, kept, story, reason in rows}
    items = {item["id"]: item for item in world["items"]}
    story_of = {}
    for key, item in items.items():
        found = stored.get(item["link"])
        if found and found[0] and found[1] is not None:
            story_of[key] = found[1]
    relevant = [key for key in items if items[key]["relevant"]]
    kept = set(story_of)
    shown = sorted(key for key in relevant if key in kept)
    pairs = list(itertools.combinations(shown, 2))
    predicted = {p for p in pairs if story_of[p[0]] == story_of[p[1]]}
    true = {p for p in pairs if items[p[0]]["story"] == items[p[1]]["story"]}
    hits = len(predicted & true)
    figures = outcome.figures
    figures["topic precision"] = sum(items[k]["relevant"] for k in kept) / max(1, len(kept))
    figures["article recall"] = len(shown) / len(relevant)
    figures["pairwise precision"] = hits / max(1, len(predicted))
    figures["pairwise recall"] = hits / max(1, len(true))
    title_pred = {p for p in pairs if items[p[0]]["title"] == items[p[1]]["title"]}
    figures["exact-title recall"] = len(title_pred & true) / max(1, len(true))
    outcome.stories = len({story_of[k] for k in shown})
    outcome.events = len({items[k]["story"] for k in relevant})
    outcome.merged = sorted(
        {tuple(sorted((items[a]["story"], items[b]["story"]))) for a, b in predicted - true}  # type: ignore[misc]
    )
    outcome.split = sorted({items[a]["story"] for a, _b in true - predicted})
    fact_keys = [k for k in figures if k.startswith("facts:")]
    if fact_keys:
        half = sum(1 for k in fact_keys if figures[k] >= 0.5)
        figures["events with half their key facts"] = half / outcome.events
        lead_keys = [k for k in figures if k.startswith("lead:")]
        leading = sum(1 for k in lead_keys if figures[k])
        figures["events whose first line states a key fact"] = leading / outcome.events
    for key in sorted(items):
        item = items[key]
        found = stored.get(item["link"])
        label = f"{item['story'][:26]:26} {item['title'][:50]:50}"
        if found is None:
            outcome.errors.append(f"{label} not stored")
        else:
            outcome.errors.append(f"{found[1]!s:>4} {label} | {(found[2] or '')[:150]}")


def report(outcome: Outcome, show_errors: bool) -> bool:
    """Print one run's figures against the targets; True when all are met."""
    background = "beside the 61 real documents" if outcome.background else "no other feeds"
    print(f"\n== {outcome.mode}, {background} ({outcome.seconds:.1f} s) ==")
    ok = True
    for name, target in TARGETS.items():
        if name not in outcome.figures:
            continue
        value = outcome.figures[name]
        met = value >= target
        ok &= met
        print(f"  {name:34} {value:.3f}  target >= {target:.2f}  {'PASS' if met else 'FAIL'}")
    print(f"  {'baseline: exact-title recall':34} {outcome.figures['exact-title recall']:.3f}")
    lead = "events whose first line states a key fact"
    if lead in outcome.figures:
        missing = sorted(k[5:] for k, v in outcome.figures.items() if k[:5] == "lead:" and not v)
        print(f"  {lead}: {outcome.figures[lead]:.3f} (not: {missing})")
    print(f"  {outcome.stories} stories for {outcome.events} events")
    twice = sorted(event for event, count in outcome.entries.items() if count > 1)
    relevant = sum(1 for event in outcome.entries if not event.startswith("n-"))
    print(f"  digest entries: {sum(outcome.entries.values())} for {relevant} events posted;")
    print(f"  events posted as more than one new entry: {twice}")
    print(f"  merged: {outcome.merged}")
    print(f"  split: {outcome.split}")
    bad = len(outcome.not_sentences)
    print(f"  summary lines that are not sentences: {bad} of {outcome.summary_lines}")
    for line in outcome.not_sentences[:5]:
        print(f"    {line[:100]}")
    ok &= bad == 0
    if show_errors:
        print("\n".join(f"    {line}" for line in sorted(outcome.errors)))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["trickle", "once", "both"], default="both")
    parser.add_argument("--no-background", action="store_true")
    parser.add_argument("--errors", action="store_true", help="every article's story and why")
    parser.add_argument("--keep", type=Path, help="keep the feeds and the database here")
    parser.add_argument("--toml", default="", help="extra configuration, e.g. '[stories] ...'")
    parser.add_argument(
        "--smoke", action="store_true", help=SMOKE_HELP + "; one first poll, no background"
    )
    args = parser.parse_args()
    if args.smoke:
        args.mode, args.no_background = "once", True
    if not STORIES.exists():
        print(f"needs the shared corpus at {STORIES}")
        return 2
    modes = ["trickle", "once"] if args.mode == "both" else [args.mode]
    ok = True
    for mode in modes:
        keep = args.keep / mode if args.keep else None
        ok &= report(run(mode, not args.no_background, keep, args.toml), args.errors)
    return 0 if ok or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
