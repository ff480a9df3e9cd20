"""The feed list as a team manages it: list, add (from a feed's or a site's address), remove,
import and export OPML. Feeds added here live in the database, where every replica sees them;
the config file's feeds stay as they are (see bot.store.feeds for who wins).

Used by the CLI (`feeds add` ...) and, through DigestBot, by ``/meta-ai add`` in chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from bot.common.text import plural
from bot.digest.model import FeedChange, FeedInfo
from bot.feeds.discover import DiscoveryError, discover_feed
from bot.feeds.http import HttpFetcher
from bot.feeds.opml import OpmlFeed, read_opml, write_opml
from bot.feeds.settings import FeedConfig, FetchSettings
from bot.feeds.text import clean_text
from bot.feeds.urls import feed_url_problem
from bot.reports import feed_infos
from bot.store.feeds import FeedConflictError, active_feeds, add_feed, remove_feed
from bot.store.schema import utc_now

log = logging.getLogger(__name__)

WEB_SCHEMES = ("http", "https")
# The feeds.name column holds 200 characters; a name is a label, not a paragraph.
MAX_NAME_CHARS = 120


@dataclass
class ImportReport:
    """What `feeds import` did with each feed of the file."""

    added: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    # (title or URL, why it was not added)
    refused: list[tuple[str, str]] = field(default_factory=list)


def feed_name(wanted: str | None, title: str, url: str) -> str:
    """The name to store: the one asked for, else the feed's title, else its host."""
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
            return FeedChange(ok=False, message=f"{url!r} {problem}", url=url)
        try:
            async with HttpFetcher(self.fetch) as fetcher:
                found = await discover_feed(fetcher, url)
        except DiscoveryError as error:
            return FeedChange(ok=False, message=str(error), url=url)
        chosen = feed_name(name, found.title, found.url)
        try:
            await asyncio.to_thread(self._store, chosen, found.url, added_by, found.site_url, None)
        except FeedConflictError as error:
            return FeedChange(ok=False, message=str(error), name=chosen, url=found.url)
        via = "" if found.url == url else f" (found on {url})"
        log.info("feed %r added by %s: %s", chosen, added_by, found.url)
        return FeedChange(
            ok=True,
            message=f"Added the feed “{chosen}”: {found.url}{via}, "
            f"{plural(found.entries, 'item')} now; it is polled from the next cycle.",
            name=chosen,
            url=found.url,
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
                row = remove_feed(session, self.configured(), name, utc_now())
                url = row.url
        except FeedConflictError as error:
            return FeedChange(ok=False, message=str(error), name=name)
        log.info("feed %r removed by %s", name, removed_by)
        return FeedChange(
            ok=True,
            message=f"Removed the feed “{name}” ({url}); its stories stay.",
            name=name,
            url=url,
        )

    def import_opml(self, data: bytes, *, added_by: str) -> ImportReport:
        """Add every feed of an OPML file that is not there yet; nothing is fetched (a file
        of 300 feeds must not take minutes): each is checked at its first poll."""
        report = ImportReport()
        feeds = read_opml(data)
        with self.sessions.begin() as session:
            configured = self.configured()
            known = {row.url for row in active_feeds(session, configured)}
            known |= {config.url for config in configured}
            for feed in feeds:
                label = feed.title or feed.xml_url
                problem = feed_url_problem(feed.xml_url, WEB_SCHEMES)
                if problem is not None:
                    report.refused.append((label, f"{feed.xml_url!r} {problem}"))
                    continue
                if feed.xml_url in known:
                    report.already_there.append(label)
                    continue
                name = self._free_name(session, feed_name(None, feed.title, feed.xml_url), feed)
                try:  # checks only, before it changes anything: the batch goes on
                    add_feed(
                        session,
                        configured,
                        name=name,
                        url=feed.xml_url,
                        added_by=added_by,
                        now=utc_now(),
                        site_url=feed.html_url,
                        category=feed.category_path,
                    )
                except FeedConflictError as error:
                    report.refused.append((label, str(error)))
                    continue
                known.add(feed.xml_url)
                report.added.append(name)
        return report

    def _free_name(self, session: Session, name: str, feed: OpmlFeed) -> str:
        """``name``, or ``name (host)``, ``name (2)``... when another feed has it."""
        taken = {row.name for row in active_feeds(session, self.configured())}
        taken |= {config.name for config in self.configured()}
        if name not in taken:
            return name
        host = urlsplit(feed.xml_url).hostname or ""
        candidates = [f"{name} ({host})"] + [f"{name} ({number})" for number in range(2, 100)]
        return next((candidate for candidate in candidates if candidate not in taken), name)

    def export_opml(self) -> bytes:
        """Every feed the bot has (configured and added) as an OPML 2.0 file."""
        with self.sessions() as session:
            configured = self.configured()
            rows = {row.name: row for row in active_feeds(session, configured)}
        feeds = [
            OpmlFeed(
                title=config.name,
                xml_url=config.url,
                html_url=rows[config.name].site_url if config.name in rows else None,
            )
            for config in configured
        ]
        names = {config.name for config in configured}
        feeds += [
            OpmlFeed(
                title=row.name,
                xml_url=row.url,
                html_url=row.site_url,
                category=tuple(part for part in (row.category or "").split("/") if part),
            )
            for row in rows.values()
            if row.name not in names
        ]
        return write_opml(feeds, title="meta-ai-digest feeds", created=utc_now())
