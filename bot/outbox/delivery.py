"""The outbox: digests → adapters, crash-safe.

A digest is rendered for every (adapter, destination) and every message is
stored *before* anything is sent, in the same transaction that marks its
stories posted; a message is marked sent only after the platform confirmed it.
After a crash the next start sends what is still pending, so no story is lost,
and at most the one message in flight per destination at the crash can be sent
twice (Discord drops even that one: the outbox key becomes its ``nonce``, sent
with ``enforce_nonce``). docs/reliability.md states the guarantee precisely.

Messages to one destination go strictly in order: when one fails, the later
ones wait. A 429 waits Retry-After, other transient errors back off
exponentially with jitter, permanent errors (bad token, unknown channel, no
permission) block the destination's queue until an admin fixes the cause;
``meta-ai-digest status`` shows why.

Before sending, a process takes a lease on the message (``claimed_by``,
``claimed_until``) with a conditional UPDATE, so processes sharing the database
(replicas, or ``run`` and a manual ``digest``) never send the same message at
once. The lease lasts the adapter's own bound on one send
(``ChatAdapter.send_timeout_seconds``, derived from its request timeout and
retries) plus :data:`LEASE_MARGIN_SECONDS`, so it outlives every send; the
outbox stops waiting for a send at that same bound. A lease left by a process
that died on this host is released at once; one from another host expires.

A send that timed out after its request went out may have been posted
(``TransientDeliveryError.maybe_delivered``, or the outbox's own bound): it is
not sent again in the same delivery run, nor before its lease would have
expired.

A message the platform accepted is never sent again because the database
blinked: "sent" is recorded before the lease is released, and when the
database does not answer, recording is retried (every
:data:`RECORD_RETRY_MAX_SECONDS` at most) until it does, the message kept in
memory as sent meanwhile, so this process never posts it again, and its lease
held so that no other process does. A lease this process holds itself is no
licence to send: it means an earlier attempt's outcome was never recorded, so
the message waits for the lease to expire like anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.base import (
    ChatAdapter,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from bot.common.retry import capped_backoff
from bot.common.times import utc_now
from bot.digest.model import Digest, Notice, StoryUpdate
from bot.store.outbox import (
    OutboxRecord,
    due_messages,
    live_leases,
    mark_failed,
    mark_sent,
    release_lease,
    store_messages,
    take_lease,
    thread_of,
    unblock_messages,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 15 * 60.0
# A blocked queue is tried again this often, in case the admin fixed the cause.
BLOCKED_RETRY = timedelta(hours=1)
# A lease outlives the adapter's bound on one send by this much: time to record the outcome.
LEASE_MARGIN_SECONDS = 30.0
# Recording a sent message is retried this often at most while the database is away: soon
# after it is back, well before the lease (at least LEASE_MARGIN_SECONDS) runs out.
RECORD_RETRY_MAX_SECONDS = 2.0


def lease_seconds(adapter: ChatAdapter) -> float:
    """How long a message is leased to the process sending it through ``adapter``."""
    return adapter.send_timeout_seconds + LEASE_MARGIN_SECONDS


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Retry-After when the platform gave one, else capped exponential backoff with jitter.

    Attempt 1 waits 2.5-5 s, attempt 2 5-10 s, ... at most 7.5-15 min ("equal
    jitter": half fixed, half random, so retries of many bots do not align).
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    base = capped_backoff(attempts, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS)
    return base / 2 + random.uniform(0, base / 2)


def process_identity() -> str:
    """``host:pid:start`` naming this process; ``start`` tells a reused pid apart."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_ticks(pid)}"


