"""The pipeline's behaviour between feeds and digests, through DigestBot with a real SQLite file."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.registry import AdapterConfigError, discover_adapters, select_adapters
from bot.adapters.terminal import TerminalAdapter
from bot.config import Settings, load_settings
from bot.pipeline import DigestBot
from tests.builders import outlet_a_config, rss
from tests.fakes.feed_server import FeedServer
from tests.helpers import allow_local, fresh_feed, write_config

LLAMA_PARAGRAPHS = [
    "Meta has released Llama 4, a family of open-weight AI models including Scout and Maverick.",
    "The company said both models use a mixture-of-experts design that activates part of it.",
    "Llama 4 Scout has 17 billion active parameters and a context of 10 million tokens, Meta said.",
    "The models can be downloaded from Meta and Hugging Face under the Llama 4 community license.",
]


def make_bot(
    tmp_path: Path, feeds: list[tuple[str, str]], extra: str = ""
) -> tuple[DigestBot, io.StringIO]:
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db", extra)
    settings = load_settings(config, env={})
    stream = io.StringIO()
    return DigestBot.migrated(settings, [TerminalAdapter("json", stream)], env={}), stream


def json_documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents the terminal printed one after another."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while index < len(text.rstrip()):
        document, index = decoder.raw_decode(text, index)
        found.append(document)
        while index < len(text) and text[index].isspace():
            index += 1
    return found


def test_full_text_is_fetched_for_snippet_only_items(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    article = (
        "<html><head><title>Llama 4</title></head><body><nav>Home | News</nav><article>"
        + "".join(f"<p>{paragraph}</p>" for paragraph in LLAMA_PARAGRAPHS * 2)
        + "</article><footer>Cookie settings</footer></body></html>"
    )
    page = feed_server.serve("/article/llama-4", article, "text/html; charset=utf-8")
    feed = rss([("g1", "Meta releases Llama 4 AI models", page, "Meta released Llama 4 […]", now)])
    bot, _ = make_bot(
        tmp_path,
        [("Snippets", feed_server.serve("/feed.xml", feed))],
        extra=allow_local(feed_server.port),
    )
    asyncio.run(bot.poll())
    digest = bot.digests.preview()
    assert len(digest.stories) == 1
    summary = digest.stories[0].summary
    assert summary and all(any(s in p for p in LLAMA_PARAGRAPHS) for s in summary)
    assert digest.stories[0].summary_note is None
    assert feed_server.statuses("/article/llama-4") == [200]


def test_snippet_is_summarized_with_a_note_when_the_page_is_unreachable(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    snippet = "Meta released Llama 4 Scout and Maverick, its newest open-weight models. More […]"
    feed = rss(
        [("g1", "Meta releases Llama 4 AI models", feed_server.url("/missing"), snippet, now)]
    )
    bot, _ = make_bot(
        tmp_path,
        [("Snippets", feed_server.serve("/feed.xml", feed))],
        extra=allow_local(feed_server.port),
    )
    asyncio.run(bot.poll())
    story = bot.digests.preview().stories[0]
    assert story.summary and story.summary_note and "snippet" in story.summary_note


def test_article_links_to_private_addresses_are_not_fetched_by_default(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    page = feed_server.serve(
        "/article", "<html><body><p>secret intranet page</p></body></html>", "text/html"
    )
    feed = rss([("g1", "Meta releases Llama 4 AI models", page, "Meta released Llama 4 […]", now)])
    bot, _ = make_bot(tmp_path, [("Snippets", feed_server.serve("/feed.xml", feed))])
    asyncio.run(bot.poll())
    assert feed_server.statuses("/article") == []  # the SSRF guard refused 127.0.0.1
    assert bot.digests.preview().stories[0].summary_note


def test_same_article_in_two_feeds_and_a_changed_guid_are_one_item(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    html = "".join(f"<p>{p}</p>" for p in LLAMA_PARAGRAPHS)
    link = "https://newsroom.example/llama-4/"
    main = rss([("a-1", "Meta releases Llama 4", link, html, now)])
    category = rss(
        [
            (
                "b-9",
                "Meta releases Llama 4",
                "http://www.newsroom.example/llama-4?utm_source=rss",
                html,
                now,
            )
        ]
    )
    bot, _stream = make_bot(
        tmp_path,
        [
            ("Newsroom", feed_server.serve("/main.xml", main)),
            ("Newsroom AI", feed_server.serve("/ai.xml", category)),
        ],
    )
    report = asyncio.run(bot.poll())
    assert report.new_items == 1
    posted = asyncio.run(bot.digests.post(max_wait_seconds=0)).digest
    assert [story.title for story in posted.stories] == ["Meta releases Llama 4"]
    assert len(posted.stories[0].sources) == 1

    # The publisher changes the guid and the title of the same article: never posted again.
    changed = rss([("a-1-v2", "Meta releases Llama 4 (updated)", link + "#comments", html, now)])
    feed_server.serve("/main.xml", changed)
    assert asyncio.run(bot.poll(force=True)).new_items == 0
    assert bot.digests.preview().stories == []


def test_a_posted_story_that_gains_sources_is_announced_as_an_update_not_again(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    a = feed_server.serve("/a.xml", fresh_feed("outlet-a-rss.xml"), "application/rss+xml")
    bot, stream = make_bot(tmp_path, [("Outlet A", a), ("Outlet B", feed_server.url("/b.xml"))])
    asyncio.run(bot.poll())
    first = asyncio.run(bot.digests.post(max_wait_seconds=0)).digest
    assert [s.new_sources for s in first.stories] == [0]

    # Outlet B's coverage of the same story arrives later, with an unrelated new Meta AI story.
    feed_server.serve("/b.xml", fresh_feed("outlet-b-atom.xml"), "application/atom+xml")
    now = datetime.now(UTC)
    other = rss(
        [
            (
                "n1",
                "Meta AI app adds voice chat in Europe",
                "https://outlet-d.example/meta-ai-voice",
                "<p>Meta is adding voice conversations to the Meta AI assistant app in Europe, "
                "the company said.</p>"
                "<p>The feature uses the Llama 4 model and rolls out this week to adults.</p>" * 3,
                now,
            )
        ]
    )
    bot.settings.feeds.append(
        type(bot.settings.feeds[0])(name="Outlet D", url=feed_server.serve("/d.xml", other))
    )
    assert (
        asyncio.run(bot.poll()).feeds[-1].status.startswith("waiting until")
    )  # B is backing off after its 404
    asyncio.run(bot.poll(force=True))
    second = asyncio.run(bot.digests.post(max_wait_seconds=0)).digest
    # The new story is an entry; the posted one is not repeated: its update says what is new.
    [entry] = second.stories
    assert "voice" in entry.title
    # In the terminal (JSON) the update is part of the digest: the output stays one document.
    *_first, last = json_documents(stream.getvalue())
    [update] = last["updates"]
    assert "Llama 4" in update["title"]
    assert [source["feed"] for source in update["new_sources"]] == ["Outlet B"]


def test_first_poll_stores_old_history_as_seen_but_never_posts_it(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    html = "".join(f"<p>{p}</p>" for p in LLAMA_PARAGRAPHS)
    feed = rss([("old-1", "Meta releases Llama 4", "https://newsroom.example/llama-4", html, old)])
    bot, _ = make_bot(tmp_path, [("Newsroom", feed_server.serve("/feed.xml", feed))])
    report = asyncio.run(bot.poll())
    assert report.new_items == 1
    assert bot.digests.preview().stories == []
    assert asyncio.run(bot.commands.latest()).stories == []


def test_terminal_is_the_fallback_and_enabled_names_must_exist() -> None:
    settings = Settings()
    adapters = select_adapters([], settings.adapters.options_for, env={})
    assert [adapter.name for adapter in adapters] == ["terminal"]
    assert "terminal" in discover_adapters()
    with pytest.raises(AdapterConfigError, match="installed adapters"):
        select_adapters(["matrix"], settings.adapters.options_for, env={})


def test_terminal_options_are_validated() -> None:
    with pytest.raises(ValueError):
        TerminalAdapter.from_environment({}, {"format": "yaml"})


def test_a_dateless_feed_on_its_first_poll_is_history_not_news(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    html = "".join(f"<p>{p}</p>" for p in LLAMA_PARAGRAPHS)
    undated = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        f"<item><guid>u1</guid><title>Meta releases Llama 4</title>"
        f"<link>https://newsroom.example/llama-4</link><description><![CDATA[{html}]]></description>"
        "</item></channel></rss>"
    )
    bot, _ = make_bot(tmp_path, [("Undated", feed_server.serve("/feed.xml", undated))])
    assert asyncio.run(bot.poll()).new_items == 1
    assert bot.digests.preview().stories == []


class NowhereAdapter(TerminalAdapter):
    """An adapter configured with no channel at all."""

    def destinations(self) -> list[str]:
        return []


def test_stories_stay_pending_when_no_adapter_has_a_destination(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = outlet_a_config(feed_server, tmp_path)
    settings = load_settings(config, env={})
    bot = DigestBot.migrated(settings, [NowhereAdapter("json", io.StringIO())], env={})
    asyncio.run(bot.poll())
    result = asyncio.run(bot.digests.post(max_wait_seconds=0))
    assert result.queued_messages == 0
    assert len(bot.digests.preview().stories) == 1  # not marked posted, not lost
