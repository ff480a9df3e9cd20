"""Soak: 1,000 local feeds, 10% of them misbehaving, polled for several cycles.

Run:  .venv/bin/python -m bench.soak [--feeds 1000] [--cycles 8] [--naive-budget 60]

A server process (tests/fakes/misbehaving_server.py, on 50 ports = 50 origins)
serves 900 realistic news feeds (10 items of ~130 words; one feed in ten gains
an item every cycle; ETag/304) and 100 feeds that misbehave in 17 ways (slow
drip, silence, endless body, gzip bomb, entity bomb, redirect loop, 429/500/503,
HTML, empty, wrong charset, lying Content-Length...).

The bot side is the real pipeline (DigestBot.poll: fetch, parse, store, topic
rules, story grouping, summaries) in one event loop, every feed polled every
cycle (``force``), with 5 s fetch timeouts. Per cycle it prints the time, the
peak and final resident memory (VmHWM reset each cycle through
/proc/self/clear_refs), open file descriptors, threads and the objects the
garbage collector tracks: flat numbers mean nothing leaks.

Baselines, in the same run: a cold fetch+parse pass of the bot's fetcher alone
over the same 1,000 feeds, and the naive loop ``for url in urls:
feedparser.parse(url)`` run sequentially in a child process, once over all
1,000 feeds (budget-limited: it has no timeout and no size cap) and once over
the 900 well-behaved ones.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import SMOKE_HELP

ROOT = Path(__file__).resolve().parents[1]
MODULE = "bench.soak"  # its own children run as `python -m bench.soak` from ROOT

ORIGINS = 50
MISBEHAVING_EVERY = 10  # feed 9, 19, 29, ...: 10%
KINDS = [
    "/slow-drip",
    "/silent",
    "/endless",
    "/gzip-bomb",
    "/entity-bomb",
    "/billion-laughs",
    "/redirect-loop",
    "/status/500",
    "/status/429",
    "/status/503",
    "/html",
    "/empty",
    "/wrong-charset",
    "/huge-declared",
    "/lying-length",
    "/local-path",
    "/deep-json",
]
NAIVE_MEMORY_LIMIT = 3 * 1024**3  # the naive child may not take the machine down


# --------------------------------------------------------------------------- server
def serve(origins: int) -> None:
    """Child process: serve every route on ``origins`` ports; obey "cycle N" on stdin."""
    from tests.fakes.misbehaving_server import MisbehavingServer

    server = MisbehavingServer().start()
    ports = [server.port, *server.listen_more(origins - 1)]
    print(json.dumps({"ports": ports}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["cycle"]:
            server.cycle = int(command[1])
            print("ok", flush=True)
        elif command[:1] == ["quit"]:
            break
    server.stop()


class ServerProcess:
    def __init__(self, origins: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--serve", "--origins", str(origins)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.ports: list[int] = json.loads(self.process.stdout.readline())["ports"]

    def set_cycle(self, cycle: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"cycle {cycle}\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def stop(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------- feeds
@dataclass(frozen=True)
class SoakFeed:
    name: str
    url: str
    kind: str  # "news" or the misbehaviour's route


def soak_feeds(count: int, ports: list[int]) -> list[SoakFeed]:
    feeds = []
    for index in range(count):
        port = ports[index % len(ports)]
        if index % MISBEHAVING_EVERY == MISBEHAVING_EVERY - 1:
            kind = KINDS[(index // MISBEHAVING_EVERY) % len(KINDS)]
            path = kind
        else:
            kind, path = "news", f"/news/feed{index:04d}"
        feeds.append(SoakFeed(f"feed{index:04d}", f"http://127.0.0.1:{port}{path}", kind))
    return feeds


FETCH = """[fetch]
connect_timeout_seconds = 2
read_timeout_seconds = 3
total_timeout_seconds = 5
max_body_bytes = 2_000_000
concurrency = 32
per_host_concurrency = 2
disable_after_failures = 1000  # keep the misbehaving feeds in every cycle
"""


def soak_config(directory: Path, feeds: list[SoakFeed]) -> Path:
    from tests.helpers import write_config  # here: the measured children import no test code

    pairs = [(feed.name, feed.url) for feed in feeds]
    return write_config(directory / "soak.toml", pairs, directory / "soak.db", FETCH)


# -------------------------------------------------------------------------- metrics
def proc_status(field: str, pid: str = "self") -> int:
    """A kB field of /proc/<pid>/status in bytes, 0 where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak_memory() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so each cycle has its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def live_objects() -> int:
    """Objects the garbage collector tracks after a full collection: a leak grows it."""
    gc.collect()
    return len(gc.get_objects())


