"""Which site a link is on, and which sites are link aggregators.

Google News and Hacker News items point at someone else's article. Several stages
must recognise them: stories never let one stand for a story, the pipeline does not
fetch their links for full text (a redirect page holds no article), and the digest
reads the outlet from a Google News headline. The host check lives here once, so the
stages cannot disagree on what an aggregator is; the list is ``[stories]
aggregator_hosts`` (bot/default.toml).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

GOOGLE_NEWS_HOST = "news.google.com"
HACKER_NEWS_HOST = "news.ycombinator.com"
#: The shipped ``[stories] aggregator_hosts`` (bot/default.toml holds the configured default;
#: tests/common/test_config.py keeps them equal), for callers that take no settings.
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


#: The ports a bare host of ``fetch.allowed_private_hosts`` stands for: http's and https's.
DEFAULT_WEB_PORTS = (80, 443)


def allowed_endpoint(entry: str) -> tuple[str, int | None]:
    """An entry of ``fetch.allowed_private_hosts`` as (host, port); port None for a bare host.

    ``wiki.internal:8080``, ``10.1.2.3:8443``, ``[fd00::1]:8080``; a bare host means only
    the default web ports (:data:`DEFAULT_WEB_PORTS`), never every port of the host.
    ValueError, naming the fix, for anything else.
    """
    text = entry.strip()
    example = "write host:port, e.g. wiki.internal:8080 or [fd00::1]:8080"
    if not text:
        raise ValueError(f"an empty entry; {example}")
    if "/" in text or "@" in text or any(ch.isspace() for ch in text):
        raise ValueError(f"{entry!r} is not a host or host:port; {example}")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not a host or host:port; {example}")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise ValueError(f"{entry!r}: put an IPv6 address in brackets; {example}")
    else:
        host, colon, port_text_or_empty = text.partition(":")
        port_text = port_text_or_empty if colon else None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{entry!r} has port {port_text!r}, not a number from 1 to 65535")
    return host, int(port_text)
