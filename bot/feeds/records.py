"""What the fetcher and the parser hand on: a parsed document and its entries, a server's
cache validators, and what happened to one feed in a cycle, as plain records.

A module of their own, so the store, the poller and the services can name them without
importing feedparser or aiohttp (the parser runs in worker processes; the rest only
reads records; the read-only commands never load the HTTP client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.common.bounds import fit_key
from bot.feeds.errors import FetchError
from bot.feeds.urls import normalize_url


@dataclass(frozen=True)
class Validators:
    """What the server told us last time, sent back to get a cheap 304."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


# Longest stored guid or normalised link: the size of their columns (items.guid,
# items.normalized_url; tests/store/test_bounds.py keeps them equal). A longer key is fitted
# the way the store fits it (bot.common.bounds.fit_key), so lookups find it.
MAX_KEY_CHARS = 1000


@dataclass(frozen=True)
class EntryMarkup:
    """An entry's summary and content as the feed gave them (HTML, entities), not yet
    cleaned. A poll parses with ``defer_text`` and cleans only the entries it has not
    stored before (see bot.feeds.parser.finish_entry): most entries of a changed feed are
    old, and cleaning is the dearest part of parsing that is the bot's own."""

    summary: str | None
    # Cleaned one by one and joined with a line break (Atom may carry several).
    content: tuple[str | None, ...] = ()
    # Cleaned when ``content`` comes out empty (JSON Feed's content_text).
    content_fallback: str | None = None


@dataclass
class FeedEntry:
    """One item of a feed, cleaned and ready for the topic stage.

    An entry parsed with ``defer_text`` has an empty summary and content and its texts
    in ``markup`` until bot.feeds.parser.finish_entry cleans them: never raw markup in a
    text field.
    """

    guid: str
    link: str | None
    title: str
    summary: str
    content: str
    published: datetime | None
    image: str | None = None
    comments: str | None = None
    author: str | None = None
    # The link as deduplication compares it (see normalize_url), computed once where the
    # entry is made: in the parser's worker process, not again for every lookup.
    normalized_link: str | None = field(default=None, compare=False)
    markup: EntryMarkup | None = None

    def __post_init__(self) -> None:
        if self.normalized_link is None and self.link:
            self.normalized_link = fit_key(normalize_url(self.link), MAX_KEY_CHARS)

    @property
    def text(self) -> str:
        """The longest text the feed gives: full content if any, else the summary."""
        return self.content if len(self.content) > len(self.summary) else self.summary


@dataclass
class ParsedFeed:
    """A parsed document: its entries and what the parser had to forgive."""

    entries: list[FeedEntry] = field(default_factory=list)
    title: str = ""
    # A problem the parser recovered from (feedparser's bozo); entries are still good.
    warning: str | None = None
    # RSS <ttl>, in minutes: the publisher's floor on our poll interval.
    ttl_minutes: int | None = None
    # The site the feed belongs to (RSS <link>, Atom's alternate link, JSON Feed's
    # home_page_url), an absolute http(s) URL or None.
    link: str | None = None


@dataclass
class FeedOutcome:
    """What happened to one feed in this cycle."""

    name: str
    url: str
    parsed: ParsedFeed | None = None
    not_modified: bool = False
    # The server sent the same document as last time (it ignored conditional GET).
    unchanged: bool = False
    body_sha256: str | None = None
    validators: Validators = field(default_factory=Validators)
    # A ParseError when the document arrived but held no usable feed.
    error: FetchError | None = None
    # Seconds the publisher asked us to wait (Cache-Control max-age or <ttl>);
    # None after a 304 without max-age: the floor stored earlier still holds.
    min_interval: float | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        if self.error is not None:
            return str(self.error.kind)
        if self.not_modified:
            return "not-modified"
        return "unchanged" if self.unchanged else "ok"
