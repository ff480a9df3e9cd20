"""One poll cycle of the feeds stage: fetch and parse many feeds concurrently.

This module knows HTTP and feed formats, nothing of the database: it takes the
feeds to poll with their validators and returns one :class:`FeedOutcome` per
feed. A failure of one feed is an outcome, never an exception, so one bad feed
never stops the others: a :class:`FetchError` when nothing usable arrived, a
:class:`ParseError` when the document came but held no usable feed.

No repeated work: a 304 is not parsed, and neither is a body byte-identical to the
feed's last one (its SHA-256 is kept), since many servers ignore conditional GET.
Parsing is CPU work: the caller may hand it to worker processes (``parse``);
by default it runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.feeds.errors import FailureKind, ParseError
from bot.feeds.http import (
    FetchResult,
    HttpFetcher,
    Validators,
    classify_client_error,
    response_headers_for_parser,
)
from bot.feeds.records import FeedOutcome, ParsedFeed


@dataclass(frozen=True)
class FeedTask:
    """A feed to poll now."""

    name: str
    url: str
    validators: Validators = field(default_factory=Validators)
    # SHA-256 of the feed's last document: the same bytes again are not parsed.
    body_sha256: str | None = None
    # An admin's config lists it (file:// and local addresses allowed); False for a feed
    # added at run time, fetched through the URL gate like a link found in a feed.
    trusted: bool = True


# Parses a document (body, response headers, cap on expanded entity bytes): in a thread by
# default, in a worker process when the caller has a pool. Entries come with their texts
# deferred (parse_feed's defer_text): the caller cleans those it keeps (finish_entry).
Parse = Callable[[bytes, dict[str, Any], int], Awaitable[ParsedFeed]]


async def poll_one(fetcher: HttpFetcher, task: FeedTask, parse: Parse | None = None) -> FeedOutcome:
    """Fetch and parse one feed; every failure is captured in the outcome."""
    outcome = FeedOutcome(name=task.name, url=task.url, validators=task.validators)
    try:
        result = await fetcher.fetch(task.url, task.validators, trusted=task.trusted)
    except Exception as error:  # a fetcher bug on one feed must not stop the cycle either
        outcome.error = classify_client_error(error)
        return outcome
    outcome.elapsed = result.elapsed
    outcome.min_interval = result.max_age
    outcome.validators = merge_validators(task.validators, result.validators)
    if result.not_modified:
        outcome.not_modified = True
        return outcome
    outcome.body_sha256 = hashlib.sha256(result.body).hexdigest()
    if outcome.body_sha256 == task.body_sha256:
        outcome.unchanged = True
        return outcome
    try:
        outcome.parsed = await parse_off_loop(result, fetcher.settings.max_body_bytes, parse)
    except ParseError as error:
        outcome.error = error
        return outcome
    if outcome.parsed.ttl_minutes:
        ttl_seconds = outcome.parsed.ttl_minutes * 60.0
        outcome.min_interval = max(outcome.min_interval or 0.0, ttl_seconds)
    return outcome


async def parse_in_thread(body: bytes, headers: dict[str, Any], max_expanded: int) -> ParsedFeed:
    """The default :data:`Parse`: a worker thread, so the event loop stays free."""
    from bot.feeds.parser import parse_feed  # feedparser: loaded by the first document

    return await asyncio.to_thread(
        partial(parse_feed, max_expanded_bytes=max_expanded, defer_text=True), body, headers
    )


async def parse_off_loop(
    result: FetchResult, max_expanded_bytes: int, parse: Parse | None = None
) -> ParsedFeed:
    """Parse a fetched feed off the event loop (feedparser is CPU work); a parser bug on one
    feed, or a worker process that died on it, is that feed's ParseError."""
    headers = response_headers_for_parser(result)
    try:
        return await (parse or parse_in_thread)(result.body, headers, max_expanded_bytes)
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
    parse: Parse | None = None,
) -> list[FeedOutcome]:
    """Poll every task concurrently (the fetcher bounds concurrency); outcomes in task order."""

    async def run(task: FeedTask) -> FeedOutcome:
        outcome = await poll_one(fetcher, task, parse)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(run(task) for task in tasks)))


async def poll_in_batches(
    fetcher: HttpFetcher,
    tasks: Sequence[FeedTask],
    batch_size: int,
    on_done: Callable[[FeedOutcome], None] | None = None,
    parse: Parse | None = None,
) -> AsyncIterator[list[FeedOutcome]]:
    """Poll every task concurrently; yield outcomes in batches as they complete.

    The caller stores a batch while later feeds are still being fetched, and memory holds
    a batch, not the whole cycle: at most ``2 × fetch.concurrency`` feeds are between
    request and parsed document at once, so fast downloads cannot pile up bodies waiting
    for the parser.
    """
    finished: asyncio.Queue[FeedOutcome] = asyncio.Queue()
    in_flight = asyncio.Semaphore(2 * fetcher.settings.concurrency)

    async def run(task: FeedTask) -> None:
        async with in_flight:
            outcome = await poll_one(fetcher, task, parse)
        if on_done is not None:
            on_done(outcome)
        finished.put_nowait(outcome)

    running = [asyncio.create_task(run(task)) for task in tasks]
    try:
        batch: list[FeedOutcome] = []
        for _ in running:
            batch.append(await finished.get())
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)
