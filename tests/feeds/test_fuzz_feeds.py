"""Fuzzing the feed-to-digest path with hypothesis: no exception escapes.

Three sources of input: random bytes, generated feeds whose every field is
hostile text (controls, HTML, entities, absurd dates, every URL scheme), and the
61 real documents of ``../shared/corpus/feeds`` mutated (bytes flipped, cut,
spliced, hostile snippets inserted). The parser may refuse a document only
with a :class:`FetchError`; whatever it accepts must be clean and must travel
through storage, topic rules, story grouping, summarizing, digest building and
every adapter's rendering without an exception.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.adapters.terminal import TerminalAdapter
from bot.config import load_settings
from bot.feeds.errors import ParseError
from bot.feeds.http import FetchError
from bot.feeds.parser import ParsedFeed, parse_feed
from bot.feeds.records import FeedOutcome
from bot.feeds.text import INVISIBLE
from bot.pipeline import DigestBot
from tests.feeds.hostile_feeds import BUILDERS, ITEMS, corpus_documents, mutated, rss_document
from tests.helpers import require_shared_corpus


def parse_or_refuse(document: bytes, content_type: str | None = None) -> ParsedFeed | None:
    """The parser's contract: a clean ParsedFeed, or a FetchError, nothing else."""
    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed = parse_feed(document, headers, max_expanded_bytes=1_000_000)
    except FetchError:
        return None
    for entry in parsed.entries:
        for url in (entry.link, entry.image, entry.comments):
            assert url is None or url.startswith(("http://", "https://")), url
        for text in (entry.title, entry.summary, entry.content, entry.author or ""):
            assert not INVISIBLE.search(text.replace("\n", "").replace("\t", "")), repr(text)
    return parsed


@settings(max_examples=150, deadline=None, database=None)
@given(st.binary(max_size=4000), st.sampled_from([None, "text/xml", "application/json"]))
def test_random_bytes_are_parsed_or_refused(document: bytes, content_type: str | None) -> None:
    parse_or_refuse(document, content_type)


@settings(max_examples=150, deadline=None, database=None)
@given(ITEMS, st.sampled_from(BUILDERS), st.booleans())
def test_hostile_generated_feeds_are_parsed_or_refused(
    items: list[tuple[str, str, str, str, str]],
    build: Callable[[list[tuple[str, str, str, str, str]], bool], bytes],
    cdata: bool,
) -> None:
    parse_or_refuse(build(items, cdata))


@pytest.mark.parametrize("byte", [b"\x80", b"\x00"])
def test_an_unreadable_encoding_declaration_beside_an_entity_is_refused(byte: bytes) -> None:
    """Found by the mutation test below: feedparser's charset detection crashed on these
    when the document also declares an entity (the bomb check reads it first)."""
    document = (
        b'<?xml version="1.0" encoding="' + byte + b'TF-8"?>'
        b'<!DOCTYPE rss [<!ENTITY a "x">]><rss version="2.0"><channel><title>t</title>'
        b"</channel></rss>"
    )
    with pytest.raises(ParseError, match="the feed parser gave up"):
        parse_feed(document)


def test_mutated_real_feeds_are_parsed_or_refused() -> None:
    require_shared_corpus()
    documents = corpus_documents()

    @settings(max_examples=150, deadline=None, database=None)
    @given(mutated(documents))
    def check(document: bytes) -> None:
        parse_or_refuse(document)

    check()


def fuzz_bot(directory: Path) -> DigestBot:
    config = directory / "config.toml"
    config.write_text(
        '[[feeds]]\nname = "fuzz"\nurl = "https://fuzz.example/feed"\ntopic = "all"\n'
        f'[[feeds]]\nname = "rules"\nurl = "https://rules.example/feed"\n'
        f'[database]\nurl = "sqlite:///{directory / "fuzz.db"}"\n',
        encoding="utf-8",
    )
    return DigestBot.migrated(load_settings(config, env={}), [], env={})


def renderers() -> list[Callable[[object], object]]:
    slack = SlackAdapter.from_environment(
        {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/fuzzfuzzfuzzfuzz"}, {}
    )
    discord = DiscordAdapter.from_environment(
        {
            "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/"
            "123456789012345678/fuzz-token-fuzz-token-fuzz"
        },
        {},
    )
    assert slack is not None and discord is not None
    return [slack.render, discord.render, TerminalAdapter().render, TerminalAdapter("json").render]  # type: ignore[list-item]


def test_whatever_the_parser_accepts_travels_to_every_adapter() -> None:
    """Store, classify, group, summarize, build the digest, render it: no exception."""
    documents = corpus_documents()
    generated = st.builds(
        lambda items, build, cdata: build(items, cdata),
        ITEMS.filter(bool),
        st.sampled_from(BUILDERS),
        st.booleans(),
    )
    sources = generated | generated | mutated(documents) if documents else generated
    render_all = renderers()
    travelled: list[int] = []
    with tempfile.TemporaryDirectory() as directory:
        bot = fuzz_bot(Path(directory))
        try:
            bot.ingest.feeds_to_poll(force=True)  # creates the feed rows

            @settings(
                max_examples=60,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            @given(sources, st.sampled_from(["fuzz", "rules"]))
            def check(document: bytes, feed: str) -> None:
                parsed = parse_or_refuse(document)
                if parsed is None:
                    return
                outcome = FeedOutcome(name=feed, url=f"https://{feed}.example/feed", parsed=parsed)
                report = bot.ingest.store_outcomes([outcome])
                kept = [item for line in report.feeds for item in line.kept_ids]
                bot.grouping.group_and_summarize(kept)
                digest, _queued = bot.digests.queue()
                for render in render_all:
                    for payload in render(digest):  # type: ignore[attr-defined]
                        json.dumps(payload)  # storable in the outbox
                asyncio.run(bot.commands.latest("llama"))
                travelled.append(len(digest.stories))

            check()
        finally:
            bot.close()
    assert len(travelled) >= 20 and sum(travelled) >= 20  # the path really was exercised


def test_dates_from_feeds_never_lie_in_the_future() -> None:
    future = format_datetime(datetime.now(UTC) + timedelta(days=3650), usegmt=True)
    document = rss_document([("t", "https://a.example/1", "x", future, "g")], False)
    parsed = parse_feed(document)
    with tempfile.TemporaryDirectory() as directory:
        bot = fuzz_bot(Path(directory))
        try:
            bot.ingest.feeds_to_poll(force=True)
            bot.ingest.store_outcomes([FeedOutcome(name="fuzz", url="u", parsed=parsed)])
            with bot.sessions() as session:
                from bot.store.schema import Item

                item = session.query(Item).one()
                assert item.published_at <= datetime.now(UTC)
        finally:
            bot.close()
