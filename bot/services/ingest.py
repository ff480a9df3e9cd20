"""Feeds into the store: which feeds are due, one cycle's fetches, new items with their topic
verdicts, and the article text of items whose feed gave only a snippet.

Database work runs in worker threads so the event loop stays free for chat commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.common.hosts import is_aggregator_url
from bot.feeds.article import fetch_article_html
from bot.feeds.errors import FetchError
from bot.feeds.http import HttpFetcher
from bot.feeds.poller import FeedOutcome, FeedTask, poll_feeds
from bot.feeds.schedule import NextPoll, is_due, next_poll
from bot.services.poll_report import FeedReport, PollReport
from bot.store.feeds import health_of, record_poll, sync_feeds, validators_of
from bot.store.items import SeenEntries, is_backfill, new_item
from bot.store.schema import Feed, Item, utc_now
from bot.summarize.fulltext import extract_main_text
from bot.topic.classifier import TopicClassifier, TopicVerdict

if TYPE_CHECKING:
    from bot.feeds.settings import FeedConfig, FetchSettings
    from bot.summarize.summarizer import Summarizer

log = logging.getLogger(__name__)

ALL_ON_TOPIC = TopicVerdict(keep=True, score=0.0, reasons=('feed marked topic = "all"',))

OnFeedDone = Callable[[FeedOutcome], None]
OnStart = Callable[[int], None]
# (item id, article text or None, full_text_status)
FullText = tuple[int, str | None, str]


def record_outcome(
    feed: Feed, outcome: FeedOutcome, settings: FetchSettings, now: datetime
) -> NextPoll:
    """Ask the feeds stage's schedule when to poll ``feed`` next, and keep its answer."""
    decision = next_poll(outcome, health_of(feed), settings, now)
    record_poll(feed, outcome, decision, now)
    return decision


