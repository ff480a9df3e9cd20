"""The application: feeds → items → stories → digests → outbox → adapters.

:class:`DigestBot` is the runtime one process holds (the CLI through
``bot.cli.bootstrap``, the scheduler, the chat adapters as their CommandHandler). It
owns the database engine, the sessions, the adapters and the outbox, and builds the
services of ``bot/services/`` on first use: ingest (feeds into items), grouping (items
into summarized stories), digests (stories out to chat), the feed catalog and the
reports, and ``commands`` (the CommandHandler every platform's /meta-ai calls). Callers
use those services directly; the methods here are only what spans several of them (a poll
cycle with its grouping and admin notice, retention, the replicas' claims, closing the
adapters). Building it neither connects nor migrates: opening the application
(``open_app``) migrates as an explicit step.

Services are built with their modules on first use: `latest`, `status` and the other
read-only commands load neither aiohttp, nor trafilatura, nor nupunkt
(tests/cli/test_lazy_imports.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from bot.common.redaction import Redactor
from bot.common.times import utc_now
from bot.environment import secret_values
from bot.outbox.delivery import Outbox
from bot.services.digests import DigestResult, DigestService
from bot.services.poll_report import FeedReport, PollReport
from bot.store.claims import claim
from bot.store.database import (
    create_database_engine,
    ensure_database,
    migrate,
    session_factory,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.adapters.base import ChatAdapter
    from bot.digest.settings import DigestSettings
    from bot.digest.subscriptions import SubscriptionSpec
    from bot.feeds.records import FeedOutcome
    from bot.feeds.settings import FeedConfig, FetchSettings
    from bot.services.channels import ChannelService
    from bot.services.commands import ChatCommands
    from bot.services.feeds import FeedCatalog
    from bot.services.grouping import GroupingService
    from bot.services.ingest import IngestService
    from bot.services.reports import Reports
    from bot.services.subscriptions import SubscriptionService
    from bot.store.retention import PruneReport
    from bot.store.settings import DatabaseSettings
    from bot.stories.settings import ClusterSettings, KindSettings
    from bot.summarize.settings import SummarizeSettings
    from bot.summarize.summarizer import Summarizer
    from bot.topic.classifier import TopicClassifier
    from bot.topic.settings import TopicSettings

log = logging.getLogger(__name__)

__all__ = ["DigestBot", "DigestResult", "FeedReport", "PipelineSettings", "PollReport"]


class ScheduleDefaults(Protocol):
    """What subscriptions take of ``[schedule]`` when they name no schedule or zone."""

    @property
    def digest_cron(self) -> str: ...

    @property
    def timezone(self) -> str: ...


class PipelineSettings(Protocol):
    """What the pipeline needs of the configuration: each stage's own settings.

    ``bot.config.Settings`` (the composition root, which only the CLI and the scheduler
    import) has exactly this shape; declaring it here keeps the dependency pointing from
    the configuration to the pipeline, not back.
    """

    fetch: FetchSettings
    topic: TopicSettings
    stories: ClusterSettings
    kinds: KindSettings
    summarize: SummarizeSettings
    digest: DigestSettings
    database: DatabaseSettings
    subscriptions: list[SubscriptionSpec]

    @property
    def schedule(self) -> ScheduleDefaults:
        """``[schedule]``: a subscription's schedule and zone when it names none."""
        ...

    def configured_feeds(self) -> list[FeedConfig]:
        """The feeds the configuration lists (read anew each cycle)."""
        ...

    def database_url(self, env: Mapping[str, str] | None = None) -> str:
        """The database to use, DATABASE_URL in ``env`` first."""
        ...


