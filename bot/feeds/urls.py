"""Link normalisation: one article, one key, however a feed decorates its link.

Used to deduplicate items across feeds and polls: the same article reached over
http and https, with utm_* tracking parameters, a #fragment or a trailing slash
is the same article.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.common.text import INVISIBLE

FEED_SCHEMES = ("http", "https", "file")
# The longest address fetched or stored as a feed's. Browsers and servers agree on about
# 2,000 (many servers refuse a longer request line with 414); a 20 KB address is a paste
# gone wrong or an attack, and used to fail with no reason.
MAX_URL_CHARS = 2048
# How much of an address a message quotes.
SHOWN_URL_CHARS = 100
# A host name: labels of letters (any script: IDNA applies later), digits, '-' and '_'.
HOST_NAME = re.compile(r"(?:[^\W_]|[-_])+(?:\.(?:[^\W_]|[-_])+)*\.?")

# Query parameters that track the reader rather than name the resource.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref",
        "ref_src",
        "ref_url",
        "cmpid",
        "ncid",
        "ocid",
        "sr_share",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "source",
        "rss",
        "taid",
        "smid",
        "partner",
        "cid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "hsa_", "itm_")
SAFE_SCHEMES = ("http", "https")
# Markup's quote and bracket characters and any blank (\s is exactly str.isspace):
# one regex search, not a Python loop over every character of every link.
UNSAFE_LINK_CHARACTER = re.compile(r"[<>\"'`\s]")


def is_tracking_parameter(name: str) -> bool:
    """True for query parameters that only identify a campaign or a reader."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """A canonical form for comparing links; not meant to be fetched.

    https and http collapse to https, the host is lowercased without ``www.``
    and default ports, fragments and tracking parameters go, the remaining
    query is sorted, and a trailing slash is dropped. Non-web URLs come back
    stripped but otherwise unchanged.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SAFE_SCHEMES:
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    path = parts.path or "/"
    while "//" in path:
        path = path.replace("//", "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(name)
    ]
    query.sort()
    return urlunsplit(("https", netloc, "" if path == "/" else path, urlencode(query), ""))


def strip_tracking(url: str) -> str:
    """The link as published minus tracking parameters and fragment: what readers are shown."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SAFE_SCHEMES or (not parts.query and not parts.fragment):
        return url
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(name)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def safe_link(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link of at most :data:`MAX_URL_CHARS`, else None
    (no javascript:, data:, file:)."""
    if not url:
        return None
    candidate = url.strip()
    if len(candidate) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    # Markup's quote and bracket characters, any blank, and any control or invisible
    # character (a link stands in for a missing title, and is shown in every adapter).
    if UNSAFE_LINK_CHARACTER.search(candidate):
        return None
    if INVISIBLE.search(candidate):
        return None
    return candidate


def url_too_long(url: str) -> str | None:
    """Why ``url`` is too long to fetch or store, naming the limit; None when it is not."""
    if len(url) <= MAX_URL_CHARS:
        return None
    return f"is too long ({len(url):,} characters; an address has at most {MAX_URL_CHARS:,})"


def shown_url(url: str) -> str:
    """``url`` for a message: whole when short, else its start and "…"."""
    return url if len(url) <= SHOWN_URL_CHARS else url[: SHOWN_URL_CHARS - 1] + "…"


def feed_url_problem(url: str, schemes: tuple[str, ...] = FEED_SCHEMES) -> str | None:
    """Why ``url`` cannot be a feed's address, in words that say the fix; None when it can.

    Catches what a typo or a half-pasted address looks like: no host (``https://``), a blank
    inside (``https://exa mple.com/feed``), a host with characters no host name has, a port
    that is not a number, a ``file://`` URL without a path.
    """
    names = [f"{scheme}://" for scheme in schemes]
    shown = " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"
    if not url.strip():
        return "is empty"
    if (too_long := url_too_long(url)) is not None:
        return too_long
    if any(character.isspace() or ord(character) < 32 for character in url):
        return "contains a space or another blank; remove it (a space in a path is written %20)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"is not a valid URL ({error})"
    scheme = parts.scheme.lower()
    if scheme not in schemes or not url.lower().startswith(f"{scheme}://"):
        return f"must start with {shown}"
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return "a file:// URL needs an absolute path, e.g. file:///srv/feeds/news.xml"
        return None
    host = parts.hostname or ""
    if not host:
        return f"has no host; write the whole address, e.g. {scheme}://example.org/feed.xml"
    if not _is_host(host):
        return f"has {host!r} as its host, which is not a host name or an IP address"
    if port == 0:
        return "has port 0; leave the port out or name the server's port"
    return None


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return bool(HOST_NAME.fullmatch(host)) and ".." not in host and not host.startswith(".")
