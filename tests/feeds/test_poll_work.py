"""No repeated work in a poll: unchanged documents are not parsed, and worker processes
store exactly what one process stores."""

from __future__ import annotations

import asyncio
import logging
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_settings
from bot.feeds.errors import FailureKind, FetchError, ParseError
from bot.feeds.parser import finish_entry
from bot.feeds.records import FeedEntry
from bot.pipeline import DigestBot
from bot.services import entries
from bot.services.ingest import WORKERS_FROM_FEEDS
from bot.store.schema import Item
from tests.builders import rss
from tests.fakes.feed_server import FeedServer
from tests.helpers import write_config


def bot_for(tmp_path: Path, feeds: list[tuple[str, str]], extra: str = "") -> DigestBot:
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra)
    return DigestBot.migrated(load_settings(config, env={}), [], env={})


def statuses(bot: DigestBot) -> list[tuple[str, str, int]]:
    report = asyncio.run(bot.poll(force=True))
    return [(line.name, line.status, line.new_items) for line in report.feeds]


def test_a_server_ignoring_conditional_get_costs_no_second_parse(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.conditional = False
    now = datetime.now(UTC)
    first = rss([("a", "Meta ships Llama 5 AI models", "https://n.example/a", "Text.", now)])
    url = feed_server.serve("/feed.xml", first)
    bot = bot_for(tmp_path, [("News", url)])
    try:
        assert statuses(bot) == [("News", "ok", 1)]
        assert statuses(bot) == [("News", "unchanged", 0)]
        assert feed_server.statuses("/feed.xml") == [200, 200]  # it really sent it again
        later = now + timedelta(minutes=5)
        second = rss([("b", "Meta AI gets a new model", "https://n.example/b", "Text.", later)])
        feed_server.serve("/feed.xml", second)
        assert statuses(bot) == [("News", "ok", 1)]
    finally:
        bot.close()


def test_entries_stored_before_are_recognised_before_their_text_is_cleaned(
    feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned: list[str] = []

    def counting_finish_entry(entry: FeedEntry) -> FeedEntry:
        cleaned.append(entry.guid)
        return finish_entry(entry)

    monkeypatch.setattr(entries, "finish_entry", counting_finish_entry)
    now = datetime.now(UTC)
    old = [
        (f"old-{n}", f"Meta AI story {n}", f"https://n.example/{n}", "<p>Old <b>text</b>.</p>", now)
        for n in range(5)
    ]
    url = feed_server.serve("/feed.xml", rss(old))
    bot = bot_for(tmp_path, [("News", url)])
    try:
        assert statuses(bot) == [("News", "ok", 5)]
        new = ("new", "Meta ships Llama 5", "https://n.example/new", "<p>New &amp; <i>big</i>.</p>")
        # The publisher also edited an old entry's text: it stays as first stored.
        edited = [(guid, title, link, "<p>Edited.</p>", when) for guid, title, link, _, when in old]
        feed_server.serve("/feed.xml", rss([(*new, now), *edited]))
        cleaned.clear()
        assert statuses(bot) == [("News", "ok", 1)]
        assert cleaned == ["new"]
        with bot.sessions() as session:
            summaries = {item.guid: item.summary for item in session.scalars(select(Item))}
        assert summaries["new"] == "New & big."
        assert summaries["old-0"] == "Old text."
    finally:
        bot.close()


def test_a_document_that_did_not_parse_is_tried_again_not_skipped(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.conditional = False
    url = feed_server.serve("/broken.xml", "this is no feed at all")
    bot = bot_for(tmp_path, [("Broken", url)])
    try:
        assert statuses(bot)[0][1] in {"malformed", "not-a-feed"}
        assert statuses(bot)[0][1] in {"malformed", "not-a-feed"}
    finally:
        bot.close()


def stored_items(bot: DigestBot) -> list[tuple[object, ...]]:
    with bot.sessions() as session:
        return sorted(
            (
                item.guid,
                item.normalized_url,
                item.kept,
                item.topic_score,
                tuple(item.topic_reasons),
                item.summary,
            )
            for item in session.scalars(select(Item))
        )


def test_worker_processes_store_exactly_what_one_process_stores(
    feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    titles = [
        "Meta releases Llama 5 open-weight AI models",
        "Zuckerberg says Meta AI has a billion users",
        "A recipe for sourdough bread",
        "Meta Superintelligence Labs hires a researcher",
    ]
    feeds = []
    for number in range(WORKERS_FROM_FEEDS + 2):
        items = [
            (f"{number}-{k}", title, f"https://n.example/{number}/{k}", f"{title}. More.", now)
            for k, title in enumerate(titles)
        ]
        # Two feeds carry one shared article: stored once, whichever stores it.
        items.append(("shared", "Meta AI news", "https://n.example/shared", "Meta AI.", now))
        feeds.append((f"feed {number}", feed_server.serve(f"/{number}.xml", rss(items))))

    results = []
    for workers in (1, 2):
        directory = tmp_path / f"workers-{workers}"
        directory.mkdir()
        bot = bot_for(directory, feeds, f"[fetch]\nworkers = {workers}\n")
        try:
            with caplog.at_level(logging.INFO, logger="bot.services.ingest"):
                report = asyncio.run(bot.poll(force=True))
            assert [line.status for line in report.feeds] == ["ok"] * len(feeds)
            results.append(stored_items(bot))
        finally:
            bot.close()
    in_one_process, in_workers = results
    assert in_workers == in_one_process
    assert sum(1 for item in in_workers if item[1] == "https://n.example/shared") == 1
    assert any(item[2] for item in in_workers) and not all(item[2] for item in in_workers)
    assert "topic rules in 2 processes" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        ParseError(FailureKind.MALFORMED, "no feed found"),
        FetchError(FailureKind.HTTP_STATUS, "HTTP 429", status=429, retry_after=30.0),
    ],
)
def test_a_failure_crosses_a_process_boundary_intact(error: FetchError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (str(copy), copy.kind, copy.status, copy.retry_after) == (
        str(error),
        error.kind,
        error.status,
        error.retry_after,
    )