class DigestBot:
    """The runtime of one process: its database, adapters, outbox and services."""

    def __init__(
        self,
        settings: PipelineSettings,
        adapters: Sequence[ChatAdapter] = (),
        env: Mapping[str, str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        # No migration here: opening the application (bot.cli.bootstrap.open_app) is where
        # the schema is brought up to date, as an explicit step (prepare_database).
        self.engine = engine or create_database_engine(settings.database_url(env))
        # Error texts (a platform's answer, a server's reason phrase) may quote a secret of
        # this environment: they are masked before they are stored.
        self.redact = Redactor(secret_values(os.environ if env is None else env)).redact
        self.sessions = session_factory(self.engine, redact=self.redact)
        self.adapters = list(adapters)
        self._poll_lock = asyncio.Lock()

    @classmethod
    def migrated(
        cls,
        settings: PipelineSettings,
        adapters: Sequence[ChatAdapter] = (),
        env: Mapping[str, str] | None = None,
        engine: Engine | None = None,
    ) -> DigestBot:
        """The bot on a database brought up to date first: what ``open_app`` gives the
        commands that write, for the tests and benches that build a bot themselves."""
        bot = cls(settings, adapters, env=env, engine=engine)
        bot.prepare_database()
        return bot

    def prepare_database(self) -> None:
        """Bring the schema to the newest revision before any service reads or writes it.

        ``open_app`` does this for every command that writes; this is the one place to
        change how migrations run. A PostgreSQL database that does not exist yet is
        created first, as `meta-ai-digest migrate` does.
        """
        ensure_database(self.engine)
        migrate(self.engine)
        # The config file's [[subscriptions]] follow the file, as its feeds do.
        self.subscriptions.sync_config(self.settings.subscriptions)

    # ------------------------------------------------- services and stages, built on first use
    @cached_property
    def outbox(self) -> Outbox:
        """Every message to a platform goes through here: stored first, then delivered."""
        return Outbox(self.sessions, {adapter.name: adapter for adapter in self.adapters})

    @cached_property
    def digests(self) -> DigestService:
        return DigestService(self.sessions, self.settings.digest, self.adapters, self.outbox)

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        """Each channel's own digest: its subscription, and the posts it makes."""
        from bot.services.subscriptions import SubscriptionService

        settings = self.settings
        return SubscriptionService(
            self.sessions,
            settings.digest,
            self.adapters,
            self.outbox,
            (settings.schedule.digest_cron, settings.schedule.timezone),
            settings.kinds.names(),
        )

    @cached_property
    def channels(self) -> ChannelService:
        """The adapters' channels, and test posts to them (``channels list|test``)."""
        from bot.services.channels import ChannelService

        return ChannelService(
            self.sessions,
            self.adapters,
            self.outbox,
            self.digests.answer,
            self.subscriptions.infos,
        )

    @cached_property
    def commands(self) -> ChatCommands:
        """What the chat adapters serve ``/meta-ai`` with, and the CLI's feed changes."""
        from bot.services.commands import ChatCommands

        return ChatCommands(
            self.digests, lambda: self.catalog, lambda: self.subscriptions, self._claim
        )

    @cached_property
    def reports(self) -> Reports:
        """The read-only reports (``status``, ``explain``, ``feeds list``)."""
        from bot.services.reports import Reports

        return Reports(self.sessions, self.settings.configured_feeds, self.settings.kinds)

    @cached_property
    def classifier(self) -> TopicClassifier:
        from bot.topic.classifier import TopicClassifier

        return TopicClassifier(self.settings.topic)

    @cached_property
    def summarizer(self) -> Summarizer:
        from bot.summarize.summarizer import Summarizer

        return Summarizer(self.settings.summarize, topic_terms=self.classifier.terms())

    @cached_property
    def ingest(self) -> IngestService:
        from bot.services.ingest import FullTexts, IngestService

        settings = self.settings
        full_texts = FullTexts(
            self.sessions, lambda: self.summarizer, settings.stories.aggregator_hosts
        )
        return IngestService(
            self.sessions,
            settings.configured_feeds,
            settings.fetch,
            settings.topic,
            lambda: self.classifier,
            full_texts,
            settings.database.keep_days,
        )

    @cached_property
    def catalog(self) -> FeedCatalog:
        """The feed list: configured feeds and those added at run time."""
        from bot.services.feeds import FeedCatalog

        return FeedCatalog(self.sessions, self.settings.configured_feeds, self.settings.fetch)

    @cached_property
    def grouping(self) -> GroupingService:
        from bot.services.grouping import GroupingService
        from bot.stories.kinds import KindRules

        return GroupingService(
            self.sessions,
            self.settings.stories,
            self.summarizer,
            self.classifier.common_terms(),
            KindRules(self.settings.kinds),
        )

    # ----------------------------------------------------------------- feeds → items
    async def poll(
        self,
        force: bool = False,
        on_feed_done: Callable[[FeedOutcome], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> PollReport:
        """One poll cycle: fetch due feeds, store new items, group stories, summarize them."""
        async with self._poll_lock:
            # The first cycle imports the feed and topic stages: off the loop, like the rest.
            ingest = await asyncio.to_thread(lambda: self.ingest)
            report = await ingest.poll(force, on_feed_done, on_start)
            started = time.perf_counter()
            # Not only this cycle's items: whatever a fault left ungrouped before is caught up.
            if bool(report.kept_ids) or await asyncio.to_thread(self.has_ungrouped_items):
                report.new_stories = await asyncio.to_thread(self.grouping.group_pending)
            log.info(
                "poll: %d kept items grouped and summarized in %.2f s",
                len(report.kept_ids),
                time.perf_counter() - started,
            )
            if report.disabled:
                await self.digests.notify_admins(report.disabled)
            return report

    # --------------------------------------------------------------- items → stories
    def has_ungrouped_items(self) -> bool:
        """Kept items without a story (a fault interrupted a cycle): cheap, loads no stage."""
        from bot.store.items import ungrouped_item_ids

        with self.sessions() as session:
            return bool(ungrouped_item_ids(session, 1))

    async def close_adapters(self, timeout: float = 2.0) -> None:
        """Close every adapter at once, each within ``timeout``; a failure is only logged.

        In the event loop that used them: an SDK's HTTP session closed after its loop ended
        leaves an "Unclosed client session" warning behind.
        """

        async def close(adapter: ChatAdapter) -> None:
            try:
                await asyncio.wait_for(adapter.close(), timeout=timeout)
            except Exception as error:
                log.warning("adapter %s did not close cleanly: %s", adapter.name, error)

        await asyncio.gather(*(close(adapter) for adapter in self.adapters))

    # ------------------------------------------------------------------ retention
    async def prune(self, should_stop: Callable[[], bool] = lambda: False) -> PruneReport:
        """Delete what is older than ``[database] keep_days``, in small transactions."""
        from bot.store.retention import prune

        keep_days = self.settings.database.keep_days
        return await asyncio.to_thread(prune, self.sessions, keep_days, utc_now(), should_stop)

    # ------------------------------------------------------------------ replicas
    async def claim(self, key: str) -> bool:
        """True when this process takes ``key`` (a job's firing, a command's id) first.

        Replicas sharing the database call this before a scheduled job (and
        :class:`~bot.services.commands.ChatCommands` before answering a command); only the
        first to claim a key does the work.
        """
        return await asyncio.to_thread(self._claim, key)

    def _claim(self, key: str) -> bool:
        with self.sessions.begin() as session:
            return claim(session, key, self.outbox.identity, utc_now())

    def close(self) -> None:
        self.engine.dispose()
