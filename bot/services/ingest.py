"""Feeds into the store: which feeds are due, one cycle's fetches, new items with their topic
verdicts, and the article text of items whose feed gave only a snippet.

Database work runs in worker threads so the event loop stays free for chat commands. A
cycle of many feeds puts its CPU work on every core: documents are parsed, and new
entries classified, in worker processes (bot.common.workers), while the event loop keeps
fetching. Outcomes are stored in batches as they arrive (one transaction per batch), and
an entry already stored (by guid or normalised link) is recognised before the topic rules
see it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from bot.common.hosts import is_aggregator_url
from bot.common.times import utc_now
from bot.common.workers import WorkerDied, WorkerPool
from bot.feeds.errors import FailureKind, FetchError, ParseError
from bot.feeds.http import HttpFetcher
from bot.feeds.poller import FeedTask, Parse, poll_in_batches
from bot.feeds.records import FeedEntry, FeedOutcome, ParsedFeed
from bot.feeds.schedule import is_due, next_poll
from bot.services.articles import article_text
from bot.services.entries import Prepared, prepare_entry, prepare_in_worker
from bot.services.poll_report import FeedReport, PollReport
from bot.store.bounds import UnstorableValueError
from bot.store.database import DataError, IntegrityError
from bot.store.feeds import (
    SOURCE_ADDED,
    FeedRecord,
    Poll,
    feeds_named,
    health_of,
    is_active,
    record_polls,
    sync_feeds,
    validators_of,
)
from bot.store.items import (
    NewItem,
    SeenEntries,
    add_items,
    fresh_items,
    is_backfill,
    store_full_texts,
)
from bot.topic.classifier import TopicClassifier, TopicVerdict, use_in_worker

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.feeds.settings import FeedConfig, FetchSettings
    from bot.summarize.summarizer import Summarizer
    from bot.topic.settings import TopicSettings

log = logging.getLogger(__name__)

# What the database refuses because of a value a feed sent (too long for a bound nobody
# declared, a byte PostgreSQL rejects); never a lost connection (OperationalError).
REFUSED_BY_DATABASE = (DataError, IntegrityError, UnstorableValueError)

ALL_ON_TOPIC = TopicVerdict(keep=True, score=0.0, reasons=('feed marked topic = "all"',))

OnFeedDone = Callable[[FeedOutcome], None]
OnStart = Callable[[int], None]
# (item id, article text or None, full_text_status)
FullText = tuple[int, str | None, str]
# Outcomes stored per transaction: large enough to amortise a commit, small enough that a
# batch's parsed documents are all the memory a cycle holds.
STORE_BATCH = 50
# Below this many feeds a cycle parses in a thread: starting worker processes costs more.
WORKERS_FROM_FEEDS = 8
# What a worker imports once, before it is forked (see bot.common.workers).
WORKER_MODULES = ("bot.feeds.parser", "bot.topic.classifier", "bot.services.entries")


def poll_of(feed: FeedRecord, outcome: FeedOutcome, settings: FetchSettings, now: datetime) -> Poll:
    """``outcome`` of a poll of ``feed``, with the feeds stage's schedule's answer to when
    to poll it next: what :func:`~bot.store.feeds.record_polls` keeps."""
    return Poll(feed.id, outcome, next_poll(outcome, health_of(feed), settings, now))


class FullTexts:
    """Article pages for kept items whose feed gave only a snippet, reduced to their main text."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        summarizer: Callable[[], Summarizer],
        aggregator_hosts: Sequence[str],
    ) -> None:
        self.sessions = sessions
        # Built on first need: a cycle with no new kept item loads no summarizer.
        self._summarizer = summarizer
        self.aggregator_hosts = tuple(aggregator_hosts)

    @property
    def summarizer(self) -> Summarizer:
        return self._summarizer()

    async def fetch(self, fetcher: HttpFetcher, item_ids: Sequence[int]) -> None:
        """Fetch, extract and store the article text of the items that need it."""
        if not item_ids:
            return
        wanted = await asyncio.to_thread(self.items_needing_text, item_ids)
        results = await asyncio.gather(
            *(self.full_text(fetcher, item_id, url) for item_id, url in wanted)
        )
        if results:
            await asyncio.to_thread(self.store, results)

    def items_needing_text(self, item_ids: Sequence[int]) -> list[tuple[int, str]]:
        """Snippet-only items whose link is an article; an aggregator's link (Google News) is a
        redirect page with no article text, and the story has the outlets' own items."""
        with self.sessions() as session:
            items = fresh_items(session, item_ids)
            return [
                (item.id, item.url)
                for item in items
                if item.url
                and not is_aggregator_url(item.url, self.aggregator_hosts)
                and self.summarizer.needs_full_text(item.text)
            ]

    async def full_text(self, fetcher: HttpFetcher, item_id: int, url: str) -> FullText:
        try:
            text = await article_text(fetcher, url, self.summarizer.settings)
        except FetchError as error:
            log.info("full text of item %d unavailable: %s", item_id, error)
            return item_id, None, str(error.kind)
        return item_id, text, "ok" if text else "no-main-text"

    def store(self, results: Sequence[FullText]) -> None:
        with self.sessions.begin() as session:
            store_full_texts(session, results)


