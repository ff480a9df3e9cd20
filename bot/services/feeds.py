"""The feed list as a team manages it: list, add (from a feed's or a site's address), remove,
import and export OPML. Feeds added here live in the database, where every replica sees them;
the config file's feeds stay as they are (see bot.store.feeds for who wins).

Used by the CLI (`feeds add` ...) and, through DigestBot, by ``/meta-ai add`` in chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.common.bounds import cut_text
from bot.common.redaction import redact_url
from bot.common.text import plural
from bot.common.times import utc_now
from bot.digest.model import FeedChange, FeedInfo
from bot.feeds.opml import OpmlFeed, read_opml, write_opml
from bot.feeds.settings import FeedConfig, FetchSettings
from bot.feeds.urls import feed_url_problem, shown_url
from bot.services.reports import feed_infos
from bot.store.database import IntegrityError
from bot.store.feeds import (
    FEED_NAME_CHARS,
    FeedConflictError,
    NewFeed,
    active_feeds,
    add_feed,
    add_feeds,
    enable_feed,
    feed_list,
    remove_feed,
    sync_feeds,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.feeds.records import FeedOutcome

log = logging.getLogger(__name__)

WEB_SCHEMES = ("http", "https")
# The feeds.name column holds 200 characters; a name is a label, not a paragraph.
MAX_NAME_CHARS = 120
# Feeds inserted per transaction by `feeds import`: short enough that a poll or a digest
# waiting for SQLite's write lock waits a fraction of a second.
IMPORT_BATCH = 500


@dataclass
class ImportReport:
    """What `feeds import` did with each feed of the file."""

    added: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    # (title or URL, why it was not added)
    refused: list[tuple[str, str]] = field(default_factory=list)


def free_name(name: str, url: str, taken: Collection[str]) -> str:
    """``name``, or ``name (host)``, ``name (2)``... when another feed has it; each within the
    column's limit, so the name checked is the name stored."""
    if name not in taken:
        return name
    host = urlsplit(url).hostname or ""
    limit = FEED_NAME_CHARS
    numbered = (f"{name} ({number})" for number in range(2, 1000))
    fitted = (cut_text(candidate, limit) for candidate in chain([f"{name} ({host})"], numbered))
    return next((candidate for candidate in fitted if candidate not in taken), cut_text(url, limit))


def feed_name(wanted: str | None, title: str, url: str) -> str:
    """The name to store: the one asked for, else the feed's title, else its host."""
    from bot.feeds.text import clean_text  # lxml: loaded by changes only, never by a listing

    for candidate in (wanted, title, urlsplit(url).hostname):
        name = clean_text(candidate or "")[:MAX_NAME_CHARS].strip()
        if name:
            return name
    return url[:MAX_NAME_CHARS]


