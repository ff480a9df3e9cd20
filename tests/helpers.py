"""Helpers for tests: fixture feeds with fresh dates, isolated configs, the shared corpus,
the bot's command."""

from __future__ import annotations

import re
import socket
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
FEED_CORPUS = SHARED / "corpus" / "feeds"
# The installed console script, as an admin runs it (it goes through bot.cli:main).
BOT_COMMAND = (
    [str(Path(sys.executable).parent / "meta-ai-digest")]
    if (Path(sys.executable).parent / "meta-ai-digest").exists()
    else [sys.executable, "-m", "bot"]
)
PLACEHOLDER = re.compile(r"\{\{(rfc822|rfc3339):minutes_ago:(\d+)\}\}")


def fresh_feed(name: str, now: datetime | None = None) -> str:
    """A fixture feed from tests/data/feeds with its date placeholders set relative to now."""
    moment = now or datetime.now(UTC)
    text = (DATA / "feeds" / name).read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        when = moment - timedelta(minutes=int(match.group(2)))
        return (
            format_datetime(when, usegmt=True) if match.group(1) == "rfc822" else when.isoformat()
        )

    return PLACEHOLDER.sub(replace, text)


def write_config(path: Path, feeds: list[tuple[str, str]], database: Path, extra: str = "") -> Path:
    """A user config holding feeds (exactly these: none means none), a database URL and any
    extra TOML."""
    lines = [] if feeds else ["feeds = []", ""]
    for name, url in feeds:
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', ""]
    lines += ["[database]", f'url = "sqlite:///{database}"', "", extra]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then closed again): a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_shared_corpus() -> Path:
    """The shared feed corpus, or a skip saying why it is missing."""
    if not FEED_CORPUS.is_dir():
        pytest.skip(
            f"the shared feed corpus is not at {FEED_CORPUS} "
            "(only CI and developers have ../shared)"
        )
    return FEED_CORPUS
