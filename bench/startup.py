"""Start-up cost of the installed command, against the targets of issue 11, in one run.

    .venv/bin/python -m bench.startup [--runs 10] [--articles 1000]

Prints, each the median of ``--runs`` runs of the console script next to this
interpreter (``meta-ai-digest``) as a new process:

- ``--help``: wall time and peak memory (the child's max RSS, from wait4);
- ``latest`` on an empty, migrated SQLite database;
- ``summarize --jsonl`` over the CNN articles of ../shared/corpus/summarization as one
  whole process, per article, against sumy LexRank's selection plus the sentence split
  (in process, the same articles, the same run).

Targets: --help <= 0.3 s and <= 60 MB; latest <= 0.6 s; summarize --jsonl as a whole
process >= 10x faster per article than LexRank. Needs the bench extra for LexRank
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import SMOKE_HELP
from bench.summarize import load_articles, require_baselines, sumy_methods
from tests.harness import BOT_COMMAND, clean_env

REPO = Path(__file__).resolve().parents[1]

COMMAND = Path(BOT_COMMAND[0])
HELP_SECONDS, HELP_MB, LATEST_SECONDS, LEXRANK_FACTOR = 0.3, 60, 0.6, 10


# Peak memory must be the command's own: a child forked from this (large) process would
# inherit its high-water mark across exec. So a small fresh interpreter starts each run and
# reports the wall time and ru_maxrss of its own child.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
elapsed = time.perf_counter() - started
print(json.dumps([os.waitstatus_to_exitcode(status), elapsed, usage.ru_maxrss / 1024]))
"""


def run_with_usage(
    args: Sequence[str], env: dict[str, str], stdin: bytes = b""
) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one run of the console script."""
    argv = json.dumps([str(COMMAND), *args])
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, argv], input=stdin, env=env, capture_output=True
    )
    code, elapsed, peak_mb = json.loads(launched.stdout)
    if code:
        sys.exit(f"`meta-ai-digest {' '.join(args)}` exited {code}: {launched.stderr[-500:]!r}")
    return float(elapsed), float(peak_mb)


def median_run(
    args: Sequence[str], env: dict[str, str], runs: int, stdin: bytes = b""
) -> tuple[float, float]:
    """Median wall seconds and median peak MB over ``runs`` runs."""
    results = [run_with_usage(args, env, stdin) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def lexrank_ms_per_article(texts: Sequence[str]) -> float:
    """sumy LexRank's choice of 3 sentences plus the sentence split, mean ms per article."""
    from bot.summarize.splitter import SentenceSplitter

    splitter = SentenceSplitter()
    lexrank = sumy_methods()["sumy LexRank"]
    lexrank(splitter.split("Warm-up. It loads the models."))
    started = time.perf_counter()
    for text in texts:
        lexrank(splitter.split(text))
    return (time.perf_counter() - started) * 1000 / len(texts)


def verdict(label: str, ok: bool) -> bool:
    print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP + "; no LexRank")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.articles = 1, 3
    require_baselines(sumy=not args.smoke, splitters=False)
    if not COMMAND.exists():
        sys.exit(f"no console script at {COMMAND}: install the package into this interpreter")
    articles = load_articles(0, args.articles)
    jsonl = "".join(
        json.dumps({"id": a.id, "title": None, "text": a.text}) + "\n" for a in articles
    ).encode()

    with tempfile.TemporaryDirectory() as scratch:
        env = clean_env(
            {
                "DATABASE_URL": f"sqlite:///{Path(scratch) / 'empty.db'}",
                "META_AI_DIGEST_CONFIG": "",
            }
        )
        run_with_usage(["migrate"], env)
        help_s, help_mb = median_run(["--help"], env, args.runs)
        latest_s, latest_mb = median_run(["latest"], env, args.runs)
        jsonl_runs = max(1, args.runs // 5)
        jsonl_s, jsonl_mb = median_run(["summarize", "--jsonl"], env, jsonl_runs, jsonl)
    ours_ms = jsonl_s * 1000 / len(articles)
    if args.smoke:
        print(f"smoke: --help {help_s:.3f} s, latest {latest_s:.3f} s, {ours_ms:.2f} ms/article")
        return
    lexrank_ms = lexrank_ms_per_article([a.text for a in articles])

    print(f"meta-ai-digest start-up ({COMMAND}), median of {args.runs} runs")
    print(f"  --help                      {help_s:6.3f} s  {help_mb:6.1f} MB peak")
    print(f"  latest, empty database      {latest_s:6.3f} s  {latest_mb:6.1f} MB peak")
    print(
        f"  summarize --jsonl, {len(articles)} articles, whole process (median of {jsonl_runs}): "
        f"{jsonl_s:.2f} s = {ours_ms:.2f} ms/article, {jsonl_mb:.1f} MB peak"
    )
    print(f"  sumy LexRank selection + sentence split, in process: {lexrank_ms:.2f} ms/article")
    print("targets:")
    results = [
        verdict(f"--help {help_s:.3f} s <= {HELP_SECONDS} s", help_s <= HELP_SECONDS),
        verdict(f"--help {help_mb:.1f} MB <= {HELP_MB} MB", help_mb <= HELP_MB),
        verdict(f"latest {latest_s:.3f} s <= {LATEST_SECONDS} s", latest_s <= LATEST_SECONDS),
        verdict(
            f"summarize --jsonl {lexrank_ms / ours_ms:.1f}x faster per article than LexRank "
            f"(>= {LEXRANK_FACTOR}x)",
            ours_ms * LEXRANK_FACTOR <= lexrank_ms,
        ),
    ]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