class FeedCatalog:
    """The feeds of one database: the configured ones and those added at run time."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        configured: Callable[[], Sequence[FeedConfig]],
        fetch: FetchSettings,
    ) -> None:
        self.sessions = sessions
        self.configured = configured
        self.fetch = fetch

    def infos(self) -> list[FeedInfo]:
        with self.sessions() as session:
            return feed_infos(session, self.configured())

    async def add(self, url: str, *, added_by: str, name: str | None = None) -> FeedChange:
        """Add the feed at ``url``, or the feed a page at ``url`` links to.

        The address is fetched and parsed first, through the URL gate (as every poll of an
        added feed is), so what is stored is a feed that works today.
        """
        url = url.strip().strip("<>")  # Slack wraps links in <...>
        problem = feed_url_problem(url, WEB_SCHEMES)
        if problem is not None:
            return FeedChange(ok=False, message=f"{shown_url(url)!r} {problem}")
        # The fetcher (aiohttp) loads with the first change: reading the list never needs it.
        from bot.feeds.discover import DiscoveryError, discover_feed
        from bot.feeds.http import HttpFetcher

        try:
            async with HttpFetcher(self.fetch) as fetcher:
                found = await discover_feed(fetcher, url)
        except DiscoveryError as error:
            return FeedChange(ok=False, message=str(error), url=url)
        chosen = feed_name(name, found.title, found.url)
        # What is said back goes to the admin channel and the logs: no credentials.
        shown = redact_url(found.url)
        try:
            await asyncio.to_thread(self._store, chosen, found.url, added_by, found.site_url, None)
        except FeedConflictError as error:
            return FeedChange(ok=False, message=str(error), name=chosen, url=shown)
        via = "" if found.url == url else f" (found on {redact_url(url)})"
        log.info("feed %r added by %s: %s", chosen, added_by, shown)
        return FeedChange(
            ok=True,
            message=f"Added the feed “{chosen}”: {shown}{via}, "
            f"{plural(found.entries, 'item')} now; it is polled from the next cycle.",
            name=chosen,
            url=shown,
        )

    def _store(
        self, name: str, url: str, added_by: str, site_url: str | None, category: str | None
    ) -> None:
        with self.sessions.begin() as session:
            add_feed(
                session,
                self.configured(),
                name=name,
                url=url,
                added_by=added_by,
                now=utc_now(),
                site_url=site_url,
                category=category,
            )

    def remove(self, name: str, *, removed_by: str) -> FeedChange:
        name = name.strip()
        try:
            with self.sessions.begin() as session:
                removed = remove_feed(session, self.configured(), name, utc_now())
                url = redact_url(removed.url)
        except FeedConflictError as error:
            return FeedChange(ok=False, message=str(error), name=name)
        log.info("feed %r removed by %s", name, removed_by)
        return FeedChange(
            ok=True,
            message=f"Removed the feed “{name}” ({url}); its stories stay.",
            name=name,
            url=url,
        )

    def enable(self, name: str, *, enabled_by: str) -> FeedChange:
        """Re-enable a feed disabled after repeated failures, its backoff cleared."""
        with self.sessions.begin() as session:
            sync_feeds(session, self.configured())
            feed = enable_feed(session, name)
            url = redact_url(feed.url) if feed is not None else None
        if feed is None:
            return FeedChange(
                ok=False, message=f"no feed named {name!r}; see `meta-ai-digest feeds list`"
            )
        log.info("feed %r enabled by %s", name, enabled_by)
        return FeedChange(
            ok=True,
            message=f"feed {name!r} enabled; it is polled in the next cycle.",
            name=name,
            url=url,
        )

    def import_opml(self, data: bytes, *, added_by: str) -> ImportReport:
        """Add every feed of an OPML file that is not there yet; nothing is fetched (a file
        of 300 feeds must not take minutes): each is checked at its first poll.

        Linear in the file: the names and URLs taken are read in one query and every entry
        is checked against them in memory; the new feeds are inserted IMPORT_BATCH at a
        time, each batch its own short transaction, so polls and digests write between
        them (10,000 outlines: a few seconds, never a lock held for long).
        """
        report = ImportReport()
        feeds = read_opml(data)
        configured = self.configured()
        with self.sessions() as session:
            taken = feed_list(session, configured)
        wanted: list[NewFeed] = []
        for feed in feeds:
            label = feed.title or shown_url(feed.xml_url)
            problem = feed_url_problem(feed.xml_url, WEB_SCHEMES)
            if problem is not None:
                report.refused.append((label, f"{shown_url(feed.xml_url)!r} {problem}"))
                continue
            if feed.xml_url in taken.urls:
                report.already_there.append(label)
                continue
            name = free_name(feed_name(None, feed.title, feed.xml_url), feed.xml_url, taken.names)
            taken.names.add(name)
            taken.urls.add(feed.xml_url)
            wanted.append(NewFeed(name, feed.xml_url, feed.html_url, feed.category_path))
        for start in range(0, len(wanted), IMPORT_BATCH):
            batch = wanted[start : start + IMPORT_BATCH]
            try:
                with self.sessions.begin() as session:
                    add_feeds(session, batch, taken.inactive, added_by=added_by, now=utc_now())
                report.added.extend(feed.name for feed in batch)
            except IntegrityError:
                # Another process added one of these names or URLs meanwhile: one by one,
                # with add_feed's checks, so each conflict is named.
                self._add_one_by_one(batch, added_by, report)
        return report

    def _add_one_by_one(
        self, batch: Sequence[NewFeed], added_by: str, report: ImportReport
    ) -> None:
        for feed in batch:
            try:
                self._store(feed.name, feed.url, added_by, feed.site_url, feed.category)
            except (FeedConflictError, IntegrityError) as error:
                reason = str(error) if isinstance(error, FeedConflictError) else "added meanwhile"
                report.refused.append((feed.name, reason))
                continue
            report.added.append(feed.name)

    def export_opml(self, *, with_credentials: bool = False) -> tuple[bytes, int]:
        """Every feed the bot has (configured and added) as an OPML 2.0 file, and how many of
        its addresses lost credentials (user name and password, key-like query values:
        :func:`~bot.common.redaction.redact_url`) because ``with_credentials`` is False."""
        with self.sessions() as session:
            configured = self.configured()
            stored = {feed.name: feed for feed in active_feeds(session, configured)}
        feeds = [
            OpmlFeed(
                title=config.name,
                xml_url=config.url,
                html_url=stored[config.name].site_url if config.name in stored else None,
            )
            for config in configured
        ]
        names = {config.name for config in configured}
        feeds += [
            OpmlFeed(
                title=feed.name,
                xml_url=feed.url,
                html_url=feed.site_url,
                category=tuple(part for part in (feed.category or "").split("/") if part),
            )
            for feed in stored.values()
            if feed.name not in names
        ]
        if not with_credentials:
            shown = [
                replace(
                    feed,
                    xml_url=redact_url(feed.xml_url),
                    html_url=redact_url(feed.html_url) if feed.html_url else None,
                )
                for feed in feeds
            ]
            masked = sum(before != after for before, after in zip(feeds, shown, strict=True))
            feeds = shown
        else:
            masked = 0
        return write_opml(feeds, title="meta-ai-digest feeds", created=utc_now()), masked


async def check_feeds(feeds: Sequence[FeedConfig], fetch: FetchSettings) -> list[FeedOutcome]:
    """Fetch and parse every enabled feed of ``feeds`` now, storing nothing (``feeds check``:
    no database is needed)."""
    from bot.feeds.http import HttpFetcher
    from bot.feeds.poller import FeedTask, poll_feeds

    tasks = [FeedTask(feed.name, feed.url) for feed in feeds if feed.enabled]
    async with HttpFetcher(fetch) as fetcher:
        return await poll_feeds(fetcher, tasks)
