"""Several bots on one database behave like one: every story goes into exactly one digest.

Claims are tested on both databases (a SQLite file and a scratch PostgreSQL database):
in process, with one engine per simulated process and threads released together by a
barrier (many rounds, quickly), and with real ``meta-ai-digest digest`` processes
started together behind a starting gate.
"""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.adapters.terminal import TerminalAdapter
from bot.config import load_settings
from bot.digest.settings import DigestSettings
from bot.outbox.delivery import Outbox
from bot.pipeline import DigestBot
from bot.scheduler import SCHEDULE_ANCHOR, current_slot, firing_key
from bot.services.digests import DigestService
from bot.store.claims import claim, claim_portably
from bot.store.database import (
    SCHEMA_HEAD,
    create_database_engine,
    migrate,
    schema_revision,
    session_factory,
)
from bot.store.schema import (
    Claim,
    DigestRecord,
    Item,
    OutboxMessage,
    Story,
    SubscriptionPost,
)
from tests.fakes.discord_api import FakeDiscord, interaction_create
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import APP_TOKEN as SLACK_APP_TOKEN
from tests.fakes.slack_api import BOT_TOKEN as SLACK_BOT_TOKEN
from tests.fakes.slack_api import DIGEST_CHANNEL, TEAM_ID, USER_ID, FakeSlack
from tests.fakes.webhook_sink import SlackWebhookSink
from tests.harness import eventually, eventually_async, run_bot
from tests.helpers import write_config
from tests.replicas import StartingGate, add_pending_stories, reset_posting, story_ids_in_json

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario

ROUNDS = 8
PROCESSES = 4


@pytest.fixture
def engines(database_url: str) -> Iterator[Callable[[], Engine]]:
    """Engines on the shared database, one per simulated process, disposed afterwards."""
    made: list[Engine] = []

    def make() -> Engine:
        engine = create_database_engine(database_url)
        made.append(engine)
        return engine

    migrate(make())
    yield make
    for engine in made:
        engine.dispose()


def digest_service(engine: Engine, **settings: object) -> DigestService:
    """One process's digest service: its own engine and connection pool, a terminal adapter."""
    sessions = session_factory(engine)
    adapter = TerminalAdapter("json", io.StringIO())
    options = DigestSettings.model_validate({"show_new_sources": False, **settings})
    return DigestService(sessions, options, [adapter], Outbox(sessions, {"terminal": adapter}))


def queue_together(services: list[DigestService]) -> None:
    """Every service queues a digest at the same moment (threads behind a barrier)."""
    barrier = threading.Barrier(len(services))
    errors: list[BaseException] = []

    def queue(service: DigestService) -> None:
        try:
            barrier.wait(timeout=30)
            service.queue()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=queue, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def digests_by_story(sessions: sessionmaker[Session]) -> Counter[str]:
    """How many queued digests hold each story (from the digests as recorded)."""
    with sessions() as session:
        payloads = list(session.scalars(select(DigestRecord.payload)))
    return Counter(str(story["id"]) for payload in payloads for story in payload["stories"])


def test_concurrent_digests_queue_every_story_exactly_once(
    engines: Callable[[], Engine],
) -> None:
    services = [digest_service(engines(), max_stories=50) for _ in range(PROCESSES)]
    sessions = services[0].sessions
    stories = {str(i) for i in add_pending_stories(sessions, 12)}
    for _ in range(ROUNDS):
        reset_posting(sessions)
        queue_together(services)
        assert digests_by_story(sessions) == Counter(dict.fromkeys(stories, 1))
        with sessions() as session:
            digests = session.scalar(select(func.count()).select_from(DigestRecord))
            posted = {
                str(story.id): story.posted_digest_id for story in session.scalars(select(Story))
            }
            messages = session.scalar(select(func.count()).select_from(OutboxMessage))
        # One digest holds them all: the others found nothing left and queued nothing.
        assert digests == 1 and messages == 1
        assert len(set(posted.values())) == 1 and None not in posted.values()


