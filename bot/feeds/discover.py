"""A feed's address from whatever an admin pastes: the feed itself, or a page of the site that
announces its feed with ``<link rel="alternate" type="application/rss+xml" href="...">``.

Everything is fetched through the bot's :class:`~bot.feeds.http.HttpFetcher`, so the limits
(timeouts, body cap, redirects) apply, and untrusted (the default) through the URL gate: an
address typed in chat must not reach the bot's own network.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.common.text import plural
from bot.feeds.errors import FetchError, ParseError
from bot.feeds.http import FetchResult, HttpFetcher
from bot.feeds.poller import parse_off_loop
from bot.feeds.records import ParsedFeed
from bot.feeds.urls import safe_link, shown_url

# The types a page uses to announce a feed (RSS, Atom, JSON Feed; RDF is RSS 1.0).
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)
# A page may announce several feeds (comments, categories); the first few are tried in order.
MAX_CANDIDATES = 5
PAGE_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class DiscoveredFeed:
    """A feed that was fetched and parsed: its address, title and site."""

    url: str
    title: str
    site_url: str | None
    entries: int


class DiscoveryError(Exception):
    """No feed at the address; the message says what was found instead."""


async def discover_feed(fetcher: HttpFetcher, url: str, *, trusted: bool = False) -> DiscoveredFeed:
    """The feed at ``url``, or the first feed the page at ``url`` links to."""
    result = await fetch(fetcher, url, trusted)
    try:
        parsed = await parse_off_loop(result, fetcher.settings.max_body_bytes)
    except ParseError as not_a_feed:
        candidates = alternate_links(result)
        if not candidates:
            raise DiscoveryError(
                f"{url} is not a feed ({not_a_feed}) and links to none: a page announces its "
                'feed with <link rel="alternate" type="application/rss+xml" href="...">; '
                "paste the feed's own address"
            ) from None
        return await first_feed(fetcher, candidates, trusted, site=result.final_url)
    return found(url, parsed, result.final_url)


async def fetch(fetcher: HttpFetcher, url: str, trusted: bool) -> FetchResult:
    try:
        return await fetcher.fetch(url, trusted=trusted)
    except FetchError as error:
        raise DiscoveryError(f"cannot fetch {shown_url(url)}: {error}") from None


async def first_feed(
    fetcher: HttpFetcher, candidates: list[str], trusted: bool, site: str
) -> DiscoveredFeed:
    problems = []
    for candidate in candidates[:MAX_CANDIDATES]:
        try:
            result = await fetch(fetcher, candidate, trusted)
            parsed = await parse_off_loop(result, fetcher.settings.max_body_bytes)
        except (DiscoveryError, ParseError) as error:
            problems.append(str(error))
            continue
        discovered = found(candidate, parsed, result.final_url)
        return DiscoveredFeed(
            discovered.url, discovered.title, discovered.site_url or site, discovered.entries
        )
    raise DiscoveryError(
        f"the page links to {plural(len(candidates), 'feed')} and none could be read: "
        + "; ".join(problems)
    )


def found(url: str, parsed: ParsedFeed, final_url: str) -> DiscoveredFeed:
    return DiscoveredFeed(
        url=url, title=parsed.title, site_url=parsed.link, entries=len(parsed.entries)
    )


def alternate_links(result: FetchResult) -> list[str]:
    """The feeds an HTML page announces, as absolute http(s) URLs in document order."""
    content_type = (result.content_type or "").split(";")[0].strip().lower()
    if content_type and content_type not in PAGE_TYPES:
        return []
    import lxml.html  # only a page that is not a feed needs an HTML parser
    from lxml import etree

    try:
        document = lxml.html.document_fromstring(result.body, base_url=result.final_url)
    except (etree.ParserError, ValueError):
        return []
    document.make_links_absolute(result.final_url, resolve_base_href=True)
    links: list[str] = []
    for element in document.iter("link"):
        rel = {token.lower() for token in (element.get("rel") or "").split()}
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        href = safe_link(element.get("href"))
        if "alternate" in rel and kind in FEED_TYPES and href and href not in links:
            links.append(href)
    return links
