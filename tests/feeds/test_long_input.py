"""Over-long input gets a reason naming the limit (issue 21, point 10): a 20 KB address is
"too long", never "cannot fetch" with no reason, and no message quotes it whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.config import FetchSettings
from bot.feeds.http import FailureKind, FetchError, HttpFetcher
from bot.feeds.urls import MAX_URL_CHARS, feed_url_problem
from tests.fakes.feed_server import FeedServer
from tests.harness import run_bot
from tests.helpers import allow_local, fresh_feed, write_config

SETTINGS = FetchSettings(total_timeout_seconds=3, connect_timeout_seconds=1)


def long_url(server: FeedServer, length: int = 20_000) -> str:
    start = server.url("/a.xml?q=")
    return start + "x" * (length - len(start))


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot([*args, "--config", str(config)], env={"COLUMNS": "80"})


def test_an_address_at_the_limit_is_fine_and_one_over_is_too_long() -> None:
    base = "https://example.org/feed?q="
    assert feed_url_problem(base + "x" * (MAX_URL_CHARS - len(base))) is None
    assert feed_url_problem(base + "x" * (MAX_URL_CHARS + 1 - len(base))) == (
        "is too long (2,049 characters; an address has at most 2,048)"
    )


async def test_the_fetcher_refuses_a_20_kb_address_with_the_reason(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))
    async with HttpFetcher(SETTINGS) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(long_url(feed_server))
    assert refused.value.kind is FailureKind.INVALID_URL
    assert str(refused.value).endswith(
        "the address is too long (20,000 characters; an address has at most 2,048)"
    )
    assert feed_server.statuses("/a.xml") == []


def test_feeds_add_and_summarize_of_a_20_kb_address_say_it_is_too_long(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"))
    config = write_config(
        tmp_path / "c.toml", [], tmp_path / "bot.db", allow_local(feed_server.port)
    )
    url = long_url(feed_server)
    added = run(config, "feeds", "add", url)
    assert added.returncode == 2
    assert "is too long (20,000 characters; an address has at most 2,048)" in added.stderr
    assert len(added.stderr) < 400  # the address is quoted by its start only

    summarized = run(config, "summarize", url)
    assert summarized.returncode == 2
    assert "is too long (20,000 characters; an address has at most 2,048)" in summarized.stderr
    assert len(summarized.stderr) < 400
    assert feed_server.statuses("/a.xml") == []