def test_concurrent_digests_of_limited_size_split_the_stories(
    engines: Callable[[], Engine],
) -> None:
    services = [digest_service(engines(), max_stories=3) for _ in range(PROCESSES)]
    sessions = services[0].sessions
    stories = {str(i) for i in add_pending_stories(sessions, 3 * PROCESSES)}
    for _ in range(ROUNDS // 2):
        reset_posting(sessions)
        queue_together(services)
        assert digests_by_story(sessions) == Counter(dict.fromkeys(stories, 1))
        with sessions() as session:
            sizes = [len(p["stories"]) for p in session.scalars(select(DigestRecord.payload))]
        assert sizes == [3] * PROCESSES  # nobody waited for nothing: each took the next three


def test_more_sources_of_a_posted_story_are_announced_by_one_digest_only(
    engines: Callable[[], Engine],
) -> None:
    services = [digest_service(engines(), max_stories=1, show_new_sources=True) for _ in "ab"]
    sessions = services[0].sessions
    [grown] = add_pending_stories(sessions, 1, feed_name="Grown")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        # Posted yesterday with one source; a second outlet's article joined it since.
        story = session.get(Story, grown)
        assert story is not None
        story.posted_at, story.sources_announced = now - timedelta(days=1), 1
        story.posted_digest_id = None
        first = session.scalars(select(Item).where(Item.story_id == grown)).one()
        session.add(
            Item(
                feed_id=first.feed_id,
                guid="second-source",
                url="https://other.example/second",
                normalized_url="https://other.example/second",
                title=first.title,
                published_at=now,
                fetched_at=now,
                kept=True,
                story_id=grown,
            )
        )
        digest = DigestRecord(created_at=now - timedelta(days=1), kind="digest", payload={})
        session.add(digest)
        session.flush()
        story.posted_digest_id = digest.id
    add_pending_stories(sessions, 2, feed_name="New")  # each digest has a new story to carry it

    queue_together(services)

    with sessions() as session:
        payloads = [p for p in session.scalars(select(DigestRecord.payload)) if p]
        announced = session.get(Story, grown)
        assert announced is not None and announced.sources_announced == 2
    updates = [u for p in payloads for u in p.get("updates", []) if u["id"] == str(grown)]
    assert len(payloads) == 2 and len(updates) == 1 and len(updates[0]["new_sources"]) == 1


def test_a_digest_with_nothing_left_to_claim_records_nothing(
    engines: Callable[[], Engine],
) -> None:
    service = digest_service(engines(), max_stories=5)
    add_pending_stories(service.sessions, 2)
    with service.sessions.begin() as session:
        session.execute(update(Story).values(posted_at=datetime.now(UTC)))
    digest, queued = service.queue()
    assert digest.stories == [] and queued == 0
    with service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DigestRecord)) == 0


