"""The outbox against real adapters and fake chat APIs: rate limits wait
Retry-After, server errors back off with jitter, permanent errors block one
destination (and show in ``status``) without touching the others, messages to a
destination keep their order, two processes never send the same message, and
Discord's nonce makes a resend after a crash harmless.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.adapters.base import ChatAdapter
from bot.adapters.discord import DiscordAdapter
from bot.adapters.slack import SlackAdapter
from bot.cli import app
from bot.digest.model import Digest
from bot.outbox.delivery import (
    LEASE_MARGIN_SECONDS,
    RETRY_BASE_SECONDS,
    Outbox,
    enqueue,
    holder_is_dead,
    lease_seconds,
    process_identity,
    retry_delay,
    unblock_all,
)
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import OutboxMessage
from tests.builders import digest, slack_adapter
from tests.fakes.discord_api import CHANNEL_ID, FakeDiscord
from tests.fakes.slack_api import (
    BOT_TOKEN,
    DIGEST_CHANNEL,
    OTHER_CHANNEL,
    OUTSIDER_CHANNEL,
    SIGNING_SECRET,
    FakeSlack,
    ratelimited,
    slack_error,
)
from tests.fakes.webhook_sink import SlackWebhookSink
from tests.harness import run_bot_async
from tests.replicas import add_pending_stories


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def queue(sessions: sessionmaker[Session], adapters: list[ChatAdapter], *items: Digest) -> None:
    with sessions.begin() as session:
        for item in items:
            enqueue(session, adapters, item)


def rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def make_due(sessions: sessionmaker[Session]) -> None:
    """Pretend the retry time has come (instead of sleeping through it)."""
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=None))


def test_retry_delay_backs_off_exponentially_with_equal_jitter() -> None:
    random.seed(7)
    for attempt in range(1, 12):
        base = min(15 * 60.0, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        delays = {retry_delay(attempt, None) for _ in range(50)}
        assert all(base / 2 <= delay <= base for delay in delays)
        assert len(delays) > 40  # jittered, not one fixed value
    assert retry_delay(3, 42.0) == 42.0  # a platform's Retry-After is obeyed exactly


async def test_rate_limit_waits_retry_after_then_sends(
    slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    adapter = slack_adapter(slack, [DIGEST_CHANNEL], max_retry_after_seconds=0)
    outbox = Outbox(sessions, {"slack": adapter})
    queue(sessions, [adapter], digest("a"))
    slack.script("chat.postMessage", ratelimited(40))
    try:
        before = datetime.now(UTC)
        report = await outbox.deliver()
        [row] = rows(sessions)
        assert report.sent == 0 and row.status == "pending" and not row.blocked
        assert row.next_attempt_at is not None
        waited = (row.next_attempt_at - before).total_seconds()
        assert 39 <= waited <= 42  # exactly Retry-After, no backoff, no jitter
        assert (await outbox.deliver()).sent == 0  # not due yet: no request at all
        assert len(slack.calls_to("chat.postMessage")) == 1
        make_due(sessions)
        assert (await outbox.deliver()).sent == 1
    finally:
        await adapter.close()
    [row] = rows(sessions)
    assert row.status == "sent" and row.attempts == 2 and row.platform_message_id


async def test_server_errors_are_retried_with_backoff_within_one_delivery(
    slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    adapter = slack_adapter(slack, [DIGEST_CHANNEL])
    outbox = Outbox(sessions, {"slack": adapter})
    queue(sessions, [adapter], digest("b"))
    slack.script("chat.postMessage", slack_error("internal_error", 500))
    try:
        report = await outbox.deliver(max_wait_seconds=10)
    finally:
        await adapter.close()
    calls = slack.calls_to("chat.postMessage")
    assert report.sent == 1 and len(calls) == 2
    gap = calls[1].at - calls[0].at
    assert RETRY_BASE_SECONDS / 2 - 0.1 <= gap <= RETRY_BASE_SECONDS + 1  # first backoff step
    [row] = rows(sessions)
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None


async def test_permanent_error_blocks_only_its_destination_and_shows_in_status(
    slack: FakeSlack, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    adapter = slack_adapter(slack, [OUTSIDER_CHANNEL, DIGEST_CHANNEL])
    outbox = Outbox(sessions, {"slack": adapter})
    queue(sessions, [adapter], digest("c"), digest("d"))
    try:
        first = await outbox.deliver(max_wait_seconds=5)
        second = await outbox.deliver(max_wait_seconds=5)
    finally:
        await adapter.close()
    assert first.sent == 2 and len(first.errors) == 1 and "not_in_channel" in first.errors[0]
    assert second.sent == 0 and second.errors == []  # blocked: not hammered again
    outsider_calls = [
        c for c in slack.calls_to("chat.postMessage") if c.body.get("channel") == OUTSIDER_CHANNEL
    ]
    assert len(outsider_calls) == 1  # and the later digest to it waits behind the first
    states = [(row.destination, row.status, row.blocked) for row in rows(sessions)]
    assert states == [
        (OUTSIDER_CHANNEL, "pending", True),
        (DIGEST_CHANNEL, "sent", False),
        (OUTSIDER_CHANNEL, "pending", False),
        (DIGEST_CHANNEL, "sent", False),
    ]
    with sessions.begin() as session:
        assert unblock_all(session) == 1  # `run` gives blocked queues a new chance at start
    assert [row.blocked for row in rows(sessions)] == [False] * 4


async def test_status_command_lists_blocked_deliveries_with_the_reason(
    slack: FakeSlack, tmp_path: Path
) -> None:
    database = tmp_path / "status.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine)
    sessions = session_factory(engine)
    adapter = slack_adapter(slack, [OUTSIDER_CHANNEL])
    queue(sessions, [adapter], digest("e"))
    try:
        await Outbox(sessions, {"slack": adapter}).deliver()
    finally:
        await adapter.close()
        engine.dispose()
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["--config", str(config), "status"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "BLOCKED" in result.output and OUTSIDER_CHANNEL in result.output
    assert "not_in_channel" in result.output and "invite" in result.output


async def test_a_failed_message_holds_back_the_later_ones_of_its_destination(
    slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    adapter = slack_adapter(slack, [DIGEST_CHANNEL, OTHER_CHANNEL])
    outbox = Outbox(sessions, {"slack": adapter})
    queue(sessions, [adapter], digest("first"), digest("second"))
    slack.script("chat.postMessage", slack_error("internal_error", 500))
    try:
        await outbox.deliver()
        sent_first = [c.body["channel"] for c in slack.calls_to("chat.postMessage")]
        make_due(sessions)
        await outbox.deliver()
    finally:
        await adapter.close()
    # The channels are sent to concurrently, so either may meet the error; the
    # one that did failed at its first message and sent nothing more in that
    # pass, while the other sent both of its messages.
    assert sorted(Counter(sent_first).values()) == [1, 2]
    assert set(sent_first) == {DIGEST_CHANNEL, OTHER_CHANNEL}
    for channel in (DIGEST_CHANNEL, OTHER_CHANNEL):
        texts = [
            str(c.body) for c in slack.calls_to("chat.postMessage") if c.body["channel"] == channel
        ]
        firsts = [i for i, t in enumerate(texts) if "Story first" in t]
        seconds = [i for i, t in enumerate(texts) if "Story second" in t]
        assert max(firsts) < min(seconds), channel  # order kept, retries included
    assert all(row.status == "sent" for row in rows(sessions))


async def test_two_processes_never_send_the_same_message(
    sessions: sessionmaker[Session],
) -> None:
    sink = SlackWebhookSink(latency=(0.3, 0.3)).start()
    try:
        adapters = [
            SlackAdapter.from_environment(sink.env, {"min_seconds_between_messages": 0})
            for _ in range(2)
        ]
        first, second = (a for a in adapters if a is not None)
        queue(sessions, [first], *(digest(f"p{index}", 1) for index in range(4)))
        here = Outbox(sessions, {"slack": first})
        there = Outbox(sessions, {"slack": second})
        there.identity = "another-host:4242:1"  # a live process elsewhere
        reports = await asyncio.gather(here.deliver(max_wait_seconds=5), there.deliver(5))
        await asyncio.gather(first.close(), second.close())
        for _ in range(8):  # whoever stopped early finishes the queue
            if all(row.status == "sent" for row in rows(sessions)):
                break
            await here.deliver()
        received = sink.snapshot()
    finally:
        sink.stop()
    assert sum(report.sent for report in reports) <= 4
    assert len(received) == 4, [str(p)[:60] for p in received]  # each exactly once
    assert all(row.status == "sent" and row.claimed_by is None for row in rows(sessions))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_a_lease_left_by_a_killed_process_is_released_and_one_from_elsewhere_is_not(
    sessions: sessionmaker[Session],
) -> None:
    sink = SlackWebhookSink().start()
    adapter = SlackAdapter.from_environment(sink.env, {"min_seconds_between_messages": 0})
    assert adapter is not None
    queue(sessions, [adapter], digest("lease", 1))
    until = datetime.now(UTC) + timedelta(minutes=3)
    try:
        with sessions.begin() as session:
            session.execute(
                update(OutboxMessage).values(claimed_by="elsewhere:1:1", claimed_until=until)
            )
        outbox = Outbox(sessions, {"slack": adapter})
        assert (await outbox.deliver()).sent == 0  # another host's lease is respected
        killed = f"{socket.gethostname()}:{dead_pid()}:12345"
        assert holder_is_dead(killed) and not holder_is_dead(process_identity())
        with sessions.begin() as session:
            session.execute(update(OutboxMessage).values(claimed_by=killed, claimed_until=until))
        assert (await outbox.deliver()).sent == 1  # a dead local holder's lease is not
    finally:
        await adapter.close()
        sink.stop()
    assert len(sink.snapshot()) == 1


def test_every_message_gets_its_own_random_idempotency_key(
    sessions: sessionmaker[Session],
) -> None:
    adapter = SlackAdapter.from_environment(
        {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/abcdefghijklmnop"}, {}
    )
    assert adapter is not None
    queue(sessions, [adapter], digest("k1"), digest("k2"))
    keys = [row.idempotency_key for row in rows(sessions)]
    assert len(set(keys)) == len(keys) == 2
    assert all(key.startswith("mad-") and len(key) == 20 for key in keys)


async def test_discord_nonce_makes_a_resend_after_a_crash_harmless(
    sessions: sessionmaker[Session],
) -> None:
    async with FakeDiscord() as discord_api:
        env = discord_api.bot_env(guild=False)
        adapter = DiscordAdapter.from_environment(env, {})
        assert adapter is not None
        outbox = Outbox(sessions, {"discord": adapter})
        queue(sessions, [adapter], digest("nonce", 3))
        try:
            first = await outbox.deliver(max_wait_seconds=5)
            # A crash between the platform's answer and our "sent" mark: it is pending again.
            with sessions.begin() as session:
                session.execute(update(OutboxMessage).values(status="pending", sent_at=None))
            again = await outbox.deliver(max_wait_seconds=5)
        finally:
            await adapter.close()
        posts = discord_api.made("POST", f"/channels/{CHANNEL_ID}/messages")
        created = list(discord_api.messages)
    assert first.sent == again.sent == len(rows(sessions)) >= 1
    assert len(posts) == 2 * first.sent  # every message really was sent twice ...
    assert len(created) == first.sent  # ... and Discord created each only once
    assert all(post.body.get("enforce_nonce") is True for post in posts)


def test_holder_identity_names_this_process() -> None:
    host, pid, start = process_identity().split(":")
    assert host == socket.gethostname() and int(pid) == os.getpid() and start


# --- a slow platform: the request timeout and the lease agree --------------------------------


def test_the_lease_is_derived_from_the_adapters_request_timeout() -> None:
    env = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/abcdefghijklmnop"}
    for timeout in (1, 30, 120):
        adapter = SlackAdapter.from_environment(env, {"request_timeout_seconds": timeout})
        assert adapter is not None
        # Every attempt may use its whole request timeout, plus the waits between them.
        attempts = adapter.settings.options.max_retries + 1
        assert adapter.send_timeout_seconds >= attempts * timeout
        assert lease_seconds(adapter) == adapter.send_timeout_seconds + LEASE_MARGIN_SECONDS


async def test_a_slow_post_within_the_request_timeout_is_sent_once_and_stays_leased(
    slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    adapter = slack_adapter(slack, [DIGEST_CHANNEL], request_timeout_seconds=3)
    elsewhere = slack_adapter(slack, [DIGEST_CHANNEL], request_timeout_seconds=3)
    here = Outbox(sessions, {"slack": adapter})
    there = Outbox(sessions, {"slack": elsewhere})
    there.identity = "another-host:4242:1"  # a replica on another machine
    queue(sessions, [adapter], digest("slow", 1))
    slack.slow("chat.postMessage", 1.5)  # posted at once, answered 1.5 s later
    try:
        sending = asyncio.create_task(here.deliver(max_wait_seconds=30))
        await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 1)
        [row] = rows(sessions)
        assert row.claimed_by == here.identity and row.claimed_until is not None
        left = (row.claimed_until - datetime.now(UTC)).total_seconds()
        assert left >= adapter.send_timeout_seconds  # the lease outlives the whole send
        assert (await there.deliver(max_wait_seconds=0)).sent == 0  # so the replica waits
        report = await sending
    finally:
        await asyncio.gather(adapter.close(), elsewhere.close())
    assert report.sent == 1 and report.in_doubt == []
    assert len(slack.calls_to("chat.postMessage")) == 1
    [row] = rows(sessions)
    assert row.status == "sent" and row.attempts == 1 and row.claimed_by is None


async def test_a_post_answered_after_the_request_timeout_is_not_sent_again_in_that_run(
    slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    adapter = slack_adapter(slack, [DIGEST_CHANNEL], request_timeout_seconds=1)
    outbox = Outbox(sessions, {"slack": adapter})
    queue(sessions, [adapter], digest("late", 1))
    slack.slow("chat.postMessage", 1.6)  # Slack posts it, but answers after the timeout
    try:
        started = datetime.now(UTC)
        report = await outbox.deliver(max_wait_seconds=60)
        took = (datetime.now(UTC) - started).total_seconds()
        [row] = rows(sessions)
        assert report.sent == 0 and report.in_doubt == [row.id] and report.errors == []
        assert took < 10  # it did not wait for a retry it must not make
        assert len(slack.calls_to("chat.postMessage")) == 1
        assert row.status == "pending" and not row.blocked and row.attempts == 1
        assert row.last_error is not None and "may have posted" in row.last_error
        assert row.next_attempt_at is not None
        due_in = (row.next_attempt_at - started).total_seconds()
        assert due_in >= lease_seconds(adapter) - 1  # not before any replica could
        assert (await outbox.deliver(max_wait_seconds=0)).sent == 0  # a later pass waits too
        assert len(slack.calls_to("chat.postMessage")) == 1
        make_due(sessions)  # the retry time came: sent again (the documented repeat)
        assert (await outbox.deliver(max_wait_seconds=0)).sent == 1
    finally:
        await adapter.close()
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_digest_does_not_post_again_what_slack_answered_too_late(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """The issue's case, through the real command: Slack posts the message but answers
    after the request timeout; `digest` used to post it again and again until it gave up."""
    database = tmp_path / "bot.db"
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine)
    add_pending_stories(session_factory(engine), 2)
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n'
        "[adapters.slack]\nrequest_timeout_seconds = 1\nmax_retries = 0\n"
        "min_seconds_between_messages = 0\n",
        encoding="utf-8",
    )
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,  # HTTP mode; `digest` serves no commands
        "SLACK_API_URL": slack.api_url,
        "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
    }
    slack.slow("chat.postMessage", 1.6)
    done = await run_bot_async(["--config", str(config), "digest"], env=env, timeout=60)
    errors = done.stderr
    # Not delivered for sure: exit 1 with the reason, and the message stays pending.
    assert done.returncode == 1, errors
    assert "1 message still pending" in errors
    # The SDK's request timeout or the outbox's send bound, whichever ends it first.
    assert "not delivered: slack C0DIGEST1: " in errors
    assert "may have posted" in errors
    assert len(slack.calls_to("chat.postMessage")) == 1
