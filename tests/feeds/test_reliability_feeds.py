"""Failing feeds back off, are disabled with one admin notice, and come back with
``feeds enable``; publishers' Retry-After, Cache-Control and <ttl> are floors;
a first poll never floods a channel with a feed's history.

Runs the real pipeline (DigestBot) against local feed servers, and the real
Slack adapter against the Slack engineer's fake Web API for the admin notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.adapters.slack import SlackAdapter
from bot.cli import app
from bot.config import FetchSettings, Settings, load_settings
from bot.feeds.http import FailureKind, FetchError
from bot.feeds.records import FeedOutcome, Validators
from bot.feeds.schedule import NextPoll, backoff_delay, is_due
from bot.pipeline import DigestBot
from bot.services.ingest import poll_of
from bot.store.database import create_database_engine, session_factory
from bot.store.feeds import FeedRecord, feed_named, record_polls
from bot.store.schema import Base, Feed, Item
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer
from tests.fakes.slack_api import (
    BOT_TOKEN,
    DIGEST_CHANNEL,
    OTHER_CHANNEL,
    SIGNING_SECRET,
    FakeSlack,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write_settings(tmp_path: Path, feeds: list[tuple[str, str]], fetch: str = "") -> Path:
    lines: list[str] = []
    for name, url in feeds:
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', 'topic = "all"', ""]
    lines += ["[database]", f'url = "sqlite:///{tmp_path / "bot.db"}"', ""]
    lines += ["[fetch]", "total_timeout_seconds = 3", fetch, ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_bot(config: Path, adapters: list[object] | None = None) -> DigestBot:
    return DigestBot.migrated(load_settings(config, env={}), adapters or [], env={})  # type: ignore[arg-type]


def feed_row(bot: DigestBot, name: str) -> Feed:
    with bot.sessions() as session:
        row = session.scalar(select(Feed).where(Feed.name == name))
        assert row is not None
        return row


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A scratch database holding one feed, "f"."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'feeds.db'}")
    Base.metadata.create_all(engine)
    try:
        with session_factory(engine).begin() as session:
            session.add(Feed(name="f", url="u", consecutive_failures=0, disabled_notice_sent=False))
            yield session
    finally:
        engine.dispose()


def feed_f(session: Session) -> FeedRecord:
    feed = feed_named(session, "f")
    assert feed is not None
    return feed


def record_outcome(
    session: Session, outcome: FeedOutcome, settings: FetchSettings, now: datetime
) -> NextPoll:
    """Feed "f" polled at ``now`` with ``outcome``, recorded as a poll cycle records it."""
    poll = poll_of(feed_f(session), outcome, settings, now)
    record_polls(session, [poll], now)
    return poll.decision


def failure(retry_after: float | None = None) -> FeedOutcome:
    error = FetchError(FailureKind.HTTP_STATUS, "HTTP 503", status=503, retry_after=retry_after)
    return FeedOutcome(name="f", url="u", error=error)


def test_backoff_doubles_from_five_minutes_and_is_capped() -> None:
    settings = FetchSettings()
    minutes = [backoff_delay(failures, settings).total_seconds() / 60 for failures in range(1, 12)]
    assert minutes == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1440, 1440]
    assert backoff_delay(500, settings) == timedelta(minutes=1440)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (None, timedelta(minutes=5)),
        (120, timedelta(minutes=5)),  # shorter than the backoff: the backoff wins
        (7200, timedelta(hours=2)),  # longer: honoured exactly
        (30 * 86400, timedelta(hours=24)),  # absurd: capped at max_publisher_interval
    ],
)
def test_retry_after_is_a_floor_on_the_backoff(
    session: Session, retry_after: float | None, expected: timedelta
) -> None:
    record_outcome(session, failure(retry_after=retry_after), FetchSettings(), NOW)
    feed = feed_f(session)
    assert feed.next_poll_at == NOW + expected
    assert not is_due(feed, NOW + expected - timedelta(seconds=1))
    assert is_due(feed, NOW + expected)


def test_disabled_after_the_configured_failures_exactly_once(session: Session) -> None:
    settings = FetchSettings(disable_after_failures=3)
    changes = [
        record_outcome(session, failure(), settings, NOW + timedelta(days=i)).disabled_now
        for i in range(5)
    ]
    feed = feed_f(session)
    assert changes == [False, False, True, False, False]
    assert feed.disabled_at == NOW + timedelta(days=2)
    assert feed.consecutive_failures == 5
    assert not is_due(feed, NOW + timedelta(days=30))


def test_success_resets_failures_and_a_304_keeps_the_publishers_floor(session: Session) -> None:
    settings = FetchSettings()
    record_outcome(session, failure(), settings, NOW)
    ok = FeedOutcome(name="f", url="u", validators=Validators(etag='"1"'), min_interval=5400)
    record_outcome(session, ok, settings, NOW)
    feed = feed_f(session)
    assert feed.consecutive_failures == 0 and feed.last_error is None
    assert feed.etag == '"1"'
    floor_due = feed.next_poll_at
    assert floor_due is not None
    assert NOW + timedelta(minutes=85) <= floor_due < NOW + timedelta(minutes=90)

    later = NOW + timedelta(minutes=90)
    not_modified = FeedOutcome(name="f", url="u", not_modified=True)
    record_outcome(session, not_modified, settings, later)
    feed = feed_f(session)
    assert feed.min_interval_seconds == 5400
    assert feed.next_poll_at is not None and feed.next_poll_at > later + timedelta(minutes=85)


def test_a_ttl_equal_to_the_poll_interval_does_not_skip_every_other_cycle(
    session: Session,
) -> None:
    """Cycles 30 min apart; a <ttl>30</ttl> feed fetched 20 s into one is due at the next."""
    fetched = NOW + timedelta(seconds=20)
    outcome = FeedOutcome(name="f", url="u", min_interval=1800, elapsed=0.5)
    record_outcome(session, outcome, FetchSettings(), fetched)
    assert is_due(feed_f(session), NOW + timedelta(minutes=30))


async def test_floors_from_ttl_and_max_age_skip_the_feed_until_due(
    misbehaving_server: MisbehavingServer, tmp_path: Path
) -> None:
    config = write_settings(
        tmp_path,
        [
            ("ttl", misbehaving_server.url("/ttl/90")),
            ("maxage", misbehaving_server.url("/max-age/7200")),
        ],
    )
    bot = make_bot(config)
    try:
        await bot.poll()
        second = await bot.poll()
    finally:
        bot.close()
    assert {line.name: line.skipped for line in second.feeds} == {"ttl": True, "maxage": True}
    assert misbehaving_server.hits["/ttl/90"] == 1 and misbehaving_server.hits["/max-age/7200"] == 1
    assert feed_row(bot, "maxage").min_interval_seconds == 7200


async def test_retry_after_from_a_503_is_respected_by_the_next_cycles(
    misbehaving_server: MisbehavingServer, tmp_path: Path
) -> None:
    config = write_settings(tmp_path, [("busy", misbehaving_server.url("/retry-after/7200"))])
    bot = make_bot(config)
    try:
        first = await bot.poll()
        second = await bot.poll()
    finally:
        bot.close()
    assert first.feeds[0].status == "http-status"
    assert second.feeds[0].skipped and "waiting until" in second.feeds[0].status
    row = feed_row(bot, "busy")
    assert row.next_poll_at is not None
    assert row.next_poll_at - row.last_attempt_at >= timedelta(hours=2) - timedelta(seconds=5)  # type: ignore[operator]
    assert misbehaving_server.hits["/retry-after/7200"] == 1


async def test_failing_feed_is_disabled_with_one_admin_notice_and_enable_brings_it_back(
    misbehaving_server: MisbehavingServer, tmp_path: Path
) -> None:
    config = write_settings(
        tmp_path,
        [
            ("broken", misbehaving_server.url("/status/500")),
            ("fine", misbehaving_server.url("/feed/fine")),
        ],
        fetch="disable_after_failures = 3",
    )
    async with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,  # HTTP mode; the bot never serves here
            "SLACK_API_URL": slack.api_url,
        }
        options = {
            "channels": [DIGEST_CHANNEL],
            "admin_channel": OTHER_CHANNEL,
            "min_seconds_between_messages": 0,
        }
        adapter = SlackAdapter.from_environment(env, options)
        assert adapter is not None
        bot = make_bot(config, [adapter])
        try:
            reports = [await bot.poll(force=True) for _ in range(5)]
            notices = [
                body
                for body in slack.bodies("chat.postMessage")
                if body.get("channel") == OTHER_CHANNEL
            ]
        finally:
            await adapter.close()
            bot.close()
    assert [report.disabled for report in reports] == [[], [], ["broken"], [], []]
    assert (
        misbehaving_server.hits["/status/500"] == 3
    )  # never polled once disabled, even with --force
    assert len(notices) == 1
    notice_text = str(notices[0])
    assert "broken" in notice_text and "feeds enable" in notice_text
    assert feed_row(bot, "fine").consecutive_failures == 0

    # In a thread: the command runs its own event loop (it tells the admin channels).
    arguments = ["--config", str(config), "feeds", "enable", "broken"]
    result = await asyncio.to_thread(CliRunner().invoke, app, arguments)
    assert result.exit_code == 0, result.output
    row = feed_row(bot, "broken")
    assert row.disabled_at is None and row.consecutive_failures == 0 and row.next_poll_at is None
    bot = make_bot(config)
    try:
        again = await bot.poll()
    finally:
        bot.close()
    assert {line.name: line.status for line in again.feeds}["broken"] == "http-status"
    assert misbehaving_server.hits["/status/500"] == 4


# Distinct words in every title, so the story stage never merges two of them.
WORDS = {
    "oldtimer": ["zebra quartz", "walrus basalt", "heron cobalt", "otter granite"],
    "newbie": ["falcon saffron", "badger pewter", "marten indigo"],
}


def dated_rss(name: str, ages_hours: list[float], now: datetime) -> str:
    items = "".join(
        f"<item><title>{name} {WORDS[name][index]}</title>"
        f"<link>https://{name}.example/{index}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=age), usegmt=True)}</pubDate></item>"
        for index, age in enumerate(ages_hours)
    )
    head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
    return f"{head}{items}</channel></rss>"


async def test_first_poll_and_a_newly_added_feed_post_no_history(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    old_url = feed_server.serve("/old.xml", dated_rss("oldtimer", [1, 30, 100, 2000], now))
    config = write_settings(tmp_path, [("oldtimer", old_url)])
    bot = make_bot(config)
    try:
        await bot.poll()
        first = bot.digests.preview()
    finally:
        bot.close()
    assert [story.title for story in first.stories] == ["oldtimer zebra quartz"]

    added_url = feed_server.serve("/added.xml", dated_rss("newbie", [2, 50, 70], now))
    config = write_settings(tmp_path, [("oldtimer", old_url), ("newcomer", added_url)])
    bot = make_bot(config)
    try:
        await bot.poll()
        second = bot.digests.preview()
        with bot.sessions() as session:
            items = {item.title: item.backfill for item in session.scalars(select(Item))}
    finally:
        bot.close()
    assert sorted(story.title for story in second.stories) == [
        "newbie falcon saffron",
        "oldtimer zebra quartz",
    ]
    assert sum(items.values()) == 5  # 3 old items of the first feed, 2 of the new one: seen
    assert items["newbie badger pewter"] is True


def test_settings_reject_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        Settings.model_validate({"fetch": {"max_body_bytes": 0}})
    with pytest.raises(ValueError):
        Settings.model_validate({"schedule": {"digest_interval_minutes": -1}})


async def test_a_megabyte_title_is_stored_cut_to_a_thousand_characters(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """A 4.8 MB title (within the body cap) made a 24 MB database; now 1,000 characters of
    it are stored, in the item and in the story it starts."""
    from bot.store.items import MAX_TITLE_CHARS
    from bot.store.schema import Story

    published = format_datetime(datetime.now(UTC), usegmt=True)
    title = "Meta releases Llama " + "word " * 960_000  # 4.8 MB
    long_title = feed_server.serve(
        "/long.xml",
        f'<rss version="2.0"><channel><title>L</title><item><title>{title}</title>'
        f"<link>https://news.example/long</link><pubDate>{published}</pubDate>"
        "<description>Meta released Llama today.</description></item></channel></rss>",
    )
    bot = make_bot(write_settings(tmp_path, [("long", long_title)]))
    try:
        report = await bot.poll()
        with bot.sessions() as session:
            item_title = session.scalars(select(Item.title)).one()
            story_title = session.scalars(select(Story.title)).one()
    finally:
        bot.close()
    assert report.feeds[0].status == "ok" and report.new_items == 1
    assert MAX_TITLE_CHARS * 0.8 < len(item_title) <= MAX_TITLE_CHARS
    assert item_title.startswith("Meta releases Llama word word")
    assert item_title.endswith(" word…")  # cut between words
    assert story_title == item_title
    stored = sum(path.stat().st_size for path in tmp_path.glob("bot.db*"))
    assert stored < 1_000_000, stored
