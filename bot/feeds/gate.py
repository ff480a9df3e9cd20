"""The one gate every untrusted fetch and every redirect hop passes (server-side request forgery).

Links found inside feeds may not reach file://, private, loopback, link-local
(cloud metadata at 169.254.169.254), shared or reserved addresses, however they
are spelled, unless an admin allows the host and port (``fetch.allowed_private_hosts``:
``host:port`` entries; a bare host allows only ports 80 and 443, never every port).

Two checks, so no spelling can slip between them:

1. **The URL** (:meth:`UrlGate.check`). The link is parsed once with yarl, the
   parser aiohttp itself uses, and that parsed :class:`~yarl.URL` is what the
   fetcher hands to aiohttp: the host checked is the host connected to, byte for
   byte. yarl IDNA-encodes (UTS #46) every non-ASCII host, so fullwidth digits
   ``１２７.０.０.１``, circled digits ``①②⑦.⓪.⓪.①`` and the ideographic and
   fullwidth dots U+3002, U+FF0E, U+FF61 all become ``127.0.0.1`` before the
   address check sees them. Legacy numeric forms (``2130706433``, ``0x7f.1``,
   ``0177.0.0.1``, ``127.1``) and IPv6 addresses that tunnel to IPv4 (mapped,
   6to4, Teredo, NAT64) are judged by the address they reach.
2. **The address connected to.** aiohttp skips the resolver for literal IPs, so
   the resolver alone cannot be the last word: the guarded connector's socket
   factory refuses to open a socket to any non-public address unless the URL's
   host was allowed (:func:`guarded_connector`). The resolver also drops
   non-public answers for names (``GuardedResolver``), so a DNS name pointing at
   127.0.0.1 fails with a clear message and DNS rebinding cannot swap the address
   afterwards.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.common.hosts import DEFAULT_WEB_PORTS, allowed_endpoint
from bot.feeds.errors import FailureKind, FetchError

# RFC 6052 well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches IPv4 a.b.c.d.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# Hex, octal and dotless IPv4 spellings ("0x7f.1", "0177.0.0.1", "2130706433", "127.1").
LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)
# Dots that IDNA (UTS #46) maps to "." : ideographic, fullwidth, halfwidth ideographic.
UNICODE_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
WEB_SCHEMES = ("http", "https")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast IPs.

    False for private, loopback, link-local (cloud metadata 169.254.169.254),
    shared (100.64/10), multicast, reserved and unspecified addresses, and for
    IPv6 addresses that embed such an IPv4 address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        return is_public_address(str(inner))
    return True


def literal_ip(host: str) -> str | None:
    """The IP a host name spells, including legacy IPv4 forms that resolvers accept."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    if LEGACY_IPV4.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def normalized_host(host: str) -> str:
    """A host as the HTTP library will connect to it: the form every check compares.

    NFKC, the Unicode dots mapped to ".", then yarl's own host encoding (IDNA
    UTS #46 for names, compressed form for IPs), lower case, no brackets and no
    trailing dot. Text yarl refuses as a host is returned lower-cased, unchanged
    otherwise (it can match nothing a request could reach).
    """
    text = unicodedata.normalize("NFKC", host).translate(UNICODE_DOTS).strip()
    text = text.removeprefix("[").removesuffix("]")
    try:
        encoded = URL.build(scheme="http", host=text).raw_host or ""
    except (ValueError, UnicodeError):
        encoded = text
    return encoded.removeprefix("[").removesuffix("]").lower().rstrip(".")


@dataclass(frozen=True)
class GatedUrl:
    """A link that passed the gate: the parsed URL to request and what was decided about it."""

    url: URL
    host: str
    # An admin allowed this host: it may reach private addresses.
    private_allowed: bool


