"""Fetching the article page behind a feed item that carries only a snippet.

The link comes from feed content, so it is fetched as *untrusted*: through the
URL gate (:mod:`bot.feeds.gate`: http(s) only, public addresses only in any
spelling, unless an admin allows the host), with the same timeouts and size cap
as feeds. Extracting the main text is the summarizer's
business (trafilatura); this module only brings the HTML home.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.feeds.errors import FailureKind, FetchError
from bot.feeds.gate import normalized_host
from bot.feeds.http import HttpFetcher

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
# RFC 2606 / RFC 6761 names that never resolve on the public internet: no lookup is made.
# (localhost names are refused as loopback by the SSRF guard instead.)
RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".local")


def is_reserved_name(url: str) -> bool:
    try:
        host = normalized_host(urlsplit(url).hostname or "")
    except ValueError:
        return False
    return host in {"example", "invalid", "test"} or host.endswith(RESERVED_SUFFIXES)


async def fetch_article_html(fetcher: HttpFetcher, url: str, *, trusted: bool = False) -> str:
    """The page's HTML as text; FetchError if it cannot be had or is not HTML.

    Links from feeds are untrusted (the SSRF guard applies); ``trusted`` is for a
    URL an admin typed, such as ``meta-ai-digest summarize URL``.
    """
    if not trusted and is_reserved_name(url):
        raise FetchError(FailureKind.DNS, "reserved domain name; it never resolves")
    result = await fetcher.fetch(url, trusted=trusted, accept=HTML_ACCEPT)
    content_type = (result.content_type or "text/html").lower()
    if "html" not in content_type and "xml" not in content_type:
        raise FetchError(FailureKind.NOT_HTML, f"article is {content_type}, not HTML")
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";", 1)[0].strip() or "utf-8"
    try:
        return result.body.decode(charset, errors="replace")
    except LookupError:
        return result.body.decode("utf-8", errors="replace")