def process_start_ticks(pid: int) -> str:
    """The process start time in clock ticks since boot (Linux), or "?" elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return "?"
    # Field 22; the command name (field 2) may hold spaces, so count from its ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else "?"


def holder_is_dead(identity: str) -> bool:
    """True only when the lease holder provably no longer runs (same host, pid gone or reused)."""
    host, _, rest = identity.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by someone else
    return start not in ("", "?") and process_start_ticks(pid) not in (start, "?")


#: One channel: the adapter that posts there and its destination there.
Target = tuple[ChatAdapter, str]


def digest_targets(
    adapters: Sequence[ChatAdapter], skip: Collection[tuple[str, str]] = ()
) -> list[Target]:
    """Every adapter's digest destinations, but those in ``skip`` (``(adapter name,
    destination)``: channels with a subscription of their own get only that)."""
    return [
        (adapter, destination)
        for adapter in adapters
        for destination in adapter.destinations()
        if (adapter.name, destination) not in skip
    ]


def enqueue(
    session: Session,
    adapters: Sequence[ChatAdapter],
    item: Digest | Notice,
    *,
    digest_id: int | None = None,
    admin: bool = False,
    skip: Collection[tuple[str, str]] = (),
) -> int:
    """Render ``item`` for every adapter destination (its admin destinations for ``admin``;
    none in ``skip``) and store the messages; returns the count."""
    count = 0
    for adapter in adapters:
        destinations = adapter.admin_destinations() if admin else adapter.destinations()
        wanted = [d for d in destinations if (adapter.name, d) not in skip]
        if not wanted:
            continue
        payloads = adapter.render_notice(item) if isinstance(item, Notice) else adapter.render(item)
        for destination in wanted:
            count += len(store_messages(session, adapter.name, destination, payloads, digest_id))
    return count


def enqueue_digest(
    session: Session,
    targets: Sequence[Target],
    digest: Digest,
    updates: Sequence[tuple[int | None, StoryUpdate]],
    digest_id: int,
) -> int:
    """A digest and its stories' updates for every target channel: the updates inside
    the digest where the adapter shows them there, as messages of their own (replies
    under each story's post) elsewhere. Returns the number of messages stored."""
    count = 0
    inline = digest.model_copy(update={"updates": [update for _posted_in, update in updates]})
    for adapter, destination in targets:
        shown = digest if adapter.separate_updates(destination) else inline
        if shown.stories or shown.updates:
            payloads = adapter.render(shown)
            count += len(store_messages(session, adapter.name, destination, payloads, digest_id))
    return count + enqueue_updates(session, targets, updates, digest_id)


def enqueue_updates(
    session: Session,
    targets: Sequence[Target],
    updates: Sequence[tuple[int | None, StoryUpdate]],
    digest_id: int | None = None,
) -> int:
    """Each update (with the digest that posted its story) to every target channel, as
    a reply to the message that carried the story there when the platform threads."""
    count = 0
    for posted_in, story_update in updates:
        for adapter, destination in targets:
            if not adapter.separate_updates(destination):
                continue  # in the digest itself (see enqueue_digest)
            parent = thread_of(session, posted_in, adapter.name, destination)
            payloads = adapter.render_update(story_update, parent)
            count += len(store_messages(session, adapter.name, destination, payloads, digest_id))
    return count


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)
    #: Why messages still pending failed in this pass ("slack webhook: ..."), one line each.
    retrying: list[str] = field(default_factory=list)
    #: Messages whose send timed out after the request went out: perhaps posted, not resent
    #: in this run.
    in_doubt: list[int] = field(default_factory=list)

    def then(self, later: DeliveryReport) -> DeliveryReport:
        """This pass followed by ``later``: what both sent and said; what still waits."""
        return DeliveryReport(
            sent=self.sent + later.sent,
            waiting=later.waiting,
            errors=[*self.errors, *later.errors],
            retrying=[*self.retrying, *later.retrying],
            in_doubt=[*self.in_doubt, *later.in_doubt],
        )


def release_dead_claims(session: Session, now: datetime) -> int:
    """Release leases whose holder died on this host (``kill -9``), so sending resumes at once."""
    released = 0
    for message_id, holder in live_leases(session, now):
        if holder and holder_is_dead(holder):
            release_lease(session, message_id, holder)
            released += 1
    return released


