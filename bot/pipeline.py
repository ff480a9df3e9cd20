"""The pipeline, end to end: feeds → items → stories → digests → adapters.

:class:`DigestBot` wires the stages together for the CLI and the scheduler.
Each stage lives in its own package and knows nothing of the ones after it;
only this module (and the CLI above it) sees them all. Database work runs in
worker threads so the event loop stays free for chat commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, load_only, selectinload

from bot.adapters.base import ChatAdapter
from bot.common.hosts import is_aggregator_url
from bot.config import FeedConfig, Settings
from bot.delivery import DeliveryReport, Outbox, enqueue, record_digest
from bot.digest.builder import build_digest, latest_digest, mark_posted
from bot.digest.model import Digest, Notice
from bot.feeds.article import fetch_article_html
from bot.feeds.http import FetchError, HttpFetcher
from bot.feeds.poller import FeedOutcome, FeedTask, poll_feeds
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.feeds import is_due, record_outcome, sync_feeds, validators_of
from bot.store.items import SeenEntries, is_backfill, new_item
from bot.store.schema import Feed, Item, Story, utc_now
from bot.stories.index import ArticleRef, StoryIndex
from bot.stories.representative import reading_order
from bot.summarize.fulltext import extract_main_text
from bot.summarize.summarizer import ArticleText, Summarizer
from bot.topic.classifier import TopicClassifier, TopicVerdict

log = logging.getLogger(__name__)

SNIPPET_NOTE = "Summary from the feed's snippet: the full article could not be fetched."
# Every sentence of a teaser may be barred (cut off "[…]", a call to action): say why it is bare.
NO_SUMMARY_NOTE = (
    "No summary: the feed gives only a teaser and the full article could not be fetched."
)
ALL_ON_TOPIC = TopicVerdict(keep=True, score=0.0, reasons=('feed marked topic = "all"',))


@dataclass
class FeedReport:
    """One feed's line in the `poll` output."""

    name: str
    status: str
    new_items: int = 0
    kept: int = 0
    error: str | None = None
    skipped: bool = False
    warning: str | None = None
    # New kept items that can be posted, for the story stage.
    kept_ids: list[int] = field(default_factory=list)


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)
    new_stories: int = 0
    disabled: list[str] = field(default_factory=list)

    @property
    def new_items(self) -> int:
        return sum(report.new_items for report in self.feeds)


@dataclass
class DigestResult:
    digest: Digest
    queued_messages: int = 0
    delivery: DeliveryReport | None = None


def article_ref(item: Item) -> ArticleRef:
    """The story stage's view of an item."""
    return ArticleRef(
        key=item.id,
        title=item.title,
        text=item.text,
        url=item.normalized_url or "",
        published=item.published_at,
        source=item.feed.name,
        comments_url=item.comments_url,
    )


