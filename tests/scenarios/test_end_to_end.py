"""End to end through the real CLI: local feeds over HTTP → poll → digest.

Two outlets cover the same Llama 4 story; a third feed and the other items are
unrelated. The digest must hold that story once, with both sources and a
summary made only of the articles' own sentences, and nothing else.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.feeds.text import clean_text
from tests.builders import FEEDS, serve_fixture_feeds
from tests.fakes.feed_server import FeedServer
from tests.harness import BotProcess, eventually
from tests.helpers import DATA, closed_port, write_config

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario


def fixture_config(server: FeedServer, tmp_path: Path) -> Path:
    """A config holding the three fixture feeds, served fresh, and a database in tmp_path."""
    return write_config(tmp_path / "config.toml", serve_fixture_feeds(server), tmp_path / "bot.db")


def invoke(runner: CliRunner, config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def article_sentences_source() -> str:
    """All text of the two Llama articles, as plain text, to check the summary against."""
    texts = [
        clean_text((DATA / "feeds" / name).read_text(), keep_paragraphs=True)
        for name in ("outlet-a-rss.xml",)
    ]
    atom = (DATA / "feeds" / "outlet-b-atom.xml").read_text()
    texts.append(clean_text(clean_text(atom), keep_paragraphs=True))
    return "\n".join(texts)


def test_poll_then_digest_yields_the_shared_story_once_with_both_sources(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)

    poll_output = invoke(runner, config, "poll")
    assert "Outlet A" in poll_output and "Outlet C" in poll_output

    digest = json.loads(invoke(runner, config, "digest", "--dry-run", "--format", "json"))
    assert len(digest["stories"]) == 1, [story["title"] for story in digest["stories"]]
    story = digest["stories"][0]
    assert "Llama 4" in story["title"]
    source_feeds = sorted(source["feed"] for source in story["sources"])
    assert source_feeds == ["Outlet A", "Outlet B"]
    assert all(source["url"].startswith("https://outlet-") for source in story["sources"])
    assert 2 <= len(story["summary"]) <= 3
    source_text = re.sub(r"\s+", " ", article_sentences_source())
    for sentence in story["summary"]:
        assert sentence in source_text, f"not verbatim from the articles: {sentence!r}"
    assert not any("Sign up" in sentence for sentence in story["summary"])
    assert set(story) >= {"id", "title", "url", "published", "summary", "sources"}


def test_polling_twice_adds_nothing_and_uses_conditional_get(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)
    first = invoke(runner, config, "poll")
    assert re.search(r"^(\d+) new items", first, re.M).group(1) == "7"  # type: ignore[union-attr]

    second = invoke(runner, config, "poll")
    assert "0 new items, 0 new stories" in second
    for path in FEEDS:
        assert feed_server.statuses(path) == [200, 304], path
    conditional = [r for r in feed_server.requests if r.status == 304]
    assert all("If-None-Match" in r.headers for r in conditional)
    assert all(r.headers["User-Agent"].startswith("meta-ai-digest/") for r in feed_server.requests)


def test_digest_twice_posts_nothing_the_second_time(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)
    invoke(runner, config, "poll")

    first = json.loads(invoke(runner, config, "digest", "--format", "json"))
    assert len(first["stories"]) == 1

    second = json.loads(invoke(runner, config, "digest", "--format", "json"))
    assert second["stories"] == []


def test_dry_run_marks_nothing_posted(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)
    invoke(runner, config, "poll")
    once = json.loads(invoke(runner, config, "digest", "--dry-run", "--format", "json"))
    again = json.loads(invoke(runner, config, "digest", "--dry-run", "--format", "json"))
    assert [s["id"] for s in once["stories"]] == [s["id"] for s in again["stories"]] != []


def test_latest_shows_recent_stories_whether_posted_or_not(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)
    invoke(runner, config, "migrate")
    empty = invoke(runner, config, "latest")
    assert "No Meta AI news" in empty

    invoke(runner, config, "poll")
    before = json.loads(invoke(runner, config, "latest", "--format", "json"))
    invoke(runner, config, "digest", "--format", "json")
    after = json.loads(invoke(runner, config, "latest", "--format", "json"))
    assert [s["title"] for s in before["stories"]] == [s["title"] for s in after["stories"]]
    assert len(after["stories"]) == 1

    matching = json.loads(invoke(runner, config, "latest", "--format", "json", "maverick"))
    assert len(matching["stories"]) == 1
    nothing = invoke(runner, config, "latest", "quantum", "teleportation")
    assert "match" in nothing


def test_explain_says_why_items_were_kept_or_dropped(
    feed_server: FeedServer, runner: CliRunner, tmp_path: Path
) -> None:
    config = fixture_config(feed_server, tmp_path)
    invoke(runner, config, "poll")

    kept = invoke(
        runner, config, "explain", "http://outlet-a.example/2025/04/05/meta-releases-llama-4"
    )
    assert "KEPT" in kept and "story #" in kept and "waiting for the next digest" in kept
    # A model release is a story of the "models" kind, with each kind's score as evidence.
    assert "  kind: models and releases (models " in kept
    entry = json.loads(invoke(runner, config, "latest", "llama", "--format", "json"))
    assert [story["kind"] for story in entry["stories"]] == ["models"]

    dropped = invoke(
        runner, config, "explain", "https://outlet-a.example/2025/04/05/vermont-llama-farm/"
    )
    assert "DROPPED" in dropped and "dropped by the topic rules" in dropped

    unknown = runner.invoke(
        app, ["--config", str(config), "explain", "https://nowhere.example/article"]
    )
    assert unknown.exit_code == 1 and "never seen" in unknown.output
    assert "meta-ai-digest poll" in unknown.output


def test_run_shows_the_latest_news_on_the_terminal_then_stops_on_sigterm(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The README's first command, in miniature: no tokens, terminal output, SQLite file."""
    config = fixture_config(feed_server, tmp_path)
    # The config comes from the environment, as the README's ``meta-ai-digest run`` has it.
    env = {"META_AI_DIGEST_CONFIG": str(config)}
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    with BotProcess(["run"], log=out, stderr_log=err, env=env, cwd=tmp_path) as bot:

        def an_entry_printed() -> bool:  # an entry's last line: "   via <source>"
            lines = bot.output().splitlines()
            return any(line.startswith("   ") and "via " in line for line in lines)

        eventually(an_entry_printed, timeout=60, message=lambda: bot.output() + bot.errors())
        output = bot.output()
        assert "Latest Meta AI news" in output and "Llama 4" in output
        assert "MacBook" not in output
        code, _seconds = bot.stop(signal.SIGTERM, timeout=10)
        errors = bot.errors()
    assert code == 0, errors
    assert "meta-ai-digest: 3 feeds" in errors and "Ctrl-C stops" in errors
    assert "Traceback" not in errors
    assert "failed on the first poll" not in errors  # every feed answered


def test_run_says_once_which_feeds_failed_on_its_first_poll(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """A fresh bot that cannot reach a feed says so at the default log level."""
    closed = closed_port()
    feeds = [*serve_fixture_feeds(feed_server), ("Gone", f"http://127.0.0.1:{closed}/feed.xml")]
    config = write_config(tmp_path / "config.toml", feeds, tmp_path / "bot.db")
    log = tmp_path / "run.log"
    with BotProcess(["--config", str(config), "run"], log=log, cwd=tmp_path) as bot:
        bot.wait_for("first poll", timeout=60)
        warning = next(line for line in bot.output().splitlines() if "first poll" in line)
        assert "1 of 4 feeds failed on the first poll (connection 1)" in warning
        assert "meta-ai-digest feeds list" in warning
        assert bot.stop(signal.SIGTERM, timeout=10)[0] == 0
