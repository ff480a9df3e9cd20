"""A fault between storing a cycle's items and grouping them loses no story (issue 21, 1).

A poll commits its items in batches and groups them afterwards. The fault here is a real
database error raised by SQLite itself while the installed command groups: a trigger refuses
every new story, as a full disk or a dropped connection would refuse that write. The items
are stored, the grouping transaction rolls back. Once the fault is gone, the next cycle must
group them although the feed has nothing new, and `explain` must say what is true at each step.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import rss
from tests.fakes.feed_server import FeedServer
from tests.harness import run_bot
from tests.helpers import write_config

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario

ARTICLES = [
    ("llama", "Meta releases Llama 5 open-weight AI models", "https://n.example/llama"),
    ("fair", "Meta's FAIR lab unveils a new AI speech model", "https://n.example/fair"),
    ("chips", "Meta AI data centre in Ohio gets its first custom chips", "https://n.example/dc"),
]


def bot(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return run_bot([*args, "--config", str(config)], cwd=config.parent)


def ungrouped(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM items WHERE kept AND story_id IS NULL"
        ).fetchone()
    return int(count)


def test_items_a_fault_left_without_a_story_are_grouped_by_the_next_cycle(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    entries = [
        (guid, title, link, f"{title}. The company said so on Tuesday.", now - timedelta(hours=n))
        for n, (guid, title, link) in enumerate(ARTICLES)
    ]
    url = feed_server.serve("/feed.xml", rss(entries))
    database = tmp_path / "bot.db"
    config = write_config(tmp_path / "c.toml", [("News", url)], database)
    assert bot("migrate", config=config).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON stories "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )

    faulty = bot("poll", config=config)
    assert faulty.returncode != 0
    assert ungrouped(database) == len(ARTICLES)  # stored, and the fault left them ungrouped
    waiting = bot("explain", "https://n.example/llama", config=config)
    assert "not grouped into a story yet (the next poll cycle does it)" in waiting.stdout

    with sqlite3.connect(database) as connection:
        connection.execute("DROP TRIGGER disk_full")
    again = bot("poll", "--force", config=config)
    assert again.returncode == 0, again.stdout + again.stderr
    assert ungrouped(database) == 0
    for _guid, _title, link in ARTICLES:
        explained = bot("explain", link, config=config)
        assert "story #" in explained.stdout, explained.stdout
    digest = bot("digest", "--dry-run", config=config)
    for _guid, title, _link in ARTICLES:
        assert title in digest.stdout


def test_a_full_disk_mid_cycle_loses_no_story_once_space_is_back(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """A real full disk: the database lives on a small tmpfs that a filler file fills while
    a poll stores and groups a feed of long Meta-AI articles. Whatever the write that fails
    (a batch, grouping), once space is back one more cycle leaves no kept item without a
    story, and no item stored twice."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr!r}")
    try:
        now = datetime.now(UTC)
        body = " ".join(
            f"Meta's AI lab said on Tuesday that model {n} is ready." for n in range(60)
        )
        entries = [
            (
                f"g{n}",
                f"Meta releases Llama {n} open AI model {n}",
                f"https://n.example/{n}",
                f"{body} Item {n}.",
                now - timedelta(minutes=n),
            )
            for n in range(40)
        ]
        url = feed_server.serve("/feed.xml", rss(entries[:2]))
        database = disk / "bot.db"
        config = write_config(tmp_path / "c.toml", [("News", url)], database)
        assert bot("poll", config=config).returncode == 0
        filler = disk / "filler"
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 48 * 1024))
        feed_server.serve("/feed.xml", rss(entries))
        full = bot("poll", config=config)
        assert full.returncode != 0  # the disk really was full
        filler.unlink()
        assert bot("poll", "--force", config=config).returncode == 0
        assert ungrouped(database) == 0
        with sqlite3.connect(database) as connection:
            (items,) = connection.execute("SELECT count(*) FROM items").fetchone()
        assert items == len(entries)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
