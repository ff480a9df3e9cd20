"""Polite, bounded HTTP fetching for feeds and article pages.

Every request has connect/read/total timeouts, a body cap counted after
decompression (so a gzip bomb stops at the cap, not in memory), a redirect
limit enforced hop by hop, conditional GET (ETag / Last-Modified) and a
User-Agent that names the bot. Links taken from feed content are "untrusted":
every one of them, and every redirect hop, passes :class:`~bot.feeds.gate.UrlGate`
and connects only through the guarded connector (server-side request forgery
guard: no file://, private, loopback or link-local address unless an admin
allows the host).

Each failure becomes a :class:`~bot.feeds.errors.FetchError` with a
:class:`~bot.feeds.errors.FailureKind`, so the poller can report it and apply
backoff without ever raising past one feed.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import aiohttp

from bot.common.retry import parse_retry_after

# Re-exported: callers of HttpFetcher.fetch catch what it raises from here.
from bot.feeds.errors import FailureKind as FailureKind
from bot.feeds.errors import FetchError as FetchError
from bot.feeds.gate import (
    CONNECTING,
    BlockedAddressError,
    GatedUrl,
    UrlGate,
    guarded_connector,
    normalized_host,
)
from bot.feeds.records import Validators as Validators
from bot.feeds.settings import FetchSettings
from bot.feeds.urls import url_too_long

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024


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
        self.gate = UrlGate(settings.allowed_private_hosts)
        self._session: aiohttp.ClientSession | None = None
        self._guarded_session: aiohttp.ClientSession | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._global_slots = asyncio.Semaphore(settings.concurrency)

    async def __aenter__(self) -> HttpFetcher:
        settings = self.settings
        self._session = self._new_session(
            aiohttp.TCPConnector(
                limit=settings.concurrency,
                limit_per_host=settings.per_host_concurrency,
                ttl_dns_cache=300,
            )
        )
        # Untrusted links: the resolver and every socket opened are checked too.
        self._guarded_session = self._new_session(
            guarded_connector(
                settings.allowed_private_hosts,
                limit=settings.concurrency,
                limit_per_host=settings.per_host_concurrency,
            )
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for session in (self._session, self._guarded_session):
            if session is not None:
                await session.close()
        self._session = self._guarded_session = None

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        settings = self.settings
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
        if (too_long := url_too_long(url)) is not None:
            raise FetchError(FailureKind.INVALID_URL, f"the address {too_long}")
        if url[:7].lower() == "file://":
            if not trusted:
                raise FetchError(FailureKind.BLOCKED, "file:// links from feeds are never fetched")
            return await asyncio.to_thread(self._read_file, url, time.monotonic())
        # Parsed once, here, and that very URL is what aiohttp requests.
        first = self.gate.check(url) if not trusted else self.gate.parse(url)
        async with self._slot(url), self._global_slots:
            started = time.monotonic()
            try:
                # Covers connecting, every redirect hop and reading the whole body,
                # so a server that drips one byte a second is cut off too.
                async with asyncio.timeout(self.settings.total_timeout_seconds):
                    return await self._follow(
                        url, first, validators or Validators(), trusted, accept, started
                    )
            except Exception as error:
                raise classify_client_error(error) from error

    async def _follow(
        self,
        url: str,
        first: GatedUrl,
        validators: Validators,
        trusted: bool,
        accept: str,
        started: float,
    ) -> FetchResult:
        session = self._session if trusted else self._guarded_session
        assert session is not None, "use HttpFetcher in 'async with'"
        current, seen = first, {str(first.url)}
        for _hop in range(self.settings.max_redirects + 1):
            headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate", **validators.headers()}
            # The guarded connector's socket factory reads the gate's decision from here.
            decision = CONNECTING.set(current)
            try:
                async with session.get(
                    current.url, headers=headers, allow_redirects=False
                ) as response:
                    if response.status in REDIRECT_STATUSES and "Location" in response.headers:
                        location = response.headers["Location"]
                        target = (
                            self.gate.parse(location, base=current.url)
                            if trusted
                            else self.gate.check(location, base=current.url)
                        )
                        if str(target.url) in seen:
                            raise FetchError(
                                FailureKind.REDIRECTS, f"redirect loop at {target.url}"
                            )
                        seen.add(str(target.url))
                        current = target
                        continue
                    final_url = url if current is first else str(current.url)
                    return await self._finish(url, final_url, response, started)
            finally:
                CONNECTING.reset(decision)
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
