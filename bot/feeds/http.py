"""Polite, bounded HTTP fetching for feeds and article pages.

Every request has connect/read/total timeouts, a body cap counted after
decompression (so a gzip bomb stops at the cap, not in memory), a redirect
limit enforced hop by hop, conditional GET (ETag / Last-Modified) and a
User-Agent that names the bot. Links taken from feed content are "untrusted":
they may not reach file://, private, loopback or link-local addresses unless an
admin allows the host (server-side request forgery guard).

Each failure becomes a :class:`~bot.feeds.errors.FetchError` with a
:class:`~bot.feeds.errors.FailureKind`, so the poller can report it and apply
backoff without ever raising past one feed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.common.retry import parse_retry_after

# Re-exported: callers of HttpFetcher.fetch catch what it raises from here.
from bot.feeds.errors import FailureKind as FailureKind
from bot.feeds.errors import FetchError as FetchError
from bot.feeds.settings import FetchSettings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024


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


@dataclass
class FetchResult:
    """A successful fetch: a body, or ``not_modified`` for a 304."""

    url: str
    final_url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False
    # Seconds the server asked us to wait before the next request (Cache-Control max-age).
    max_age: float | None = None
    elapsed: float = 0.0


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` seconds from a Cache-Control header, or None."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        value = value.strip().strip('"')
        if name.strip().lower() == "max-age" and value.isdigit():
            return float(value)
    return None


# RFC 6052 well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches IPv4 a.b.c.d.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# Hex, octal and dotless IPv4 spellings ("0x7f.1", "0177.0.0.1", "2130706433", "127.1").
LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)


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
    """Lower case without the trailing dot of a fully qualified name."""
    return host.lower().rstrip(".")


class BlockedAddressError(OSError):
    """A host resolved only to addresses a feed-supplied link may not reach."""


class GuardedResolver(AbstractResolver):
    """A resolver that refuses to hand out non-public addresses for untrusted hosts.

    Checking at resolution time (not just on the URL) also stops DNS names that
    point at 127.0.0.1 or 169.254.169.254, and the connection is made to the
    very address checked here, so DNS rebinding cannot swap it afterwards.
    aiohttp skips resolvers for literal IPs: :func:`check_untrusted_url` covers those.
    """

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allowed = {normalized_host(host) for host in allowed_hosts}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if normalized_host(host) in self._allowed:
            return results
        public = [result for result in results if is_public_address(result["host"])]
        if not public:
            raise BlockedAddressError(f"{host} resolves only to non-public addresses; refused")
        return public

    async def close(self) -> None:
        await self._inner.close()


def check_untrusted_url(url: str, allowed_hosts: Iterable[str]) -> None:
    """Refuse non-web schemes, loopback names and literal non-public IPs in a feed-supplied link."""
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname or ""
    except ValueError as error:
        raise FetchError(FailureKind.INVALID_URL, f"invalid link: {error}") from error
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(
            FailureKind.BLOCKED,
            f"only http(s) links are fetched, not {parts.scheme or 'relative'}:",
        )
    host = normalized_host(raw_host)
    if not host:
        raise FetchError(FailureKind.BLOCKED, "link has no host")
    if host in {normalized_host(allowed) for allowed in allowed_hosts}:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise FetchError(FailureKind.BLOCKED, f"{host} is a loopback name")
    address = literal_ip(host)
    if address is not None and not is_public_address(address):
        raise FetchError(FailureKind.BLOCKED, f"{host} is not a public address ({address})")


def classify_client_error(error: BaseException) -> FetchError:
    """Map aiohttp/asyncio/OS exceptions to a FetchError an admin can read."""
    if isinstance(error, FetchError):
        return error
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return FetchError(FailureKind.TIMEOUT, "the server did not answer in time")
    if isinstance(
        error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError
    ):
        return FetchError(FailureKind.TLS, f"TLS failed: {error}")
    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(
        error.os_error, BlockedAddressError
    ):
        return FetchError(FailureKind.BLOCKED, str(error.os_error))
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return FetchError(FailureKind.DNS, f"name lookup failed: {error}")
    if isinstance(error, aiohttp.ClientConnectorError):
        return FetchError(FailureKind.CONNECTION, f"cannot connect: {error}")
    if isinstance(error, aiohttp.InvalidURL):
        return FetchError(FailureKind.INVALID_URL, f"invalid URL: {error}")
    if isinstance(error, aiohttp.ClientPayloadError):
        return FetchError(FailureKind.CONNECTION, f"the body was cut off or corrupt: {error}")
    if isinstance(error, aiohttp.ClientError):
        return FetchError(FailureKind.CONNECTION, f"{type(error).__name__}: {error}")
    if isinstance(error, OSError):
        return FetchError(FailureKind.CONNECTION, str(error))
    return FetchError(FailureKind.CONNECTION, f"{type(error).__name__}: {error}")


class HttpFetcher:
    """One aiohttp session for a poll cycle; open with ``async with``.

    ``trusted`` requests (feeds an admin configured) may use file:// and reach
    local addresses; untrusted ones (links found inside feeds) may not.

    Requests wait for a slot of their origin (``per_host_concurrency``) and then
    for one of ``concurrency`` global slots *before* their timeout starts, so a
    thousand queued feeds never time out while waiting behind slow servers.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._guarded_session: aiohttp.ClientSession | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._global_slots = asyncio.Semaphore(settings.concurrency)

    async def __aenter__(self) -> HttpFetcher:
        self._session = self._new_session(resolver=None)
        self._guarded_session = self._new_session(
            resolver=GuardedResolver(self.settings.allowed_private_hosts)
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for session in (self._session, self._guarded_session):
            if session is not None:
                await session.close()
        self._session = self._guarded_session = None

    def _new_session(self, resolver: AbstractResolver | None) -> aiohttp.ClientSession:
        settings = self.settings
        connector = aiohttp.TCPConnector(
            limit=settings.concurrency,
            limit_per_host=settings.per_host_concurrency,
            resolver=resolver,
            ttl_dns_cache=300,
        )
        timeout = aiohttp.ClientTimeout(
            total=settings.total_timeout_seconds,
            sock_connect=settings.connect_timeout_seconds,
            sock_read=settings.read_timeout_seconds,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": settings.user_agent},
            auto_decompress=True,
            trust_env=False,
        )

    def _slot(self, url: str) -> asyncio.Semaphore:
        """At most ``per_host_concurrency`` requests to one origin (host and port)."""
        origin = origin_of(url)
        if origin not in self._host_slots:
            self._host_slots[origin] = asyncio.Semaphore(self.settings.per_host_concurrency)
        return self._host_slots[origin]

    async def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        *,
        trusted: bool = True,
        accept: str = "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    ) -> FetchResult:
        """Fetch one URL within every limit; raise FetchError on any failure."""
        if url[:7].lower() == "file://":
            if not trusted:
                raise FetchError(FailureKind.BLOCKED, "file:// links from feeds are never fetched")
            return await asyncio.to_thread(self._read_file, url, time.monotonic())
        if not trusted:
            check_untrusted_url(url, self.settings.allowed_private_hosts)
        async with self._slot(url), self._global_slots:
            started = time.monotonic()
            try:
                # Covers connecting, every redirect hop and reading the whole body,
                # so a server that drips one byte a second is cut off too.
                async with asyncio.timeout(self.settings.total_timeout_seconds):
                    return await self._follow(
                        url, validators or Validators(), trusted, accept, started
                    )
            except Exception as error:
                raise classify_client_error(error) from error

    async def _follow(
        self, url: str, validators: Validators, trusted: bool, accept: str, started: float
    ) -> FetchResult:
        session = self._session if trusted else self._guarded_session
        assert session is not None, "use HttpFetcher in 'async with'"
        current, seen = url, {url}
        for _hop in range(self.settings.max_redirects + 1):
            headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate", **validators.headers()}
            async with session.get(current, headers=headers, allow_redirects=False) as response:
                if response.status in REDIRECT_STATUSES and "Location" in response.headers:
                    target = urljoin(current, response.headers["Location"])
                    if target in seen:
                        raise FetchError(FailureKind.REDIRECTS, f"redirect loop at {target}")
                    if not target.startswith(("http://", "https://")):
                        raise FetchError(FailureKind.BLOCKED, "redirect to a non-http(s) URL")
                    if not trusted:
                        check_untrusted_url(target, self.settings.allowed_private_hosts)
                    seen.add(target)
                    current = target
                    continue
                return await self._finish(url, current, response, started)
        raise FetchError(
            FailureKind.REDIRECTS, f"more than {self.settings.max_redirects} redirects"
        )

    async def _finish(
        self, url: str, final_url: str, response: aiohttp.ClientResponse, started: float
    ) -> FetchResult:
        headers = response.headers
        result = FetchResult(
            url=url,
            final_url=final_url,
            status=response.status,
            content_type=headers.get("Content-Type"),
            validators=Validators(headers.get("ETag"), headers.get("Last-Modified")),
            max_age=parse_max_age(headers.get("Cache-Control")),
        )
        if response.status == 304:
            result.not_modified = True
        elif response.status >= 400:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            raise FetchError(
                FailureKind.HTTP_STATUS,
                f"HTTP {response.status} {response.reason or ''}".strip(),
                status=response.status,
                retry_after=retry_after,
            )
        else:
            result.body = await self._read_capped(response)
        result.elapsed = time.monotonic() - started
        return result

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """Read the (decompressed) body, stopping as soon as it passes the cap."""
        cap = self.settings.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > cap and "Content-Encoding" not in response.headers:
            raise FetchError(
                FailureKind.TOO_LARGE, f"body of {declared} bytes exceeds the {cap}-byte cap"
            )
        body = bytearray()
        # aiohttp (>= 3.13.3) decompresses at most a chunk's worth at a time, so a
        # gzip bomb is stopped here after ``cap`` bytes instead of filling memory.
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            if len(body) + len(chunk) > cap:
                raise FetchError(FailureKind.TOO_LARGE, f"body exceeds the {cap}-byte cap")
            body += chunk
        return bytes(body)

    def _read_file(self, url: str, started: float) -> FetchResult:
        path = Path(url2pathname(unquote(urlsplit(url).path)))
        cap = self.settings.max_body_bytes
        try:
            with path.open("rb") as handle:
                body = handle.read(cap + 1)
        except OSError as error:
            raise FetchError(
                FailureKind.IO, f"cannot read {path}: {error.strerror or error}"
            ) from error
        if len(body) > cap:
            raise FetchError(FailureKind.TOO_LARGE, f"{path} exceeds the {cap}-byte cap")
        return FetchResult(
            url=url, final_url=url, status=200, body=body, elapsed=time.monotonic() - started
        )


def origin_of(url: str) -> str:
    """``host:port`` of a URL, the unit of per-host politeness."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = normalized_host(parts.hostname or "")
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{host}:{port or default}"


def response_headers_for_parser(result: FetchResult) -> dict[str, Any]:
    """The headers feedparser uses to pick a charset and resolve relative links."""
    headers: dict[str, Any] = {"content-location": result.final_url}
    if result.content_type:
        headers["content-type"] = result.content_type
    return headers
