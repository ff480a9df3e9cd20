"""Every real feed document in ../shared/corpus/feeds goes through the bot without an exception."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.feeds.http import FailureKind, FetchError
from bot.feeds.parser import finish_entry, parse_feed
from tests.helpers import FEED_CORPUS, require_shared_corpus, write_config

# Control characters (but newline and tab) and zero-width/bidi characters never reach the pipeline.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
CORPUS_FILES = (
    sorted(p for p in FEED_CORPUS.glob("*") if p.suffix in {".xml", ".json"})
    if FEED_CORPUS.is_dir()
    else []
)


# Without ../shared there is nothing to parametrize over: one case that skips
# with the reason, rather than pytest's bare "got empty parameter set".
PARSE_CASES = CORPUS_FILES or [None]


@pytest.mark.parametrize(
    "path", PARSE_CASES, ids=[p.name if p else "no-corpus" for p in PARSE_CASES]
)
def test_each_corpus_feed_parses_to_clean_entries_or_a_clear_error(path: Path | None) -> None:
    if path is None:
        require_shared_corpus()
        return
    try:
        parsed = parse_feed(path.read_bytes(), {"content-location": "https://feeds.example/feed"})
    except FetchError as error:
        assert str(error)  # a clear, classified error is acceptable for a broken document
        return
    for entry in parsed.entries:
        assert entry.guid and entry.title
        assert entry.link is None or entry.link.startswith(("http://", "https://"))
        for text in (entry.title, entry.summary, entry.content):
            assert not INVISIBLE.search(text), repr(INVISIBLE.search(text))


def test_deferred_text_cleans_to_the_same_entries_on_every_corpus_feed() -> None:
    """A poll parses with defer_text and cleans the new entries later: same entries."""
    headers = {"content-location": "https://feeds.example/feed"}
    checked = 0
    for path in CORPUS_FILES or [require_shared_corpus()]:
        body = path.read_bytes()
        try:
            whole = parse_feed(body, headers)
        except FetchError:
            continue
        deferred = parse_feed(body, headers, defer_text=True)
        assert all(entry.summary == entry.content == "" for entry in deferred.entries)
        assert [finish_entry(entry) for entry in deferred.entries] == whole.entries, path.name
        checked += any(entry.summary or entry.content for entry in whole.entries)
    assert checked >= len(CORPUS_FILES) // 2  # the comparison saw real texts


def test_corpus_has_feeds_of_every_format() -> None:
    require_shared_corpus()
    names = [p.name for p in CORPUS_FILES]
    assert any(n.startswith("rss2") for n in names) and any(n.startswith("atom") for n in names)
    assert any(n.endswith(".json") for n in names) and any(n.startswith("rss1") for n in names)
    jsonfeed = next(p for p in CORPUS_FILES if p.name == "jsonfeed1-inessential.json")
    assert len(parse_feed(jsonfeed.read_bytes()).entries) == 20


def test_the_whole_corpus_through_poll_and_digest(tmp_path: Path) -> None:
    corpus = require_shared_corpus()
    feeds = [(path.stem, path.as_uri()) for path in CORPUS_FILES]
    config = write_config(
        tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra="[fetch]\nbackfill_hours = 1000000\n"
    )
    runner = CliRunner()
    poll = runner.invoke(app, ["--config", str(config), "poll"], catch_exceptions=False)
    assert poll.exit_code == 0, poll.output
    assert "Traceback" not in poll.output
    digest = runner.invoke(
        app,
        ["--config", str(config), "digest", "--dry-run", "--format", "json"],
        catch_exceptions=False,
    )
    assert digest.exit_code == 0, digest.output
    stories = json.loads(digest.output)["stories"]
    for story in stories:  # whatever the topic rules keep from this off-topic corpus is well formed
        assert story["title"] and story["sources"]
    assert corpus.is_dir()


def test_item_tags_without_a_feed_root_are_no_feed() -> None:
    """A truncated body or a fragment quoting <item> tags is refused, not half-read as a feed."""
    fragment = b"<item><title>extra</title></item>" * 3
    with pytest.raises(FetchError) as error:
        parse_feed(fragment)
    assert error.value.kind in {FailureKind.MALFORMED, FailureKind.NOT_A_FEED}