class DigestBot:
    """The bot's stages, its database and its adapters, for one process."""

    def __init__(
        self,
        settings: Settings,
        adapters: Sequence[ChatAdapter] = (),
        env: Mapping[str, str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or create_database_engine(settings.database_url(env))
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.classifier = TopicClassifier(settings.topic)
        self.summarizer = Summarizer(settings.summarize, topic_terms=self.classifier.terms())
        self.adapters = list(adapters)
        self.outbox = Outbox(self.sessions, {adapter.name: adapter for adapter in self.adapters})
        self._poll_lock = asyncio.Lock()

    # ----------------------------------------------------------------- feeds
    def feeds_to_poll(self, force: bool) -> tuple[list[FeedTask], list[FeedReport]]:
        """Due feeds as tasks, and a report line for each feed skipped (disabled, backing off)."""
        enabled: list[FeedConfig] = [feed for feed in self.settings.feeds if feed.enabled]
        now = utc_now()
        tasks, skipped = [], []
        with self.sessions.begin() as session:
            rows = sync_feeds(session, self.settings.feeds)
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

    async def poll(
        self,
        force: bool = False,
        on_feed_done: Callable[[FeedOutcome], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> PollReport:
        """One poll cycle: fetch due feeds, store new items, group stories, summarize them."""
        async with self._poll_lock:
            tasks, skipped = await asyncio.to_thread(self.feeds_to_poll, force)
            if on_start is not None:
                on_start(len(tasks))
            async with HttpFetcher(self.settings.fetch) as fetcher:
                outcomes = await poll_feeds(fetcher, tasks, on_feed_done)
                report = await asyncio.to_thread(self.store_outcomes, outcomes)
                report.feeds.extend(skipped)
                new_kept = [item_id for feed in report.feeds for item_id in feed.kept_ids]
                await self.fetch_full_texts(fetcher, new_kept)
            report.new_stories = await asyncio.to_thread(self.group_and_summarize, new_kept)
            if report.disabled:
                await self.notify_admins(report.disabled)
            return report

    def store_outcomes(self, outcomes: Sequence[FeedOutcome]) -> PollReport:
        """Record each feed's health and store its new entries with their topic verdicts."""
        report = PollReport()
        now = utc_now()
        configs = {feed.name: feed for feed in self.settings.feeds}
        with self.sessions.begin() as session:
            rows = {row.name: row for row in session.scalars(select(Feed))}
            for outcome in outcomes:
                feed = rows[outcome.name]
                change = record_outcome(session, feed, outcome, self.settings.fetch, now)
                if change.disabled_now:
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
            hours = self.settings.fetch.backfill_hours
            item.backfill = is_backfill(feed, entry.published, now, hours)
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

    async def fetch_full_texts(self, fetcher: HttpFetcher, item_ids: Sequence[int]) -> None:
        """Fetch the article page for kept items whose feed gave only a snippet."""
        wanted = await asyncio.to_thread(self._items_needing_text, item_ids)
        results = await asyncio.gather(
            *(self._full_text(fetcher, item_id, url) for item_id, url in wanted)
        )
        if results:
            await asyncio.to_thread(self._store_full_texts, results)

    def _items_needing_text(self, item_ids: Sequence[int]) -> list[tuple[int, str]]:
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
                and not is_aggregator_url(item.url, self.settings.stories.aggregator_hosts)
                and self.summarizer.needs_full_text(item.text)
            ]

    async def _full_text(
        self, fetcher: HttpFetcher, item_id: int, url: str
    ) -> tuple[int, str | None, str]:
        try:
            html = await fetch_article_html(fetcher, url)
        except FetchError as error:
            log.info("full text of item %d unavailable: %s", item_id, error)
            return item_id, None, str(error.kind)
        text = await asyncio.to_thread(
            partial(extract_main_text, settings=self.settings.summarize), html, url
        )
        return item_id, text, "ok" if text else "no-main-text"

    def _store_full_texts(self, results: Sequence[tuple[int, str | None, str]]) -> None:
        with self.sessions.begin() as session:
            for item_id, text, status in results:
                item = session.get(Item, item_id)
                if item is not None:
                    item.full_text, item.full_text_status = text, status

    # --------------------------------------------------------------- stories
    def load_index(self, session: Session, now: datetime) -> StoryIndex:
        """The recent window of clustered items, indexed for matching new ones.

        Rarity weights come from the kept items of a longer horizon (the story stage's
        background), so the words every Meta-AI item uses weigh next to nothing.
        """
        stories = self.settings.stories
        index = StoryIndex(stories, common_terms=self.classifier.common_terms())
        for item in self._background(session, now, kept=True):
            index.observe(item.id, item.title, item.text)
        if len(index.vocabulary) < stories.background_min_items:
            # A young store: dropped items still tell which words every item uses ("the", "de").
            for item in self._background(session, now, kept=False):
                index.observe(item.id, item.title, item.text)
        since = now - timedelta(hours=stories.window_hours)
        recent = session.scalars(
            select(Item)
            .where(Item.story_id.is_not(None), Item.published_at >= since)
            .options(selectinload(Item.feed))
        )
        for item in recent:
            assert item.story_id is not None
            index.add(article_ref(item), item.story_id)
        return index

    def _background(self, session: Session, now: datetime, *, kept: bool) -> list[Item]:
        """Recent items (kept or dropped), newest first, for rarity weights; texts only."""
        stories = self.settings.stories
        limit = stories.background_items if kept else stories.background_min_items
        return list(
            session.scalars(
                select(Item)
                .options(load_only(Item.title, Item.full_text, Item.content, Item.summary))
                .where(
                    Item.kept.is_(kept),
                    Item.published_at >= now - timedelta(days=stories.background_days),
                )
                .order_by(Item.published_at.desc())
                .limit(limit)
            )
        )

    def group_and_summarize(self, item_ids: Sequence[int]) -> int:
        """Attach new kept items to stories (creating them), then refresh touched stories."""
        if not item_ids:
            return 0
        now = utc_now()
        with self.sessions.begin() as session:
            index = self.load_index(session, now)
            items = session.scalars(
                select(Item)
                .where(Item.id.in_(item_ids))
                .order_by(Item.published_at, Item.id)
                .options(selectinload(Item.feed))
            ).all()
            for item in items:
                index.observe(item.id, item.title, item.text)
            touched: set[int] = set()
            created = 0
            for item in items:
                ref = article_ref(item)
                match, nearest = index.decide(ref)
                if match is None:
                    story = self.new_story(session, item, now)
                    created += 1
                    item.story_id, item.story_reason = story.id, nearest.describe()
                else:
                    item.story_id, item.story_reason = match.story_id, match.reason
                index.add(ref, item.story_id)
                touched.add(item.story_id)
            session.flush()
            for story_id in touched:
                self.refresh_story(session, story_id, now)
        return created

    def new_story(self, session: Session, item: Item, now: datetime) -> Story:
        story = Story(
            title=item.title,
            url=item.url or "",
            first_published_at=item.published_at,
            last_updated_at=now,
            created_at=now,
            summary=[],
            sources_announced=0,
        )
        if item.backfill:
            # History from a feed's first poll: remembered so later coverage joins it, never posted.
            story.posted_at = now
        session.add(story)
        session.flush()
        return story

    def refresh_story(self, session: Session, story_id: int, now: datetime) -> None:
        """Representative article, title, link, first publication and summary of a story."""
        story = session.get(Story, story_id)
        if story is None:
            return
        items = list(
            session.scalars(
                select(Item)
                .where(Item.story_id == story_id, Item.kept.is_(True))
                .options(selectinload(Item.feed))
            )
        )
        by_id = {item.id: item for item in items}
        order = reading_order(
            [article_ref(item) for item in items], self.settings.stories.aggregator_hosts
        )
        ordered = [by_id[ref.key] for ref in order]
        lead = ordered[0]
        story.representative_item_id = lead.id
        story.title = lead.title
        story.url = lead.url or story.url
        story.first_published_at = min(item.published_at for item in items)
        story.last_updated_at = now
        articles = [ArticleText(title=item.title, text=item.text) for item in ordered if item.text]
        story.summary = self.summarizer.summarize_story(articles) if articles else []
        fetched_failed = all(item.full_text is None and item.full_text_status for item in items)
        if not fetched_failed:
            story.summary_note = None
        else:
            story.summary_note = SNIPPET_NOTE if story.summary else NO_SUMMARY_NOTE

    # --------------------------------------------------------------- digests
    def preview_digest(self) -> Digest:
        """The digest `digest` would post now, without marking anything."""
        with self.sessions() as session:
            digest, _stories = build_digest(session, self.settings.digest, utc_now())
            return digest

    def queue_digest(self) -> tuple[Digest, int]:
        """Build the next digest, store its messages in the outbox and mark its stories posted."""
        with self.sessions.begin() as session:
            now = utc_now()
            digest, stories = build_digest(session, self.settings.digest, now)
            if not digest.stories:
                return digest, 0
            if not any(adapter.destinations() for adapter in self.adapters):
                # Marking the stories posted would lose them: keep them for a configured channel.
                log.error("no adapter has a destination; %d stories stay pending", len(stories))
                return digest, 0
            record = record_digest(session, digest)
            queued = enqueue(session, self.adapters, digest, digest_id=record.id)
            mark_posted(stories, record.id, now)
            return digest, queued

    async def post_digest(self, max_wait_seconds: float = 60.0) -> DigestResult:
        """Deliver anything pending, then queue and deliver the next digest."""
        await self.outbox.deliver(max_wait_seconds=0)
        digest, queued = await asyncio.to_thread(self.queue_digest)
        delivery = await self.outbox.deliver(max_wait_seconds=max_wait_seconds)
        return DigestResult(digest=digest, queued_messages=queued, delivery=delivery)

    async def latest(self, query: str | None = None) -> Digest:
        """The /meta-ai answer (the CommandHandler interface the adapters call)."""
        return await asyncio.to_thread(self._latest, query)

    def _latest(self, query: str | None) -> Digest:
        with self.sessions() as session:
            return latest_digest(session, self.settings.digest, utc_now(), query)

    async def notify_admins(self, disabled_feeds: Sequence[str]) -> None:
        """One notice per disabled feed to the adapters' admin channels."""

        def queue() -> int:
            with self.sessions.begin() as session:
                count = 0
                for name in disabled_feeds:
                    feed = session.scalar(select(Feed).where(Feed.name == name))
                    if feed is None or feed.disabled_notice_sent:
                        continue
                    text = (
                        f"meta-ai-digest disabled the feed “{name}” after "
                        f"{feed.consecutive_failures} "
                        f"consecutive failures (last: {feed.last_error}). "
                        f'Re-enable it with: meta-ai-digest feeds enable "{name}"'
                    )
                    count += enqueue(
                        session,
                        self.adapters,
                        Notice(generated_at=utc_now(), text=text),
                        admin=True,
                    )
                    feed.disabled_notice_sent = True
                return count

        if await asyncio.to_thread(queue):
            await self.outbox.deliver(max_wait_seconds=0)

    def close(self) -> None:
        self.engine.dispose()