def mb(value: int) -> str:
    return f"{value / 1024 / 1024:7.1f}"


# ------------------------------------------------------------------------- the soak
@dataclass
class Cycle:
    number: int
    seconds: float
    ok: int
    not_modified: int
    failed: int
    new_items: int
    new_stories: int
    peak_rss: int
    rss: int
    fds: int
    threads: int
    objects: int


async def run_cycles(config: Path, server: ServerProcess, cycles: int) -> list[Cycle]:
    from bot.config import load_settings
    from bot.pipeline import DigestBot

    bot = DigestBot.migrated(load_settings(config, env={}), [], env={})
    results = []
    try:
        for number in range(cycles):
            await asyncio.to_thread(server.set_cycle, number)
            reset_peak_memory()
            started = time.perf_counter()
            report = await bot.poll(force=True)
            seconds = time.perf_counter() - started
            statuses = Counter(line.status for line in report.feeds)
            results.append(
                Cycle(
                    number=number,
                    seconds=seconds,
                    ok=statuses["ok"],
                    not_modified=statuses["not-modified"],
                    failed=sum(n for s, n in statuses.items() if s not in ("ok", "not-modified")),
                    new_items=report.new_items,
                    new_stories=report.new_stories,
                    peak_rss=proc_status("VmHWM"),
                    rss=proc_status("VmRSS"),
                    fds=open_fds(),
                    threads=threading.active_count(),
                    objects=live_objects(),
                )
            )
            print_cycle(results[-1])
        last = report
    finally:
        bot.close()
    failures = Counter(line.status for line in last.feeds if line.error)
    print("  failure kinds in the last cycle:", dict(sorted(failures.items())))
    return results


def print_cycle(cycle: Cycle) -> None:
    print(
        f"  {cycle.number:>5} {cycle.seconds:8.1f} {cycle.ok:5} {cycle.not_modified:5} "
        f"{cycle.failed:6} {cycle.new_items:9} {cycle.new_stories:7} {mb(cycle.peak_rss)} "
        f"{mb(cycle.rss)} {cycle.fds:5} {cycle.threads:7} {cycle.objects:9}",
        flush=True,
    )


async def fetch_and_parse_only(feeds: list[SoakFeed], config: Path) -> tuple[float, Counter[str]]:
    """The bot's fetcher and parser alone, cold (no validators), over the same feeds: parsed
    in worker processes, one per core, as a poll of that many feeds does."""
    from bot.common.workers import WorkerPool
    from bot.config import load_settings
    from bot.feeds.http import HttpFetcher
    from bot.feeds.poller import FeedTask, poll_feeds
    from bot.services.ingest import WORKER_MODULES, parse_in

    settings = load_settings(config, env={}).fetch
    started = time.perf_counter()
    with WorkerPool(settings.workers, preload=WORKER_MODULES) as workers:
        async with HttpFetcher(settings) as fetcher:
            tasks = [FeedTask(f.name, f.url) for f in feeds]
            outcomes = await poll_feeds(fetcher, tasks, parse=parse_in(workers))
    return time.perf_counter() - started, Counter(outcome.status for outcome in outcomes)