class FullTexts:
    """Article pages for kept items whose feed gave only a snippet, reduced to their main text."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        summarizer: Summarizer,
        aggregator_hosts: Sequence[str],
    ) -> None:
        self.sessions = sessions
        self.summarizer = summarizer
        self.aggregator_hosts = tuple(aggregator_hosts)

    async def fetch(self, fetcher: HttpFetcher, item_ids: Sequence[int]) -> None:
        """Fetch, extract and store the article text of the items that need it."""
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
            items = session.scalars(
                select(Item).where(Item.id.in_(item_ids), Item.backfill.is_(False))
            )
            return [
                (item.id, item.url)
                for item in items
                if item.url
                and not is_aggregator_url(item.url, self.aggregator_hosts)
                and self.summarizer.needs_full_text(item.text)
            ]

    async def full_text(self, fetcher: HttpFetcher, item_id: int, url: str) -> FullText:
        try:
            html = await fetch_article_html(fetcher, url)
        except FetchError as error:
            log.info("full text of item %d unavailable: %s", item_id, error)
            return item_id, None, str(error.kind)
        extract = partial(extract_main_text, settings=self.summarizer.settings)
        text = await asyncio.to_thread(extract, html, url)
        return item_id, text, "ok" if text else "no-main-text"

    def store(self, results: Sequence[FullText]) -> None:
        with self.sessions.begin() as session:
            for item_id, text, status in results:
                item = session.get(Item, item_id)
                if item is not None:
                    item.full_text, item.full_text_status = text, status


class IngestService:
    """One poll cycle's feed work: due feeds fetched, outcomes and new items stored."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        feeds: Sequence[FeedConfig],
        fetch: FetchSettings,
        classifier: TopicClassifier,
        full_texts: FullTexts,
        keep_days: float,
    ) -> None:
        self.sessions = sessions
        # The configured list itself, read at every cycle: feeds added to it are polled.
        self.feeds = feeds
        self.fetch = fetch
        self.classifier = classifier
        self.full_texts = full_texts
        # Entries published before now minus this are history (see is_backfill).
        self.keep = timedelta(days=keep_days)

    async def poll(
        self, force: bool, on_feed_done: OnFeedDone | None, on_start: OnStart | None
    ) -> PollReport:
        """Fetch the due feeds, store their new items and fetch the full texts they lack."""
        tasks, skipped = await asyncio.to_thread(self.feeds_to_poll, force)
        if on_start is not None:
            on_start(len(tasks))
        async with HttpFetcher(self.fetch) as fetcher:
            outcomes = await poll_feeds(fetcher, tasks, on_feed_done)
            report = await asyncio.to_thread(self.store_outcomes, outcomes)
            report.feeds.extend(skipped)
            await self.full_texts.fetch(fetcher, report.kept_ids)
        return report

    def feeds_to_poll(self, force: bool) -> tuple[list[FeedTask], list[FeedReport]]:
        """Due feeds as tasks, and a report line for each feed skipped (disabled, backing off)."""
        enabled = [feed for feed in self.feeds if feed.enabled]
        now = utc_now()
        tasks, skipped = [], []
        with self.sessions.begin() as session:
            rows = sync_feeds(session, self.feeds)
            for config in enabled:
                row = rows[config.name]
                if row.disabled_at is not None:
                    skipped.append(
                        FeedReport(config.name, "disabled", error=row.last_error, skipped=True)
                    )
                elif not force and not is_due(row, now):
                    until = (
                        row.next_poll_at.isoformat(timespec="minutes") if row.next_poll_at else "?"
                    )
                    skipped.append(FeedReport(config.name, f"waiting until {until}", skipped=True))
                else:
                    tasks.append(FeedTask(config.name, config.url, validators_of(row)))
        return tasks, skipped

    def store_outcomes(self, outcomes: Sequence[FeedOutcome]) -> PollReport:
        """Record each feed's health and store its new entries with their topic verdicts."""
        report = PollReport()
        now = utc_now()
        configs = {feed.name: feed for feed in self.feeds}
        with self.sessions.begin() as session:
            rows = {row.name: row for row in session.scalars(select(Feed))}
            for outcome in outcomes:
                feed = rows[outcome.name]
                decision = record_outcome(feed, outcome, self.fetch, now)
                if decision.disabled_now:
                    report.disabled.append(feed.name)
                line = FeedReport(
                    outcome.name,
                    outcome.status,
                    error=str(outcome.error) if outcome.error else None,
                )
                if outcome.parsed is not None:
                    line.warning = outcome.parsed.warning
                    line.kept_ids = self.store_entries(
                        session, feed, configs[feed.name], outcome, now, line
                    )
                report.feeds.append(line)
        return report

    def store_entries(
        self,
        session: Session,
        feed: Feed,
        config: FeedConfig,
        outcome: FeedOutcome,
        now: datetime,
        line: FeedReport,
    ) -> list[int]:
        """Insert entries not seen before; return the ids of new kept, postable items."""
        assert outcome.parsed is not None
        seen = SeenEntries(session, feed, outcome.parsed.entries)
        entries = [entry for entry in outcome.parsed.entries if not seen.check_and_add(entry)]
        items = [new_item(feed, entry, now) for entry in entries]
        for entry, item in zip(entries, items, strict=True):
            verdict = self.verdict(config, item)
            item.kept, item.topic_score = verdict.keep, verdict.score
            item.topic_reasons = list(verdict.reasons)
            item.backfill = is_backfill(
                feed, entry.published, now, self.fetch.backfill_hours, now - self.keep
            )
        session.add_all(items)
        session.flush()
        line.new_items += len(items)
        line.kept += sum(1 for item in items if item.kept)
        return [item.id for item in items if item.kept]

    def verdict(self, config: FeedConfig, item: Item) -> TopicVerdict:
        """The topic rules' verdict, unless the feed is on topic by construction."""
        if config.topic == "all":
            return ALL_ON_TOPIC
        return self.classifier.classify(item.title, item.text)
