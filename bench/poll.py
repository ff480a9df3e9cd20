"""Polling speed: the bot's poll against the naive feedparser loop, cold and warm, in one run.

    .venv/bin/python -m bench.poll [--feeds 1000 5000] [--origins 20] [--naive-feeds 1000]
    .venv/bin/python -m bench.poll --parse-only   # the parse figures alone, in seconds

It first parses the 61 documents in process and prints the parse median per document (the
fast parser with feedparser as its fallback, and feedparser alone) and the fallback rate.

A server process answers on ``--origins`` local ports (20 origins); feed URL number i is
served the i-th of the 61 real documents of ../shared/corpus/feeds (cycled), with
Last-Modified and ETag, and answers If-Modified-Since / If-None-Match with 304.

For each size it prints, each measured as a whole process:

- the naive loop ``for url in urls: feedparser.parse(url)``, sequential (only at
  ``--naive-feeds`` feeds: it is the slow baseline);
- ``meta-ai-digest poll --force`` on a fresh SQLite database (cold: every document new);
- the same again (warm: every document unchanged, the server answers 304);
- one warm cycle of the running bot: ``meta-ai-digest run`` started on that warm database,
  timed by the INFO lines its first poll cycle logs, then stopped with SIGTERM;
- the import floor: a bare ``python -c "import sqlalchemy.orm, aiohttp, ..."``;

with wall time, CPU time (user + system, the command and its worker processes) and peak
memory (the command's largest process, from its own high-water mark). Targets (issue 25): cold
>= 6x faster than the naive loop, the warm command >= 20x and the running bot's warm cycle
>= 50x faster, peak <= 400 MB at 1,000 feeds, and time per feed flat from 1,000 to 5,000
feeds (within 25%).

Then the split of a cold cycle: the same cold poll replayed in one process, one stage after
another, each timed alone (fetch, parse, clean, rules, store; see :func:`split_cycle`), so
the largest cost of a cycle is named by a figure, not guessed.

Why the last two rows: the one-shot ``poll`` pays the libraries' import (about a second on a
slow machine) on every run, which alone is close to the naive loop's time / 50. The bot in
production is the daemon, which pays it once: its cycle is timed from its own log (fetch and
store, article pages, grouping and summarizing), start-up excluded, and the import floor shows
how much of the warm command is start-up. The running bot's CPU and peak are read from /proc
(Linux; blank elsewhere): CPU from its "running" line to the cycle's end, peak since start.

The daemon polls only the feeds that are due, and four of the documents carry a ``<ttl>``
(10 to 60 minutes) that a 304 keeps in force; the bench's config caps publisher floors
(``max_publisher_interval_minutes``) at under a second so that every feed is due again and the
cycle is a real warm poll of all of them (``--force`` runs ignore the schedule either way).
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from bench import SMOKE_HELP
from tests.harness import BOT_COMMAND, BotProcess, clean_env, eventually, run_bot

ROOT = Path(__file__).resolve().parents[1]
MODULE = "bench.poll"  # its own children run as `python -m bench.poll` from ROOT
FEEDS_DIR = ROOT.parent / "shared" / "corpus" / "feeds"
COMMAND = Path(BOT_COMMAND[0])
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)
# The rows that measure the bot (the others are baselines).
BOT_ROWS = ("bot cold", "bot warm", "bot warm, running")
# Targets of issue 25: cold >= 6x, the warm command >= 20x, the running bot's warm cycle >= 50x.
COLD_FACTOR, WARM_COMMAND_FACTOR, WARM_FACTOR, PEAK_MB, FLATNESS = 6.0, 20.0, 50.0, 400.0, 1.25
# What the command imports before it does anything: the start-up every one-shot run pays.
IMPORT_FLOOR = "import sqlalchemy.orm, aiohttp, pydantic, typer, rich"
# The running bot's log (bot/scheduler.py, bot/services/ingest.py, bot/pipeline.py).
RUNNING = "meta-ai-digest running:"
FETCHED = re.compile(
    r"bot\.services\.ingest: poll: (\d+) feeds fetched and stored in ([\d.]+) s, "
    r"article pages in ([\d.]+) s"
)
GROUPED = re.compile(r"bot\.pipeline: poll: \d+ kept items grouped and summarized in ([\d.]+) s")
CYCLE_FAILED = "poll cycle failed"
FIRST_CYCLE_TIMEOUT, STOP_TIMEOUT = 120.0, 60.0


# --------------------------------------------------------------------------- parse
def parse_figures(repeats: int = 5) -> None:
    """The parse of each of the 61 documents in this process, as a poll's worker parses it
    (``parse_feed(defer_text=True)`` with the headers a poll passes: the feed's URL as
    Content-Location, the base of relative links and ids, and the server's Content-Type),
    and with the fast path off (feedparser alone): the median over the documents of each
    one's best of ``repeats``; and the fallback rate, the documents the fast parser
    (bot/feeds/fastpath.py) leaves to feedparser."""
    from bot.feeds.fastpath import parse_fast
    from bot.feeds.parser import looks_like_json, parse_feed, parse_xml_feed

    def best(parse: Callable[[bytes], object], body: bytes) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            parse(body)
            times.append(time.perf_counter() - started)
        return min(times)

    fast_ms: list[float] = []
    slow_ms: list[float] = []
    json_documents = fallbacks = 0
    for number, (kind, body) in enumerate(documents()):
        headers = {"content-location": f"http://127.0.0.1:8080/feed/{number}", "content-type": kind}

        def worker_parse(body: bytes, headers: dict[str, str] = headers) -> object:
            return parse_feed(body, headers, defer_text=True)

        def feedparser_parse(body: bytes, headers: dict[str, str] = headers) -> object:
            return parse_xml_feed(body, headers, fast=False)

        fast_ms.append(1000 * best(worker_parse, body))
        if looks_like_json(body):
            json_documents += 1
            slow_ms.append(fast_ms[-1])
            continue
        if parse_fast(body.lstrip(b" \t\r\n"), headers) is None:
            fallbacks += 1
        slow_ms.append(1000 * best(feedparser_parse, body))
    count = len(fast_ms)
    print(
        f"parse of the {count} documents (defer_text, best of {repeats}): median "
        f"{statistics.median(fast_ms):.2f} ms per document, mean {statistics.mean(fast_ms):.2f} ms"
        f" (feedparser alone: median {statistics.median(slow_ms):.2f} ms, mean "
        f"{statistics.mean(slow_ms):.2f} ms)"
    )
    xml = count - json_documents
    print(
        f"fallback to feedparser: {fallbacks} of {count} documents ({100 * fallbacks / count:.0f}%;"
        f" {fallbacks} of the {xml} RSS/Atom/RDF ones; the {json_documents} JSON Feeds have"
        " their own parser)"
    )


# --------------------------------------------------------------------------- server
def documents() -> list[tuple[str, bytes]]:
    """The 61 real feed documents, with the content type their extension implies."""
    found = []
    for path in sorted(FEEDS_DIR.iterdir()):
        if path.suffix in (".xml", ".json", ".rss", ".atom", ".rdf"):
            kind = "application/feed+json" if path.suffix == ".json" else "application/xml"
            found.append((kind, path.read_bytes()))
    return found


def serve(origins: int) -> None:
    """Child process: /feed/N answers document N mod 61, with validators and 304s."""
    from aiohttp import web

    docs = documents()
    tags = [f'"{hashlib.sha256(body).hexdigest()[:16]}"' for _, body in docs]

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["number"]) % len(docs)
        headers = {"Last-Modified": LAST_MODIFIED, "ETag": tags[number]}
        if (
            request.headers.get("If-None-Match") == tags[number]
            or request.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            return web.Response(status=304, headers=headers)
        kind, body = docs[number]
        return web.Response(body=body, content_type=kind, headers=headers)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{number}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for _ in range(origins):
            await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        ports = [address[1] for address in runner.addresses]
        print(json.dumps(ports), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


class Server:
    def __init__(self, origins: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--serve", str(origins)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.ports: list[int] = json.loads(self.process.stdout.readline())

    def urls(self, count: int) -> list[str]:
        return [
            f"http://127.0.0.1:{self.ports[n % len(self.ports)]}/feed/{n}" for n in range(count)
        ]

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# ---------------------------------------------------------------------------- runs
@dataclass
class Run:
    wall: float
    cpu: float | None
    peak_mb: float | None
    detail: str = ""


# A small launcher reaps the measured command itself: a child forked from this process would
# inherit its memory high-water mark. It reports wall time, the CPU time of the command and
# all its descendants, and the peak RSS of its largest process. The worker processes are not
# the command's children but its fork server's, and nobody waits for the fork server, so
# their CPU time would be lost: on Linux the launcher makes itself the subreaper of the
# command's descendants and waits for every one of them (the fork server leaves when the
# command does) before it reads its children's usage.
LAUNCHER = """
import ctypes, json, os, resource, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
if sys.platform == "linux":
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
started = time.perf_counter()
child = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = child.communicate()
wall = time.perf_counter() - started
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([child.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  out.decode(errors="replace")[-3000:], err.decode(errors="replace")[-3000:]]))
"""


def measure(argv: list[str], env: dict[str, str]) -> tuple[Run, str]:
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(argv)], env=env, capture_output=True, cwd=ROOT
    )
    code, wall, cpu, peak, out, err = json.loads(launched.stdout)
    if code:
        sys.exit(f"{' '.join(argv[:3])} exited {code}:\n{err}")
    return Run(wall, cpu, peak), out


def naive_loop(urls_file: str) -> None:
    """Child process: the naive loop, as a user of feedparser would write it."""
    import feedparser

    entries = 0
    for url in Path(urls_file).read_text().split():
        entries += len(feedparser.parse(url).entries)
    print(entries)


def poll_config(directory: Path, urls: list[str]) -> Path:
    # A publisher floor (<ttl>) of at most 0.6 s: every feed is due again when the running bot
    # starts, so its first cycle polls all of them (see the module docstring). The database
    # comes from DATABASE_URL.
    from tests.helpers import write_config  # here: the measured children import no test code

    feeds = [(f"feed {number}", url) for number, url in enumerate(urls)]
    fetch = "[fetch]\ntotal_timeout_seconds = 60\nmax_publisher_interval_minutes = 0.01\n"
    return write_config(directory / "feeds.toml", feeds, None, fetch)


def poll_counts(output: str) -> str:
    """The poll's closing line: how many new items and stories it stored."""
    lines = [line for line in output.splitlines() if "new items" in line]
    return lines[-1].strip() if lines else ""