def test_concurrent_digest_processes_post_every_story_once(
    database_url: str, tmp_path: Path
) -> None:
    """Real `meta-ai-digest digest` processes, started together on one database."""
    engine = create_database_engine(database_url)
    try:
        migrate(engine)
        stories = {str(i) for i in add_pending_stories(session_factory(engine), 12)}
    finally:
        engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(
        '[adapters]\nenabled = ["terminal"]\n'
        "[digest]\nmax_stories = 50\nshow_new_sources = false\n",
        encoding="utf-8",
    )
    env = {"DATABASE_URL": database_url}
    gate = StartingGate(tmp_path / "gate")
    try:
        for _ in range(PROCESSES):
            gate.spawn(["--config", str(config), "digest", "--format", "json"], env)
        gate.open()
        results = gate.communicate(timeout=90)
    finally:
        gate.kill_all()
    assert [code for code, _out, _err in results] == [0] * PROCESSES, results
    # Any process may deliver any queued message (the outbox leases each to one sender), so
    # the stories are counted over everything the processes printed.
    printed = Counter(i for _code, out, _err in results for i in story_ids_in_json(out))
    assert printed == Counter(dict.fromkeys(stories, 1)), printed  # posted once, none lost
    engine = create_database_engine(database_url)
    try:
        sessions = session_factory(engine)
        assert digests_by_story(sessions) == Counter(dict.fromkeys(stories, 1))
        with sessions() as session:
            statuses = Counter(session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent": 1}
    finally:
        engine.dispose()


def test_processes_migrating_a_fresh_database_together_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    """One migrates under the lock; the others wait for it, then find the schema current."""
    gate = StartingGate(tmp_path / "gate")
    try:
        for _ in range(3):
            gate.spawn(["migrate"], {"DATABASE_URL": database_url})
        gate.open()
        results = gate.communicate(timeout=90)
    finally:
        gate.kill_all()
    assert [code for code, _out, _err in results] == [0, 0, 0], [err for *_, err in results]
    engine = create_database_engine(database_url)
    try:
        assert schema_revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()


# --- /meta-ai with two replicas -------------------------------------------------------------


@pytest.fixture
def two_bots(database_url: str, tmp_path: Path) -> Iterator[tuple[DigestBot, DigestBot]]:
    """Two bots (two engines, two process identities) on one database: replicas."""
    config = write_config(tmp_path / "config.toml", [], tmp_path / "unused.db")
    settings = load_settings(config, env={})
    env = {"DATABASE_URL": database_url}
    first, second = DigestBot.migrated(settings, env=env), DigestBot.migrated(settings, env=env)
    second.outbox.identity = "replica-two:4242:1"
    try:
        yield first, second
    finally:
        first.close()
        second.close()


async def test_two_socket_mode_replicas_answer_a_slash_command_once(
    two_bots: tuple[DigestBot, DigestBot], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.slack.commands")
    env = {
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
        "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
    }
    async with FakeSlack() as slack:
        adapters = [
            SlackAdapter.from_environment(env | {"SLACK_API_URL": slack.api_url}, {})
            for _ in two_bots
        ]
        try:
            for adapter, bot in zip(adapters, two_bots, strict=True):
                assert adapter is not None
                await adapter.start(bot.commands)
            command = {
                "team_id": TEAM_ID,
                "channel_id": DIGEST_CHANNEL,
                "user_id": USER_ID,
                "command": "/meta-ai",
                "text": "",
                "response_url": slack.response_url("cmd"),
                "trigger_id": "13.4242.abcdef",
                "api_app_id": "A0001",
            }
            envelope = await slack.send_envelope_to_all("slash_commands", command, connections=2)
            await slack.wait_for(lambda: slack.acks_of(envelope) == 2, timeout=3)  # both ack
            await slack.wait_for(lambda: bool(slack.calls_to("response")))
            await eventually_async(lambda: "another replica answers it" in caplog.text, timeout=5)
        finally:
            for adapter in adapters:
                if adapter is not None:
                    await adapter.close()
        answers = slack.calls_to("response")
    assert len(answers) == 1, [call.body for call in answers]


async def test_two_gateway_replicas_answer_an_interaction_once(
    two_bots: tuple[DigestBot, DigestBot], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.discord")
    async with FakeDiscord() as discord_api:
        env = discord_api.bot_env()
        adapters = [DiscordAdapter.from_environment(env, {}) for _ in two_bots]
        try:
            for adapter, bot in zip(adapters, two_bots, strict=True):
                assert adapter is not None
                await adapter.register_commands(bot.commands)
            event = interaction_create()  # what the gateway hands to every connection
            for adapter in adapters:
                assert adapter is not None and adapter.client is not None
                adapter.client._connection.parse_interaction_create(dict(event))  # type: ignore[arg-type]
            await eventually_async(lambda: "another replica answers it" in caplog.text, timeout=5)
            await discord_api.wait_for(lambda r: r.path.endswith("/callback"))
        finally:
            for adapter in adapters:
                if adapter is not None:
                    await adapter.close()
        callbacks = [r for r in discord_api.requests if r.path.endswith("/callback")]
    assert len(callbacks) == 1


# --- two `run` processes -------------------------------------------------------------------

WORDS = ["ambrel", "brisk", "corvex", "dunlin", "egret", "fennel"]
WORDS += ["gorse", "hazel", "ibex", "jasper", "kestrel", "loam"]
RAN = re.compile(r"(\w+): this replica runs (\S+)")
LEFT = re.compile(r"(\w+): another replica runs (\S+)")


def token(index: int) -> str:
    return f"replicastory{index:02d}"


def replica_feed(count: int) -> str:
    """``count`` stories no two of which the story stage can take for one."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>{token(i)} {WORDS[i]} {WORDS[(i * 5 + 3) % len(WORDS)]}zz</title>"
        f"<link>https://replica.example/{token(i)}</link><guid>{token(i)}</guid>"
        f"<description>The {WORDS[i]} report number {i} says something new.</description>"
        f"<pubDate>{format_datetime(now - timedelta(seconds=count - i), usegmt=True)}"
        "</pubDate></item>"
        for i in range(count)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Replicas</title>'
    return f"{head}{items}</channel></rss>"


def tokens_in(message: object) -> list[str]:
    dumped = json.dumps(message)
    return [token(i) for i in range(len(WORDS)) if token(i) in dumped]


def subscription_posts(database_url: str) -> int:
    engine = create_database_engine(database_url, create=False)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(SubscriptionPost)) or 0
    finally:
        engine.dispose()


def pending_messages(database_url: str) -> int:
    engine = create_database_engine(database_url, create=False)
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(OutboxMessage)
            return connection.scalar(query.where(OutboxMessage.status == "pending")) or 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("route", ["default digest", "subscription"])
def test_two_run_processes_post_each_story_once_and_run_each_firing_once(
    database_url: str, tmp_path: Path, route: str
) -> None:
    """The replicas of the README: two `run` on one database, a poll every 3 s, a digest
    every 1.2 s, stories arriving in two batches, and a manual `digest` in between. The
    channel gets the default digest, or has an instant subscription of its own (its posts
    follow each poll, in whichever replica ran it)."""
    subscription = ["[[subscriptions]]", 'channel = "slack:webhook"', 'schedule = "instant"']
    feeds = FeedServer().start()
    sink = SlackWebhookSink().start()
    gate = StartingGate(tmp_path / "gate")
    half = len(WORDS) // 2
    try:
        url = feeds.serve("/replicas.xml", replica_feed(half))
        config = tmp_path / "config.toml"
        config.write_text(
            "\n".join(
                [
                    "[[feeds]]",
                    'name = "Replica feed"',
                    f'url = "{url}"',
                    'topic = "all"',
                    "[schedule]",
                    "poll_interval_minutes = 0.05",
                    "digest_interval_minutes = 0.02",
                    "[digest]",
                    "max_stories = 2",
                    "show_new_sources = false",
                    "[adapters.slack]",
                    "min_seconds_between_messages = 0",
                    *(subscription if route == "subscription" else []),
                ]
            ),
            encoding="utf-8",
        )
        env = {"DATABASE_URL": database_url, **sink.env}
        run = ["--log-level", "INFO", "--config", str(config), "run"]
        bots = [gate.spawn(run, env) for _ in range(2)]
        gate.open()

        def received() -> Counter[str]:
            return Counter(t for message in sink.snapshot() for t in tokens_in(message))

        def tails() -> str:
            return "\n---\n".join(bot.errors()[-3000:] for bot in bots)

        first = {token(i) for i in range(half)}
        eventually(lambda: first <= set(received()), timeout=40, message=tails)
        feeds.serve("/replicas.xml", replica_feed(len(WORDS)))
        manual = run_bot(["--config", str(config), "digest"], env=env, timeout=60)
        assert manual.returncode == 0, manual.stderr
        everything = {token(i) for i in range(len(WORDS))}

        def skipped_digests() -> int:
            text = "".join(bot.errors() for bot in bots)
            return sum(1 for job, _key in LEFT.findall(text) if job == "post_digest")

        eventually(
            lambda: (
                everything <= set(received())
                and pending_messages(database_url) == 0
                and skipped_digests() >= 3
            ),
            timeout=60,
            message=tails,
        )
        for bot in bots:
            bot.process.send_signal(signal.SIGTERM)
        codes = [bot.process.wait(timeout=15) for bot in bots]
        texts = [bot.errors() for bot in bots]
    finally:
        gate.kill_all()
        sink.stop()
        feeds.stop()

    assert codes == [0, 0], texts
    assert "Traceback" not in "".join(texts)
    # Every story arrived once, and no message twice.
    assert received() == Counter(dict.fromkeys(sorted(everything), 1))
    messages = [json.dumps(message, sort_keys=True) for message in sink.snapshot()]
    assert len(messages) == len(set(messages))
    # Each firing ran in one replica; the other saw it and stepped back.
    ran = [set(RAN.findall(text)) for text in texts]
    left = [set(LEFT.findall(text)) for text in texts]
    assert not ran[0] & ran[1]
    assert left[0] <= ran[1] and left[1] <= ran[0]
    # Both started together: one ran the start-up poll and the day's pruning, too.
    assert {job for job, _key in left[0] | left[1]} == {"poll", "post_digest", "prune"}
    # The subscribed channel got every story through its subscription, recorded once each.
    posted = subscription_posts(database_url)
    assert posted == (len(WORDS) if route == "subscription" else 0)


def test_a_firing_has_one_key_in_every_replica() -> None:
    interval = timedelta(minutes=0.02)  # 1.2 s, as in the run test
    trigger = IntervalTrigger(minutes=0.02, start_date=SCHEDULE_ANCHOR, timezone=UTC)
    now = datetime.now(UTC)
    # A replica started long ago steps from firing to firing; one started now computes the
    # next firing from scratch. APScheduler does both in floating point: same key.
    fresh = trigger.get_next_fire_time(None, now)
    stepped = trigger.get_next_fire_time(None, now - timedelta(hours=5))
    while stepped < fresh:
        stepped = trigger.get_next_fire_time(stepped, stepped)
    assert firing_key("post_digest", fresh, interval) == firing_key(
        "post_digest", stepped, interval
    )
    jittered = fresh + timedelta(microseconds=1)
    assert firing_key("poll", jittered, interval) == firing_key("poll", fresh, interval)
    slot = current_slot(now, interval)
    assert slot <= now < slot + interval and fresh in (slot, slot + interval)
    # A cron firing, in the schedule's zone, keys in UTC.
    paris = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert firing_key("post_digest", paris, None) == "post_digest@2026-12-01T09:00:00+00:00"


def test_a_key_is_claimed_once_on_every_database(engines: Callable[[], Engine]) -> None:
    sessions = session_factory(engines())
    now = datetime.now(UTC)
    with sessions.begin() as session:
        assert claim(session, "poll@2026-12-01T09:30:00+00:00", "here", now)
        assert not claim(session, "poll@2026-12-01T09:30:00+00:00", "there", now)
        # The path for databases without ON CONFLICT, exercised on this one.
        assert claim_portably(session, Claim(key="slack:1.2", claimed_by="here", claimed_at=now))
        assert not claim_portably(
            session, Claim(key="slack:1.2", claimed_by="there", claimed_at=now)
        )
    with sessions() as session:
        holders = {
            key: holder for key, holder in session.execute(select(Claim.key, Claim.claimed_by))
        }
    assert holders == {"poll@2026-12-01T09:30:00+00:00": "here", "slack:1.2": "here"}
