"""Polling speed: the bot's poll against the naive feedparser loop, cold and warm, in one run.

    .venv/bin/python bench/poll.py [--feeds 1000 5000] [--origins 20] [--naive-feeds 1000]

A server process answers on ``--origins`` local ports (20 origins); feed URL number i is
served the i-th of the 61 real documents of ../shared/corpus/feeds (cycled), with
Last-Modified and ETag, and answers If-Modified-Since / If-None-Match with 304.

For each size it prints, each measured as a whole process:

- the naive loop ``for url in urls: feedparser.parse(url)``, sequential (only at
  ``--naive-feeds`` feeds: it is the slow baseline);
- ``meta-ai-digest poll --force`` on a fresh SQLite database (cold: every document new);
- the same again (warm: every document unchanged, the server answers 304);

with wall time, CPU time (user + system, the command and its worker processes) and peak
memory (the command's largest process, from its own high-water mark). Targets (issue 12): cold
>= 2.5x faster than the naive loop, warm >= 50x faster, peak <= 400 MB at 1,000 feeds, and
time per feed flat from 1,000 to 5,000 feeds (within 25%).
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEEDS_DIR = ROOT.parent / "shared" / "corpus" / "feeds"
COMMAND = Path(sys.executable).with_name("meta-ai-digest")
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)
COLD_FACTOR, WARM_FACTOR, PEAK_MB, FLATNESS = 2.5, 50.0, 400.0, 1.25


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
        ports = []
        for _ in range(origins):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        print(json.dumps(ports), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


class Server:
    def __init__(self, origins: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(origins)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
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
    cpu: float
    peak_mb: float
    detail: str = ""


# A small launcher reaps the measured command itself: a child forked from this process would
# inherit its memory high-water mark. It reports wall time, the CPU time of the command and
# all its children (worker processes), and the peak RSS of its largest process.
LAUNCHER = """
import json, os, resource, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = child.communicate()
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([child.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  out.decode(errors="replace")[-3000:], err.decode(errors="replace")[-3000:]]))
"""


def measure(argv: list[str], env: dict[str, str]) -> tuple[Run, str]:
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(argv)], env=env, capture_output=True
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


def write_config(directory: Path, urls: list[str]) -> Path:
    lines = ["[fetch]", "total_timeout_seconds = 60", ""]
    for number, url in enumerate(urls):
        lines += ["[[feeds]]", f'name = "feed {number}"', f'url = "{url}"', ""]
    config = directory / "feeds.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def poll_counts(output: str) -> str:
    """The poll's closing line: how many new items and stories it stored."""
    lines = [line for line in output.splitlines() if "new items" in line]
    return lines[-1].strip() if lines else ""


def run_size(server: Server, count: int, with_naive: bool) -> dict[str, Run]:
    urls = server.urls(count)
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        urls_file = directory / "urls.txt"
        urls_file.write_text("\n".join(urls))
        if with_naive:
            runs["naive loop"], entries = measure(
                [sys.executable, __file__, "--naive", str(urls_file)], dict(os.environ)
            )
            runs["naive loop"].detail = f"{entries.strip()} entries parsed"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{directory / 'bot.db'}",
            "META_AI_DIGEST_CONFIG": str(write_config(directory, urls)),
        }
        subprocess.run([str(COMMAND), "migrate"], env=env, check=True, capture_output=True)
        for label in ("bot cold", "bot warm"):
            runs[label], output = measure([str(COMMAND), "poll", "--force"], env)
            runs[label].detail = poll_counts(output)
    return runs


def print_size(count: int, runs: dict[str, Run]) -> None:
    print(f"\n{count:,} feeds")
    print(f"  {'':12} {'wall s':>8} {'ms/feed':>8} {'CPU s':>8} {'peak MB':>8}")
    for label, run in runs.items():
        print(
            f"  {label:12} {run.wall:8.2f} {run.wall * 1000 / count:8.2f} {run.cpu:8.2f} "
            f"{run.peak_mb:8.1f}  {run.detail}"
        )


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
                f"warm {naive / warm:.1f}x faster than naive (>= {WARM_FACTOR}x)",
                naive >= WARM_FACTOR * warm,
            )
        )
        peak = max(at["bot cold"].peak_mb, at["bot warm"].peak_mb)
        checks.append(
            (f"peak {peak:.0f} MB at {naive_at:,} feeds (<= {PEAK_MB:.0f} MB)", peak <= PEAK_MB)
        )
    sizes = sorted(results)
    if len(sizes) > 1:
        for label in ("bot cold", "bot warm"):
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
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.naive:
        naive_loop(args.naive)
        return
    if not FEEDS_DIR.is_dir():
        sys.exit(f"corpus not found: {FEEDS_DIR}")
    print(
        f"{len(documents())} real documents on {args.origins} local origins; {os.cpu_count()} cores"
    )
    server = Server(args.origins)
    started = time.perf_counter()
    try:
        results = {
            count: run_size(server, count, with_naive=count == args.naive_feeds)
            for count in args.feeds
        }
    finally:
        server.stop()
    for count, runs in results.items():
        print_size(count, runs)
    ok = verdicts(results, args.naive_feeds)
    print(f"\n(bench took {time.perf_counter() - started:.0f} s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