class IngestService:
    """One poll cycle's feed work: due feeds fetched, outcomes and new items stored."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        feeds: Callable[[], Sequence[FeedConfig]],
        fetch: FetchSettings,
        topic: TopicSettings,
        classifier: Callable[[], TopicClassifier],
        full_texts: FullTexts,
        keep_days: float,
    ) -> None:
        self.sessions = sessions
        # The configured list, read at every cycle: feeds added to it are polled.
        self.configured = feeds
        self.fetch = fetch
        self.topic = topic
        # Built on first need: a cycle with no new entry compiles no rule.
        self._classifier = classifier
        self.full_texts = full_texts
        # Entries published before now minus this are history (see is_backfill).
        self.keep = timedelta(days=keep_days)

    async def poll(
        self, force: bool, on_feed_done: OnFeedDone | None, on_start: OnStart | None
    ) -> PollReport:
        """Fetch the due feeds, store their new items and fetch the full texts they lack."""
        started = time.perf_counter()
        tasks, skipped = await asyncio.to_thread(self.feeds_to_poll, force)
        if on_start is not None:
            on_start(len(tasks))
        report = PollReport()
        async with self.workers_for(len(tasks)) as workers, HttpFetcher(self.fetch) as fetcher:
            parse = parse_in(workers) if workers else None
            batches = poll_in_batches(fetcher, tasks, STORE_BATCH, on_feed_done, parse)
            async for outcomes in batches:
                stored = await asyncio.to_thread(self.store_batch, outcomes, workers)
                report.feeds.extend(stored.feeds)
                report.disabled.extend(stored.disabled)
            order = {task.name: number for number, task in enumerate(tasks)}
            report.feeds.sort(key=lambda line: order[line.name])
            report.feeds.extend(skipped)
            fetched = time.perf_counter()
            await self.full_texts.fetch(fetcher, report.kept_ids)
        log.info(
            "poll: %d feeds fetched and stored in %.2f s, article pages in %.2f s",
            len(tasks),
            fetched - started,
            time.perf_counter() - fetched,
        )
        return report

    @asynccontextmanager
    async def workers_for(self, feeds: int) -> AsyncIterator[WorkerPool | None]:
        """Worker processes for a cycle of ``feeds`` feeds, or None when one core will do."""
        if self.fetch.workers == 1 or feeds < WORKERS_FROM_FEEDS:
            yield None
            return
        pool = WorkerPool(
            self.fetch.workers,
            preload=WORKER_MODULES,
            initializer=use_in_worker,
            initargs=(self.topic,),
        )
        try:
            yield pool
        except BaseException:
            # Cancelled (shutdown) or failed: waiting for the workers' jobs gains nothing.
            pool.close(wait=False)
            raise
        if pool.started:
            log.info("poll: parsed and applied the topic rules in %d processes", pool.workers)
        await asyncio.to_thread(pool.close)

    def feeds_to_poll(self, force: bool) -> tuple[list[FeedTask], list[FeedReport]]:
        """Due feeds as tasks, and a report line for each feed skipped (disabled, backing off).

        The configured feeds that are enabled, then the feeds added at run time. An added
        feed is fetched as an untrusted link: anyone allowed to add one (a chat admin) must
        not reach the bot's own network through it.
        """
        configured = self.configured()
        now = utc_now()
        tasks, skipped = [], []
        with self.sessions.begin() as session:
            stored = sync_feeds(session, configured)
            wanted = [(stored[config.name], True) for config in configured if config.enabled]
            names = {config.name for config in configured}
            wanted += [
                (feed, False)
                for feed in sorted(stored.values(), key=lambda feed: feed.name)
                if feed.source == SOURCE_ADDED and is_active(feed, names)
            ]
            for feed, trusted in wanted:
                if feed.disabled_at is not None:
                    skipped.append(
                        FeedReport(feed.name, "disabled", error=feed.last_error, skipped=True)
                    )
                elif not force and not is_due(feed, now):
                    until = (
                        feed.next_poll_at.isoformat(timespec="minutes")
                        if feed.next_poll_at
                        else "?"
                    )
                    skipped.append(FeedReport(feed.name, f"waiting until {until}", skipped=True))
                else:
                    task = FeedTask(
                        feed.name, feed.url, validators_of(feed), feed.body_sha256, trusted=trusted
                    )
                    tasks.append(task)
        return tasks, skipped

    def store_batch(
        self, outcomes: Sequence[FeedOutcome], workers: WorkerPool | None = None
    ) -> PollReport:
        """:meth:`store_outcomes`, with one feed's unstorable rows kept from the others.

        When the database refuses what a feed sent (a value no bound foresaw), the batch is
        stored again feed by feed, and a feed whose rows still cannot be stored is recorded
        as failing with the reason: it backs off and is disabled like any failing feed,
        never retried silently every cycle. A lost connection is no feed's fault: it is
        raised. Every feed is tried once more on its own before it is blamed, a batch of
        one too: a replica polling the same feed at once may have stored the same entries
        first (an IntegrityError here), and the second try finds them stored.
        """
        try:
            return self.store_outcomes(outcomes, workers)
        except REFUSED_BY_DATABASE:
            pass  # feed by feed below
        report = PollReport()
        for outcome in outcomes:
            try:
                part = self.store_outcomes([outcome], workers)
            except REFUSED_BY_DATABASE as error:
                part = self.store_failure(outcome, error, workers)
            report.feeds.extend(part.feeds)
            report.disabled.extend(part.disabled)
        return report

    def store_failure(
        self, outcome: FeedOutcome, error: Exception, workers: WorkerPool | None
    ) -> PollReport:
        """Record a feed whose rows the database refused as failing, with the reason."""
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        log.warning("feed %r: what it sent cannot be stored: %s", outcome.name, reason)
        failed = FeedOutcome(
            name=outcome.name,
            url=outcome.url,
            error=FetchError(FailureKind.UNSTORABLE, f"its items cannot be stored: {reason}"),
        )
        return self.store_outcomes([failed], workers)

    def store_outcomes(
        self, outcomes: Sequence[FeedOutcome], workers: WorkerPool | None = None
    ) -> PollReport:
        """Record each feed's health and store its new entries with their topic verdicts.

        One transaction for the batch; the topic rules run on the new entries only, all of
        the batch's at once (in ``workers`` when given).
        """
        report = PollReport()
        now = utc_now()
        with self.sessions.begin() as session:
            names = [outcome.name for outcome in outcomes]
            rows = feeds_named(session, names)
            # The batch's own links, so two of its feeds carrying one article store it once.
            batch_links: set[str] = set()
            documents = [
                (rows[outcome.name], outcome.parsed)
                for outcome in outcomes
                if outcome.parsed is not None
            ]
            seen = SeenEntries.for_batch(
                session, [(feed.id, parsed.entries) for feed, parsed in documents]
            )
            fresh = {
                feed.name: self.fresh_entries(session, feed, parsed, batch_links, known)
                for (feed, parsed), known in zip(documents, seen, strict=True)
            }
            topics = [(rows[name].topic, entries) for name, entries in fresh.items()]
            prepared = dict(zip(fresh, self.prepare(topics, workers), strict=True))
            polls: list[Poll] = []
            stored: list[tuple[FeedReport, list[NewItem]]] = []
            for outcome in outcomes:
                feed = rows[outcome.name]
                ready = prepared.get(outcome.name)
                if isinstance(ready, FetchError):
                    # Its entries could not be prepared: nothing of it is stored, and the
                    # document is parsed again next time (its validators are not kept).
                    outcome = replace(outcome, parsed=None, error=ready)
                poll = poll_of(feed, outcome, self.fetch, now)
                polls.append(poll)
                if poll.decision.disabled_now:
                    report.disabled.append(feed.name)
                line = FeedReport(
                    outcome.name,
                    outcome.status,
                    error=str(outcome.error) if outcome.error else None,
                )
                report.feeds.append(line)
                if outcome.parsed is None or not isinstance(ready, list):
                    continue
                line.warning = outcome.parsed.warning
                items = [
                    self.item_for(feed, entry, verdict, now)
                    for entry, verdict in (done for done in ready if done is not None)
                ]
                stored.append((line, items))
            # The polls (each document's site too) and the new items: one flush.
            record_polls(session, polls, now)
            ids = add_items(session, [item for _, items in stored for item in items])
            start = 0
            for line, items in stored:
                own = ids[start : start + len(items)]
                start += len(items)
                line.new_items = len(items)
                line.kept = sum(1 for item in items if item.kept)
                line.kept_ids = [i for item, i in zip(items, own, strict=True) if item.kept]
        return report

    def fresh_entries(
        self,
        session: Session,
        feed: FeedRecord,
        parsed: ParsedFeed,
        batch_links: set[str],
        seen: SeenEntries | None = None,
    ) -> list[FeedEntry]:
        """The entries not seen before: by guid or normalised link, stored or earlier in
        this batch. Recognised before any text stage: old entries are never cleaned.
        ``seen``: what the store holds of them, when the batch looked it up at once."""
        if seen is None:
            seen = SeenEntries(session, feed.id, parsed.entries)
        seen.links |= batch_links
        fresh = [entry for entry in parsed.entries if not seen.check_and_add(entry)]
        batch_links |= seen.links
        return fresh

    def prepare(
        self, batches: Sequence[tuple[str, list[FeedEntry]]], workers: WorkerPool | None
    ) -> list[list[Prepared] | FetchError]:
        """Clean each new entry's text and give it its topic verdict, all of the batch's
        at once (in ``workers`` when given). ``batches`` pairs a feed's ``topic`` with its
        new entries; a feed marked topic = "all" skips the rules.

        When a worker dies under the batch twice (the pool retries once), each feed's
        entries are prepared on their own, and a feed whose entries kill a fresh worker
        again gets a :class:`ParseError` instead: one feed's death never drops the batch.
        """
        jobs = [(entry, topic != "all") for topic, entries in batches for entry in entries]
        if workers is not None and len(jobs) > 1:
            try:
                done = workers.map(prepare_in_worker, jobs)
            except WorkerDied:
                return [self.prepare_alone(topic, entries, workers) for topic, entries in batches]
        else:
            # Built on first need: a batch with nothing to judge compiles no rule.
            classifier = self._classifier() if any(ruled for _entry, ruled in jobs) else None
            done = [prepare_entry(entry, classifier if ruled else None) for entry, ruled in jobs]
        ready: list[list[Prepared] | FetchError] = []
        start = 0
        for _topic, entries in batches:
            ready.append(done[start : start + len(entries)])
            start += len(entries)
        return ready

    def prepare_alone(
        self, topic: str, entries: list[FeedEntry], workers: WorkerPool
    ) -> list[Prepared] | FetchError:
        """One feed's new entries in the workers; a :class:`ParseError` when they killed one."""
        try:
            return workers.map(prepare_in_worker, [(entry, topic != "all") for entry in entries])
        except WorkerDied as error:
            return ParseError(FailureKind.MALFORMED, f"preparing its new entries failed: {error}")

    def item_for(
        self, feed: FeedRecord, entry: FeedEntry, verdict: TopicVerdict | None, now: datetime
    ) -> NewItem:
        """A new item for a prepared entry, with its verdict ("on topic" when None)."""
        verdict = verdict or ALL_ON_TOPIC
        return NewItem(
            feed_id=feed.id,
            entry=entry,
            fetched_at=now,
            kept=verdict.keep,
            topic_score=verdict.score,
            topic_reasons=tuple(verdict.reasons),
            backfill=is_backfill(
                feed, entry.published, now, self.fetch.backfill_hours, now - self.keep
            ),
        )


def parse_in(workers: WorkerPool) -> Parse:
    """A :data:`Parse` that runs feedparser in one of the worker processes."""

    async def parse(body: bytes, headers: dict[str, Any], max_expanded: int) -> ParsedFeed:
        from bot.feeds.parser import parse_feed  # the workers preload it; here it names the job

        return await workers.run(
            partial(parse_feed, max_expanded_bytes=max_expanded, defer_text=True), body, headers
        )

    return parse