def run_size(
    server: Server, count: int, with_naive: bool, smoke: bool = False
) -> tuple[dict[str, Run], dict[str, float]]:
    """Every measure at ``count`` feeds; a smoke run only once each kind of process."""
    urls = server.urls(count)
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        urls_file = directory / "urls.txt"
        urls_file.write_text("\n".join(urls))
        if with_naive:
            runs["naive loop"], entries = measure(
                [sys.executable, "-m", MODULE, "--naive", str(urls_file)], dict(os.environ)
            )
            runs["naive loop"].detail = f"{entries.strip()} entries parsed"
        env = clean_env(
            {
                "DATABASE_URL": f"sqlite:///{directory / 'bot.db'}",
                "META_AI_DIGEST_CONFIG": str(poll_config(directory, urls)),
            }
        )
        run_bot(["migrate"], env=env, inherit=False).check_returncode()
        for label in ("bot cold",) if smoke else ("bot cold", "bot warm"):
            runs[label], output = measure([str(COMMAND), "poll", "--force"], env)
            runs[label].detail = poll_counts(output)
        runs["bot warm, running"] = running_cycle(env, count)
        if not smoke:
            runs["import floor"], _ = measure([sys.executable, "-c", IMPORT_FLOOR], env)
            runs["import floor"].detail = IMPORT_FLOOR
        env["DATABASE_URL"] = f"sqlite:///{directory / 'split.db'}"
        split = subprocess.run(
            [sys.executable, "-m", MODULE, "--split", str(count)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if split.returncode:
            sys.exit(f"the split of a cold cycle failed:\n{split.stderr[-3000:]}")
        spent: dict[str, float] = json.loads(split.stdout.splitlines()[-1])
    return runs, spent


# ---------------------------------------------------------------------------- split
SPLIT_STAGES = ("fetch", "parse", "clean", "rules", "store")


def split_cycle(count: int) -> None:
    """Child process: a cold cycle of the configured feeds, one stage after another in
    one process, each stage's CPU time (user + system) measured alone, so that the
    figures hold on a machine shared with others; prints them as JSON.

    fetch: every document downloaded as the poll does (HttpFetcher, its concurrency:
    the client's CPU, not the local server's); parse: ``parse_feed(defer_text=True)`` on
    each body, as a worker parses it; clean and rules: ``finish_entry`` and the topic
    rules on the new entries, as a worker prepares them; store: the rest of
    ``IngestService.store_batch`` (recognising stored entries, health, the items' rows,
    one transaction per batch of 50)."""
    import bot.services.entries as entries_module
    from bot.config import load_settings
    from bot.feeds.http import HttpFetcher, response_headers_for_parser
    from bot.feeds.parser import parse_feed
    from bot.feeds.records import FeedOutcome
    from bot.pipeline import DigestBot
    from bot.services.ingest import STORE_BATCH
    from bot.topic.classifier import TopicClassifier

    spent = dict.fromkeys(SPLIT_STAGES, 0.0)

    def timed(stage: str, function: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] += time.process_time() - started

        return wrapper

    settings = load_settings()
    digest_bot = DigestBot.migrated(settings)
    ingest = digest_bot.ingest
    tasks, _ = ingest.feeds_to_poll(True)
    assert len(tasks) == count, (len(tasks), count)

    async def fetch_all() -> list[object]:
        async with HttpFetcher(settings.fetch) as fetcher:
            return await asyncio.gather(
                *(fetcher.fetch(task.url, task.validators, trusted=task.trusted) for task in tasks)
            )

    started = time.process_time()
    results = asyncio.run(fetch_all())
    spent["fetch"] = time.process_time() - started
    entries_module.finish_entry = timed("clean", entries_module.finish_entry)  # type: ignore[assignment]
    TopicClassifier.classify = timed("rules", TopicClassifier.classify)  # type: ignore[method-assign]
    ingest._classifier()  # the rule set built before the store is timed, as in a worker
    # Batch by batch, as the poll holds them: parsed documents of one batch at a time.
    for first in range(0, len(tasks), STORE_BATCH):
        outcomes = []
        for task, result in zip(
            tasks[first : first + STORE_BATCH], results[first : first + STORE_BATCH], strict=True
        ):
            started = time.process_time()
            parsed = parse_feed(
                result.body,  # type: ignore[attr-defined]
                response_headers_for_parser(result),  # type: ignore[arg-type]
                max_expanded_bytes=settings.fetch.max_body_bytes,
                defer_text=True,
            )
            spent["parse"] += time.process_time() - started
            outcomes.append(FeedOutcome(name=task.name, url=task.url, parsed=parsed))
        started = time.process_time()
        ingest.store_batch(outcomes, None)
        spent["store"] += time.process_time() - started
    spent["store"] -= spent["clean"] + spent["rules"]
    print(json.dumps(spent))


def print_split(spent: dict[str, float], count: int) -> None:
    total = sum(spent.values())
    parts = ", ".join(
        f"{stage} {spent[stage]:.2f} s ({100 * spent[stage] / total:.0f}%)"
        for stage in SPLIT_STAGES
    )
    print(f"  split of a cold cycle, CPU seconds of each stage alone: {parts}")
    print(
        f"  ({total:.2f} CPU s in all, {total * 1000 / count:.2f} ms per feed; in the poll,"
        " parse, clean and rules run in the worker processes, beside the fetch and the store)"
    )


# ------------------------------------------------------------------ the running bot
def running_cycle(env: dict[str, str], count: int) -> Run:
    """Start ``meta-ai-digest run``, time its first poll cycle from its own log, stop it.

    In its own session: the bench's Ctrl-C reaches only the bench, which then stops the bot,
    and a bot that will not stop is killed with anything it started.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out, err = Path(scratch) / "run.out", Path(scratch) / "run.err"
        run = ["run", "--log-level", "INFO"]
        with BotProcess(run, log=out, stderr_log=err, env=env, inherit=False) as bot:
            try:
                return first_cycle(bot, count)
            finally:
                stop(bot)


def first_cycle(bot: BotProcess, count: int) -> Run:
    """Read the bot's log until its first cycle's two closing lines; the cycle's time is the
    sum of their figures (fetch and store, article pages, grouping and summarizing)."""
    deadline = time.monotonic() + FIRST_CYCLE_TIMEOUT
    seen: list[str] = []
    began: float | None = None
    began_usage: tuple[float, float] | None = None
    fetched: re.Match[str] | None = None
    while True:
        line = next_line(bot, deadline, seen)
        if RUNNING in line:
            began, began_usage = time.monotonic(), proc_usage(bot.pid)
        elif CYCLE_FAILED in line:
            fail("the running bot's first cycle failed", seen)
        elif match := FETCHED.search(line):
            fetched = match
        elif fetched and (grouped := GROUPED.search(line)):
            break
    usage = proc_usage(bot.pid)
    polled = int(fetched.group(1))
    if polled != count:
        fail(f"the running bot's first cycle polled {polled} of {count} feeds (not due?)", seen)
    wall = float(fetched.group(2)) + float(fetched.group(3)) + float(grouped.group(1))
    detail = f"one cycle of the running bot (start-up excluded), {polled:,} feeds"
    if began is not None:
        since = time.monotonic() - began
        detail += f"; {since:.2f} s from its 'running' line, first-cycle imports included"
    if began_usage is None or usage is None:
        return Run(wall, None, None, detail)
    return Run(wall, usage[0] - began_usage[0], usage[1], detail)


def next_line(bot: BotProcess, deadline: float, seen: list[str]) -> str:
    """The bot's next complete log line; the bench fails, never hangs, if none comes in time."""

    def written() -> str:
        lines = bot.errors().splitlines(keepends=True)
        if len(lines) > len(seen) and lines[len(seen)].endswith("\n"):
            return lines[len(seen)]
        if not bot.running():
            fail("the running bot exited before its first poll cycle ended", seen)
        return ""  # no new complete line yet

    try:
        line = eventually(written, max(0.0, deadline - time.monotonic()), interval=0.01)
    except AssertionError:
        fail(
            f"no first poll cycle in the running bot's log within {FIRST_CYCLE_TIMEOUT:.0f} s", seen
        )
    seen.append(line)
    return line


def fail(reason: str, seen: list[str]) -> NoReturn:
    tail = "".join(seen[-20:])
    sys.exit(f"{reason}; the last lines of its log:\n{tail}")


def proc_usage(pid: int) -> tuple[float, float] | None:
    """CPU seconds (user + system) and peak RSS in MB of a live process, from /proc (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    peak_kb = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0
    )
    return cpu, peak_kb / 1024


def stop(bot: BotProcess) -> None:
    """SIGTERM, as a service manager stops it; killed with its whole session if it lingers."""
    try:
        if bot.running():
            bot.stop(signal.SIGTERM, timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"  (the running bot ignored SIGTERM for {STOP_TIMEOUT:.0f} s: killed)")
    bot.close()


def print_size(count: int, runs: dict[str, Run]) -> None:
    print(f"\n{count:,} feeds")
    print(f"  {'':17} {'wall s':>8} {'ms/feed':>8} {'CPU s':>8} {'peak MB':>8}")
    for label, run in runs.items():
        print(
            f"  {label:17} {run.wall:8.2f} {run.wall * 1000 / count:8.2f} {cell(run.cpu, '.2f')} "
            f"{cell(run.peak_mb, '.1f')}  {run.detail}"
        )


def cell(value: float | None, spec: str) -> str:
    """A table figure, blank when it was not measured."""
    return f"{'':8}" if value is None else f"{value:8{spec}}"


def verdicts(results: dict[int, dict[str, Run]], naive_at: int) -> bool:
    checks: list[tuple[str, bool]] = []
    if naive_at in results and "naive loop" in results[naive_at]:
        at = results[naive_at]
        naive = at["naive loop"].wall
        cold, warm = at["bot cold"].wall, at["bot warm"].wall
        checks.append(
            (
                f"cold {naive / cold:.1f}x faster than naive (>= {COLD_FACTOR}x)",
                naive >= COLD_FACTOR * cold,
            )
        )
        checks.append(
            (
                f"warm poll command {naive / warm:.1f}x faster than naive "
                f"(>= {WARM_COMMAND_FACTOR}x)",
                naive >= WARM_COMMAND_FACTOR * warm,
            )
        )
        cycle = at["bot warm, running"].wall
        checks.append(
            (
                f"warm cycle of the running bot {naive / cycle:.1f}x faster than naive "
                f"(>= {WARM_FACTOR}x)",
                naive >= WARM_FACTOR * cycle,
            )
        )
        peak = max(at[label].peak_mb or 0.0 for label in BOT_ROWS)
        checks.append(
            (f"peak {peak:.0f} MB at {naive_at:,} feeds (<= {PEAK_MB:.0f} MB)", peak <= PEAK_MB)
        )
    sizes = sorted(results)
    if len(sizes) > 1:
        for label in BOT_ROWS:
            per_feed = [results[size][label].wall / size for size in sizes]
            growth = per_feed[-1] / per_feed[0]
            checks.append(
                (
                    f"{label} per feed {per_feed[0] * 1000:.2f} ms at {sizes[0]:,} -> "
                    f"{per_feed[-1] * 1000:.2f} ms at {sizes[-1]:,} feeds (x{growth:.2f}, "
                    f"flat: <= x{FLATNESS})",
                    growth <= FLATNESS,
                )
            )
    print("\ntargets:")
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return all(ok for _, ok in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--origins", type=int, default=20)
    parser.add_argument("--naive-feeds", type=int, default=1000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive", help=argparse.SUPPRESS)
    parser.add_argument("--split", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--parse-only", action="store_true", help="print the parse figures only (seconds)"
    )
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP + "; 20 feeds")
    args = parser.parse_args()
    if args.smoke:
        args.feeds, args.origins, args.naive_feeds = [10], 2, 10
    if args.serve:
        serve(args.serve)
        return
    if args.naive:
        naive_loop(args.naive)
        return
    if args.split:
        split_cycle(args.split)
        return
    if not FEEDS_DIR.is_dir():
        sys.exit(f"corpus not found: {FEEDS_DIR}")
    parse_figures(1 if args.smoke else 5)
    if args.parse_only:
        return
    print(
        f"{len(documents())} real documents on {args.origins} local origins; {os.cpu_count()} cores"
    )
    server = Server(args.origins)
    started = time.perf_counter()
    try:
        measured = {
            count: run_size(server, count, count == args.naive_feeds, args.smoke)
            for count in args.feeds
        }
    finally:
        server.stop()
    results = {count: runs for count, (runs, _) in measured.items()}
    for count, (runs, spent) in measured.items():
        print_size(count, runs)
        print_split(spent, count)
    ok = args.smoke or verdicts(results, args.naive_feeds)
    print(f"\n(bench took {time.perf_counter() - started:.0f} s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