# ------------------------------------------------------------------------ the naive
def naive(urls_file: Path) -> None:
    """Child process: the naive loop, reporting progress on stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (NAIVE_MEMORY_LIMIT, NAIVE_MEMORY_LIMIT))
    import feedparser

    urls = urls_file.read_text().split()
    started = time.perf_counter()
    for index, url in enumerate(urls):
        try:
            entries = len(feedparser.parse(url).entries)
        except MemoryError:
            entries = -1
        print(json.dumps([index, round(time.perf_counter() - started, 2), entries]), flush=True)


@dataclass
class NaiveResult:
    done: int
    total: int
    seconds: float
    peak_rss: int
    stopped_by: str


def run_naive(urls: list[str], kinds: list[str], budget: float) -> NaiveResult:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(urls))
    child = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--naive", handle.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    started = time.perf_counter()
    done, peak = 0, 0
    try:
        while time.perf_counter() - started < budget:
            peak = max(peak, proc_status("VmHWM", str(child.pid)))
            ready, _, _ = select.select([child.stdout], [], [], 0.2)
            if ready:
                line = child.stdout.readline()
                if not line:
                    break
                done = json.loads(line)[0] + 1
        seconds = time.perf_counter() - started
        # Every feed parsed, even when the child has not quite exited after its last line.
        finished = done == len(urls)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        os.unlink(handle.name)
    if finished:
        stopped_by = "finished"
    elif child.returncode not in (0, -9):
        stopped_by = f"crashed (exit {child.returncode}) at feed {done + 1}: {kinds[done]}"
    else:
        stopped_by = f"budget of {budget:.0f}s spent, stuck at feed {done + 1}: {kinds[done]}"
    return NaiveResult(done, len(urls), seconds, peak, stopped_by)


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--naive-budget", type=float, default=60.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--origins", type=int, default=ORIGINS, help=argparse.SUPPRESS)
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--smoke", action="store_true", help=SMOKE_HELP + "; 9 well-behaved feeds, 1 cycle"
    )
    args = parser.parse_args()
    if args.smoke:  # the tenth feed would misbehave, costing its timeouts
        args.feeds, args.origins, args.cycles, args.naive_budget = 9, 2, 1, 5.0
    if args.serve:
        serve(args.origins)
        return
    if args.naive:
        naive(args.naive)
        return

    server = ServerProcess(args.origins)
    try:
        feeds = soak_feeds(args.feeds, server.ports)
        bad = sum(feed.kind != "news" for feed in feeds)
        print(
            f"soak: {len(feeds)} feeds on {len(server.ports)} local origins, {bad} misbehaving "
            f"({len(KINDS)} kinds), {args.cycles} cycles, every feed every cycle; "
            f"{os.cpu_count()} CPUs"
        )
        with tempfile.TemporaryDirectory() as directory:
            config = soak_config(Path(directory), feeds)
            print(
                "  cycle  seconds    ok   304 failed new items stories peak MB   RSS MB"
                "   fds threads   objects"
            )
            cycles = asyncio.run(run_cycles(config, server, args.cycles))
            fetch_seconds, statuses = asyncio.run(fetch_and_parse_only(feeds, config))
            good = [feed for feed in feeds if feed.kind == "news"]
            good_seconds, good_statuses = asyncio.run(fetch_and_parse_only(good, config))
        naive_all = run_naive([f.url for f in feeds], [f.kind for f in feeds], args.naive_budget)
        naive_good = run_naive([f.url for f in good], [f.kind for f in good], args.naive_budget * 3)
    finally:
        server.stop()

    cold = cycles[0]
    warm = cycles[1:]
    print()
    print("comparison (same feeds, same run)                     feeds done   seconds  peak MB")
    print(
        f"  bot, cold cycle (fetch+parse+store+topic+stories)   {cold.ok + cold.failed:5}/"
        f"{len(feeds):<5} {cold.seconds:9.1f} {mb(cold.peak_rss)}"
    )
    if warm:
        average = sum(c.seconds for c in warm) / len(warm)
        print(
            f"  bot, warm cycles (average of {len(warm)})                   "
            f"{len(feeds):5}/{len(feeds):<5} {average:9.1f} "
            f"{mb(max(c.peak_rss for c in warm))}"
        )
    print(
        f"  bot fetcher+parser alone, cold                      {sum(statuses.values()):5}/"
        f"{len(feeds):<5} {fetch_seconds:9.1f}        -"
    )
    print(
        f"  bot fetcher+parser alone, cold, good feeds only     {sum(good_statuses.values()):5}/"
        f"{len(good):<5} {good_seconds:9.1f}        -"
    )
    for label, result in (
        ("naive feedparser.parse(url) loop, all feeds", naive_all),
        ("naive feedparser.parse(url) loop, good feeds only", naive_good),
    ):
        print(
            f"  {label:<52}{result.done:5}/{result.total:<5} {result.seconds:9.1f} "
            f"{mb(result.peak_rss)}  {result.stopped_by}"
        )
    if warm:
        rss_growth = cycles[-1].rss - cycles[1].rss
        fd_growth = cycles[-1].fds - cycles[1].fds
        print(
            f"\nfrom cycle 1 to cycle {cycles[-1].number}: RSS {rss_growth / 1024 / 1024:+.1f} MB, "
            f"open fds {fd_growth:+d}, threads {cycles[-1].threads - cycles[1].threads:+d}, "
            f"live objects {cycles[-1].objects - cycles[1].objects:+d}"
        )


if __name__ == "__main__":
    main()
