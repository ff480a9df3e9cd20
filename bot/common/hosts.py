"""Which site a link is on, and which sites are link aggregators.

Google News and Hacker News items point at someone else's article. Several stages
must recognise them: stories never let one stand for a story, the pipeline does not
fetch their links for full text (a redirect page holds no article), and the digest
reads the outlet from a Google News headline. The shipped list and the host check
live here once, so the stages cannot disagree on what an aggregator is.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

GOOGLE_NEWS_HOST = "news.google.com"
HACKER_NEWS_HOST = "news.ycombinator.com"
#: The default of ``[stories] aggregator_hosts``.
AGGREGATOR_HOSTS = (GOOGLE_NEWS_HOST, HACKER_NEWS_HOST)


def host_of(url: str | None) -> str:
    """The lower-case host of a URL, or "" when it has none (or is no URL)."""
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def is_aggregator_url(url: str | None, hosts: Iterable[str] = AGGREGATOR_HOSTS) -> bool:
    """True when ``url`` is on one of ``hosts`` (compared without case)."""
    host = host_of(url)
    return bool(host) and host in {known.lower() for known in hosts}