class Outbox:
    """Sends pending outbox messages through the adapters, one destination at a time."""

    def __init__(
        self, sessions: sessionmaker[Session], adapters: Mapping[str, ChatAdapter]
    ) -> None:
        self.sessions = sessions
        self.adapters = dict(adapters)
        self.identity = process_identity()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._stopped = asyncio.Event()
        # Messages the platform accepted whose "sent" the database has not recorded yet
        # (id → platform message id): never sent again, recorded at the next chance.
        self.unrecorded: dict[int, str | None] = {}

    def unblock_all(self) -> int:
        """At start-up: messages blocked by an earlier run get another chance (see
        :func:`unblock_all`); how many."""
        with self.sessions.begin() as session:
            return unblock_all(session)

    def stop(self) -> None:
        """Shutdown: finish the message being sent, start no other, wait for no retry."""
        self._stopping = True
        self._stopped.set()

    async def deliver(
        self, max_wait_seconds: float = 0.0, only: Collection[int] | None = None
    ) -> DeliveryReport:
        """Send everything due (``only`` these messages, when given: a channel test); wait for
        short retry delays up to ``max_wait_seconds`` in all."""
        async with self._lock:
            report = DeliveryReport()
            deadline = asyncio.get_running_loop().time() + max_wait_seconds
            while not self._stopping:
                wait = await self._pass(report, only)
                remaining = deadline - asyncio.get_running_loop().time()
                if wait is None or wait > remaining or self._stopping:
                    break
                # Sleep until the retry is due, or until shutdown asks us to stop waiting.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=max(0.0, wait))
            return report

    async def _pass(
        self, report: DeliveryReport, only: Collection[int] | None = None
    ) -> float | None:
        """One pass over all queues; returns seconds until the next retry is due, if any."""
        for message_id, platform_id in list(self.unrecorded.items()):
            await self._record_sent(message_id, platform_id)
        now = utc_now()
        messages = await asyncio.to_thread(self._load, now)
        if only is not None:
            messages = [message for message in messages if message.id in only]
        queues: dict[tuple[str, str], list[OutboxRecord]] = {}
        for message in messages:
            queues.setdefault((message.adapter, message.destination), []).append(message)
        sent_before = report.sent
        results = await asyncio.gather(
            *(self._drain(queue, report, now) for queue in queues.values())
        )
        pending_waits = [wait for wait in results if wait is not None]
        # Every message loaded was pending; those this pass sent are not any more.
        report.waiting = len(messages) - (report.sent - sent_before)
        return min(pending_waits) if pending_waits else None

    def _load(self, now: datetime) -> list[OutboxRecord]:
        with self.sessions.begin() as session:
            release_dead_claims(session, now)
            return due_messages(session, list(self.adapters), now)

    async def _drain(
        self, queue: list[OutboxRecord], report: DeliveryReport, now: datetime
    ) -> float | None:
        """Send one destination's messages in order; stop at the first failure."""
        for message in queue:
            if message.id in self.unrecorded:
                continue  # posted; the pass recorded it or will
            if self._stopping or message.id in report.in_doubt:
                return None
            if message.next_attempt_at is not None and message.next_attempt_at > now:
                return (
                    (message.next_attempt_at - now).total_seconds() if not message.blocked else None
                )
            if not await asyncio.to_thread(self._claim, message):
                log.info(
                    "outbox message %d is being sent by another process; its queue waits",
                    message.id,
                )
                return None
            failed = await self._send(message, report)
            if failed is not None:
                return None if message.id in report.in_doubt else self._retry_wait(failed)
        return None

    def _retry_wait(self, message: OutboxRecord) -> float | None:
        if message.blocked or message.next_attempt_at is None:
            return None
        return max(0.0, (message.next_attempt_at - utc_now()).total_seconds())

    async def _send(self, message: OutboxRecord, report: DeliveryReport) -> OutboxRecord | None:
        """Send one claimed message and record the result: None when it was delivered, else
        the message as its failure was recorded (attempts, blocked, next attempt)."""
        adapter = self.adapters[message.adapter]
        bound = adapter.send_timeout_seconds
        try:
            try:
                async with asyncio.timeout(bound):
                    platform_id = await adapter.send(
                        message.destination, message.payload, key=message.idempotency_key
                    )
            except TimeoutError:
                raise TransientDeliveryError(
                    f"no answer within {bound:g} s; the platform may have posted it",
                    maybe_delivered=True,
                ) from None
        except PermanentDeliveryError as error:
            failed = await asyncio.to_thread(
                self._mark_failed, message, str(error), BLOCKED_RETRY.total_seconds(), True
            )
            report.errors.append(f"{message.adapter} {message.destination}: {error}")
            log.error("delivery to %s %s blocked: %s", message.adapter, message.destination, error)
            return failed
        except Exception as error:  # transient: a platform hiccup or an adapter bug
            retry_after = error.retry_after if isinstance(error, TransientDeliveryError) else None
            delay = retry_delay(message.attempts + 1, retry_after)
            detail = f"{type(error).__name__}: {error}"
            if isinstance(error, TransientDeliveryError) and error.maybe_delivered:
                # Sending it again now could post it twice: not before the lease would have
                # expired (when any other replica could), and not in this run.
                delay = max(delay, lease_seconds(adapter))
                report.in_doubt.append(message.id)
                detail += "; not sent again before the retry time"
            failed = await asyncio.to_thread(self._mark_failed, message, detail, delay, False)
            report.retrying.append(f"{message.adapter} {message.destination}: {error}")
            log.warning(
                "delivery to %s %s failed, retry in %.0fs: %s",
                message.adapter,
                message.destination,
                delay,
                error,
            )
            return failed
        await self._record_sent(message.id, platform_id)
        report.sent += 1
        return None

    async def _record_sent(self, message_id: int, platform_id: str | None) -> None:
        """Record a message the platform accepted as sent, retrying until the database
        answers; until then it is in :attr:`unrecorded` and its lease stays held."""
        self.unrecorded[message_id] = platform_id
        attempts = 0
        while True:
            try:
                await asyncio.to_thread(self._mark_sent, message_id, platform_id)
            except Exception as error:
                attempts += 1
                if attempts == 1:
                    log.warning(
                        "outbox message %d was posted but recording it failed (%s: %s); "
                        "retrying until the database answers, it is not posted again",
                        message_id,
                        type(error).__name__,
                        error,
                    )
                await asyncio.sleep(min(RECORD_RETRY_MAX_SECONDS, 0.25 * 2**attempts))
                continue
            del self.unrecorded[message_id]
            if attempts:
                log.warning("outbox message %d recorded as sent", message_id)
            return

    def _claim(self, message: OutboxRecord) -> bool:
        """Take the lease on a pending message, unless another live process holds it."""
        now = utc_now()
        until = now + timedelta(seconds=lease_seconds(self.adapters[message.adapter]))
        with self.sessions.begin() as session:
            # Not when this process holds a live lease itself: that means an earlier
            # attempt's outcome went unrecorded (perhaps posted).
            return take_lease(session, message.id, self.identity, now, until)

    def _mark_sent(self, message_id: int, platform_id: str | None) -> None:
        with self.sessions.begin() as session:
            mark_sent(session, message_id, platform_id)

    def _mark_failed(
        self, message: OutboxRecord, error: str, delay: float, blocked: bool
    ) -> OutboxRecord:
        """Record a failed attempt; the message as recorded (as loaded, if it is gone)."""
        with self.sessions.begin() as session:
            next_attempt_at = utc_now() + timedelta(seconds=delay)
            return mark_failed(session, message.id, error, next_attempt_at, blocked) or message


def unblock_all(session: Session) -> int:
    """At start-up, give blocked queues a new chance: the admin may have fixed the cause.

    Only blocked messages: one waiting for a platform's Retry-After keeps waiting.
    Returns how many were unblocked.
    """
    release_dead_claims(session, utc_now())
    return unblock_messages(session)
