"""One poll cycle of the feeds stage: fetch and parse many feeds concurrently.

This module knows HTTP and feed formats, nothing of the database: it takes the
feeds to poll with their validators and returns one :class:`FeedOutcome` per
feed. A failure of one feed is an outcome, never an exception, so one bad feed
never stops the others: a :class:`FetchError` when nothing usable arrived, a
:class:`ParseError` when the document came but held no usable feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from bot.feeds.errors import FailureKind, FetchError, ParseError
from bot.feeds.http import (
    FetchResult,
    HttpFetcher,
    Validators,
    classify_client_error,
    response_headers_for_parser,
)
from bot.feeds.parser import ParsedFeed, parse_feed


@dataclass(frozen=True)
class FeedTask:
    """A feed to poll now."""

    name: str
    url: str
    validators: Validators = field(default_factory=Validators)


@dataclass
class FeedOutcome:
    """What happened to one feed in this cycle."""

    name: str
    url: str
    parsed: ParsedFeed | None = None
    not_modified: bool = False
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
        return "not-modified" if self.not_modified else "ok"


async def poll_one(fetcher: HttpFetcher, task: FeedTask) -> FeedOutcome:
    """Fetch and parse one feed; every failure is captured in the outcome."""
    outcome = FeedOutcome(name=task.name, url=task.url, validators=task.validators)
    try:
        result = await fetcher.fetch(task.url, task.validators, trusted=True)
    except Exception as error:  # a fetcher bug on one feed must not stop the cycle either
        outcome.error = classify_client_error(error)
        return outcome
    outcome.elapsed = result.elapsed
    outcome.min_interval = result.max_age
    outcome.validators = merge_validators(task.validators, result.validators)
    if result.not_modified:
        outcome.not_modified = True
        return outcome
    try:
        outcome.parsed = await parse_off_loop(result, fetcher.settings.max_body_bytes)
    except ParseError as error:
        outcome.error = error
        return outcome
    if outcome.parsed.ttl_minutes:
        ttl_seconds = outcome.parsed.ttl_minutes * 60.0
        outcome.min_interval = max(outcome.min_interval or 0.0, ttl_seconds)
    return outcome


async def parse_off_loop(result: FetchResult, max_expanded_bytes: int) -> ParsedFeed:
    """Parse a fetched feed in a worker thread (feedparser is CPU work: the event loop stays
    free for chat commands); a parser bug on one feed is that feed's ParseError."""
    parse = partial(parse_feed, max_expanded_bytes=max_expanded_bytes)
    try:
        return await asyncio.to_thread(parse, result.body, response_headers_for_parser(result))
    except ParseError:
        raise
    except Exception as error:
        message = f"the parser failed on this document: {type(error).__name__}: {error}"
        raise ParseError(FailureKind.MALFORMED, message) from error


def merge_validators(previous: Validators, received: Validators) -> Validators:
    """Keep old validators a 304 did not repeat; take new ones from a 200."""
    return Validators(
        etag=received.etag or previous.etag,
        last_modified=received.last_modified or previous.last_modified,
    )


async def poll_feeds(
    fetcher: HttpFetcher,
    tasks: Sequence[FeedTask],
    on_done: Callable[[FeedOutcome], None] | None = None,
) -> list[FeedOutcome]:
    """Poll every task concurrently (the fetcher bounds concurrency); outcomes in task order."""

    async def run(task: FeedTask) -> FeedOutcome:
        outcome = await poll_one(fetcher, task)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(run(task) for task in tasks)))
