"""Every bench runs: ``python -m bench.NAME --smoke`` (tiny inputs, seconds, no thresholds)
exits 0, so that a change to the bot cannot break a bench unseen.

Benches that read ../shared skip without it, as the tests do; those that need PostgreSQL skip
when the test server does not answer. One test a bench, so the suite's workers share them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, SHARED, postgres_available

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario

SUMMARIZATION = SHARED / "corpus" / "summarization" / "cnn_dailymail_val1000.jsonl"
STORIES = SHARED / "corpus" / "stories" / "meta_ai_stories.jsonl"
FEEDS = SHARED / "corpus" / "feeds"
REALWORLD_TOOL = SHARED / "tools" / "realworld"

# bench -> (what it reads from ../shared, whether it needs PostgreSQL)
BENCHES: dict[str, tuple[list[Path], bool]] = {
    "cluster": ([], False),
    "faults": ([], False),
    "kinds": ([STORIES], False),
    "latency": ([], False),
    "opml_import": ([], False),  # PostgreSQL when it answers
    "poll": ([FEEDS], False),
    "realworld": ([STORIES, FEEDS, REALWORLD_TOOL], False),
    "replicas": ([], False),  # PostgreSQL when it answers
    "search_agreement": ([], True),  # the shared stories when they are there
    "soak": ([], False),
    "startup": ([SUMMARIZATION], False),
    "stories": ([STORIES, FEEDS], False),
    "summarize": ([SUMMARIZATION], False),
    "topic": ([], False),  # the shared feeds' items when they are there
}


def test_every_bench_has_a_smoke_run() -> None:
    found = {path.stem for path in (REPO / "bench").glob("*.py")} - {"__init__"}
    assert found == set(BENCHES)


def test_benches_are_a_package_that_edits_no_import_path() -> None:
    for path in (REPO / "bench").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "sys.path" not in source, path
        assert "noqa: E402" not in source, path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_runs_in_smoke_mode(name: str) -> None:
    needs, postgres = BENCHES[name]
    missing = [path for path in needs if not path.exists()]
    if missing:
        pytest.skip(f"bench.{name} reads {missing[0]} (only CI and developers have ../shared)")
    if postgres and (reason := postgres_available()):
        pytest.skip(f"bench.{name} needs PostgreSQL: {reason}")
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