class UrlGate:
    """Checks a feed-supplied link, or a redirect target, before anything is sent to it."""

    def __init__(self, allowed_private_hosts: Iterable[str]) -> None:
        endpoints = (allowed_endpoint(entry) for entry in allowed_private_hosts)
        self._allowed = frozenset((normalized_host(host), port) for host, port in endpoints)

    def is_allowed(self, host: str, port: int | None) -> bool:
        """True when an admin allowed this host on this port (a bare entry: 80 and 443)."""
        host = normalized_host(host)
        if (host, port) in self._allowed:
            return True
        return port in DEFAULT_WEB_PORTS and (host, None) in self._allowed

    def parse(self, link: str | URL, *, base: URL | None = None) -> GatedUrl:
        """The link parsed as aiohttp will request it, http(s) only, no address check.

        For trusted URLs (feeds an admin configured) and the first step of :meth:`check`.
        ``base`` resolves a relative redirect ``Location`` the way aiohttp does.
        """
        try:
            url = link if isinstance(link, URL) else URL(link)
            if base is not None:
                url = base.join(url)
            raw_host = url.raw_host
        except (ValueError, UnicodeError, TypeError) as error:
            raise FetchError(FailureKind.INVALID_URL, f"invalid link: {error}") from error
        scheme = (url.scheme or "").lower()
        if scheme not in WEB_SCHEMES:
            raise FetchError(
                FailureKind.BLOCKED, f"only http(s) links are fetched, not {scheme or 'relative'}:"
            )
        host = normalized_host(raw_host or "")
        if not host:
            raise FetchError(FailureKind.BLOCKED, "link has no host")
        return GatedUrl(url, host, private_allowed=True)

    def check(self, link: str | URL, *, base: URL | None = None) -> GatedUrl:
        """The parsed URL if a feed-supplied link may be fetched; FetchError if not.

        Refused (``blocked``): non-web schemes, loopback names, and hosts that are, in
        any spelling, a non-public address, unless the host is allowed. Names are
        resolved later, through :class:`GuardedResolver`.
        """
        parsed = self.parse(link, base=base)
        host = parsed.host
        if self.is_allowed(host, parsed.url.port):
            return parsed
        if host == "localhost" or host.endswith(".localhost"):
            raise FetchError(FailureKind.BLOCKED, f"{host} is a loopback name{allow_hint(host)}")
        address = literal_ip(host)
        if address is not None and not is_public_address(address):
            spelled = "" if address == host else f" ({host})"
            raise FetchError(
                FailureKind.BLOCKED,
                f"{address}{spelled} is not a public address{allow_hint(host)}",
            )
        return GatedUrl(parsed.url, host, private_allowed=False)


def allow_hint(host: str) -> str:
    """How an admin lets the bot fetch from a private host: the refusal names the key."""
    return f' (to fetch from it, add "{host}" to fetch.allowed_private_hosts)'


class BlockedAddressError(OSError):
    """A connection to an address a feed-supplied link may not reach was refused."""


# The gate's decision for the request being connected, read by the socket factory below.
# Set by the fetcher around each untrusted request; tasks aiohttp starts inherit it.
CONNECTING: ContextVar[GatedUrl | None] = ContextVar("meta_ai_digest_connecting", default=None)


def guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """aiohttp's socket factory for untrusted requests: the last check, on the real address.

    Runs for every address aiohttp connects to, literal IPs included (which never
    reach a resolver). Without a gate decision in context it fails closed.
    """
    family, type_, proto, _canonical, address = addr_info
    gated = CONNECTING.get()
    if (gated is None or not gated.private_allowed) and not is_public_address(str(address[0])):
        # One message per host (not per address) so happy eyeballs, failing on several
        # addresses, reports this error rather than a generic one.
        if gated is None:
            raise BlockedAddressError("an unchecked link leads to a non-public address; refused")
        raise BlockedAddressError(
            f"{gated.host} leads to a non-public address; refused{allow_hint(gated.host)}"
        )
    return socket.socket(family=family, type=type_, proto=proto)


class GuardedResolver(AbstractResolver):
    """A resolver that refuses to hand out non-public addresses for untrusted hosts.

    Checking at resolution time (not just on the URL) also stops DNS names that
    point at 127.0.0.1 or 169.254.169.254 with a clear message, and the connection
    is made to the very address checked here, so DNS rebinding cannot swap it
    afterwards. aiohttp skips resolvers for literal IPs: :func:`guarded_socket`
    covers every address.
    """

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._gate = UrlGate(allowed_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._gate.is_allowed(host, port):
            return results
        public = [result for result in results if is_public_address(result["host"])]
        if not public:
            raise BlockedAddressError(
                f"{host} resolves only to non-public addresses; refused{allow_hint(host)}"
            )
        return public

    async def close(self) -> None:
        await self._inner.close()


def guarded_connector(
    allowed_hosts: Iterable[str], *, limit: int = 100, limit_per_host: int = 0
) -> aiohttp.TCPConnector:
    """A TCPConnector that resolves through :class:`GuardedResolver` and opens sockets only
    to public addresses (or any address, for a request whose host an admin allowed)."""
    return aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        resolver=GuardedResolver(allowed_hosts),
        socket_factory=guarded_socket,
        ttl_dns_cache=300,
    )
