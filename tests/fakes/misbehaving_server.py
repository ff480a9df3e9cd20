"""A web server on 127.0.0.1 that misbehaves the way real feed hosts do.

It speaks HTTP/1.1 over raw asyncio streams (not a web framework) so it can
break the protocol on purpose: drip a body one byte at a time, never end it,
lie in Content-Length, send a gzip bomb, answer nothing at all. It runs in its
own thread with its own event loop, so both async tests and synchronous CLI
tests can use it, and records every request and the peak number of requests
in flight per path prefix (to check per-host politeness).

Routes (GET; ``HEAD`` is not needed by the bot):

====================  =========================================================
``/feed/<name>``      a small valid RSS feed whose items are named after <name>;
                      ETag / If-None-Match gives 304
``/ttl/<minutes>``    a valid feed carrying ``<ttl>``
``/max-age/<s>``      a valid feed with ``Cache-Control: max-age=<s>``
``/slow-drip``        a valid status and headers, then one byte every 0.2 s, forever
``/silent``           accepts the request and never answers
``/endless``          a 200 whose chunked body never ends (valid-looking XML)
``/lying-length``     ``Content-Length: 100`` followed by megabytes of body
``/huge-declared``    ``Content-Length: 10000000000``, small body
``/gzip-bomb``        ``Content-Encoding: gzip``: 1.3 MB that inflate to 1.3 GB
``/entity-bomb``      RSS whose one entity, used 2,000 times, expands to 100 MB
``/billion-laughs``   the classic nested entity bomb
``/inline-entity-bomb`` 41 kB whose entity, declared on the DOCTYPE's line, expands to 8 MB
``/redirect-loop``    /redirect-loop -> /redirect-loop-2 -> /redirect-loop
``/redirect/<n>``     a chain of n redirects ending at a valid feed
``/goto/<where>``     a redirect to ``localhost`` (this server by name), ``file``
                      (file:///etc/passwd) or ``metadata`` (169.254.169.254)
``/location/<url>``   a redirect to the percent-decoded <url>, sent as UTF-8 bytes
                      (``{port}`` in it becomes this server's port)
``/reason/<text>``    503 whose reason phrase is the percent-decoded <text>, as sent
``/status/<code>``    that status; 429 and 503 carry ``Retry-After: 120``
``/retry-after/<s>``  503 with ``Retry-After: <s>``
``/html``             an HTML page, not a feed
``/empty``            200 with an empty body
``/wrong-charset``    says utf-8, is windows-1252 (bozo, entries still good)
``/local-path``       a body that is just the text ``/dev/zero``
``/deep-json``        JSON nested 100,000 levels deep
``/hold/<ms>/<id>``   a valid feed after waiting <ms> milliseconds
``/news/<name>``      a realistic news feed (10 items of 130 words, some about Meta
                      AI); one feed in ten gains an item whenever ``cycle`` grows
====================  =========================================================
"""

from __future__ import annotations

import asyncio
import random
import struct
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from urllib.parse import unquote

RETRY_AFTER_SECONDS = 120
BOMB_INFLATED_BYTES = 1300 * 1024 * 1024
ENTITY_REFERENCES = 2000
ENTITY_VALUE_BYTES = 50_000


def rss(name: str, items: int = 3, ttl: int | None = None, now: datetime | None = None) -> bytes:
    """A valid RSS 2.0 document with ``items`` fresh items named after ``name``."""
    moment = now or datetime.now(UTC)
    entries = "".join(
        f"<item><title>{name} story {index}</title>"
        f"<link>https://news.example/{name}/{index}</link>"
        f"<guid>{name}-{index}</guid>"
        f"<pubDate>{format_datetime(moment - timedelta(minutes=index), usegmt=True)}</pubDate>"
        f"<description>Text of {name} story {index}.</description></item>"
        for index in range(items)
    )
    ttl_element = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://news.example/{name}</link>{ttl_element}"
        f"{entries}</channel></rss>"
    ).encode()


@cache
def gzip_bomb() -> bytes:
    """1.3 GB of spaces after an RSS prefix, as a 1.3 MB gzip stream (built once, in ~1 s).

    Compressing 1.3 GB would take seconds; instead one 1 MiB block is deflated
    after a full flush (which resets the compressor, so every such block
    compresses to the same bytes) and repeated, then the gzip trailer (CRC-32
    and length of the whole inflated text) is computed, making a valid stream.
    """
    prefix = b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
    block = b" " * (1024 * 1024)
    blocks = BOMB_INFLATED_BYTES // len(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate inside our own header
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    size = (len(prefix) + blocks * len(block)) & 0xFFFFFFFF
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return gzip_header + head + repeated * blocks + tail + struct.pack("<II", crc, size)


def entity_bomb() -> bytes:
    """The "quadratic blowup": no nesting (feedparser keeps it), 56 kB in, 100 MB out."""
    value = b"x" * ENTITY_VALUE_BYTES
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + value + b'">\n]>\n'
        b'<rss version="2.0"><channel><title>bomb</title><item><title>'
        + b"&a;" * ENTITY_REFERENCES
        + b"</title><link>https://news.example/bomb</link></item></channel></rss>"
    )


def inline_entity_bomb() -> bytes:
    """The DOCTYPE on the XML declaration's line, the entity inside it: feedparser's DOCTYPE
    rewriting (which wants both at the start of a line) misses it, and expat expands it
    up to its 8 MiB amplification threshold: 41 kB in, an 8-million-character title out."""
    value = b"x" * 20_000
    return (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + value + b'">]>'
        b'<rss version="2.0"><channel><title>inline</title><item><title>'
        + b"&a;" * 400
        + b"</title><link>https://news.example/inline</link></item></channel></rss>"
    )


def billion_laughs() -> bytes:
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (level, (b"&lol%d;" % (level - 1)) * 10) for level in range(1, 10)
    ]
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        + b"\n".join(entities)
        + b'\n]>\n<rss version="2.0"><channel><title>laughs</title><item><title>&lol9;</title>'
        b"<link>https://news.example/laughs</link></item></channel></rss>"
    )


SYLLABLES = ["ka", "lo", "mi", "ren", "tos", "vi", "dar", "ul", "bes", "qua", "ny", "phe"]


def made_up_word(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(SYLLABLES) for _ in range(4))


# 3,000 made-up words: random news in the soak shares few words, like real news.
VOCABULARY = sorted({made_up_word(seed) for seed in range(3200)})[:3000]
TOPICAL = ["Meta AI", "Llama 4", "Meta's FAIR lab", "Meta Superintelligence Labs"]


def news_item(name: str, index: int, now: datetime) -> str:
    """One item; about one in twelve is about Meta AI, the rest are other news."""
    rng = random.Random(f"{name}/{index}")
    words = [rng.choice(VOCABULARY) for _ in range(6)]
    topical = rng.random() < 0.08
    title = (f"{rng.choice(TOPICAL)} " if topical else "") + " ".join(words).capitalize()
    sentences = [
        " ".join(rng.choice(VOCABULARY) for _ in range(12)).capitalize() + "." for _ in range(11)
    ]
    if topical:
        sentences.insert(0, f"{title} was announced by Meta today for developers.")
    published = format_datetime(now - timedelta(minutes=20 * index), usegmt=True)
    return (
        f"<item><title>{title} {name} {index}</title>"
        f"<link>https://{name}.news.example/{index}</link><guid>{name}-{index}</guid>"
        f"<pubDate>{published}</pubDate><description>{' '.join(sentences)}</description></item>"
    )


def news_feed(name: str, cycle: int, now: datetime) -> bytes:
    """The newest 10 items; feeds whose name hashes to 0 mod 10 gain one per cycle."""
    grows = zlib.crc32(name.encode()) % 10 == 0
    newest = 10 + (cycle if grows else 0)
    items = "".join(news_item(name, index, now) for index in range(newest - 1, newest - 11, -1))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://{name}.news.example/</link>{items}</channel></rss>"
    ).encode()


def wrong_charset() -> bytes:
    """windows-1252 bytes (é, curly quotes) in a document that claims utf-8."""
    text = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\u00e9</title>'
        "<item><title>\u201cLlama\u201d caf\u00e9 story</title><link>https://news.example/cafe</link>"
        "<guid>cafe-1</guid><description>Cr\u00e8me br\u00fbl\u00e9e.</description></item>"
        "</channel></rss>"
    )
    return text.encode("windows-1252")


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class MisbehavingServer:
    """Start with ``start()``, stop with ``stop()`` (or use the pytest fixture in tests)."""

    requests: list[Request] = field(default_factory=list)
    port: int = 0
    # Peak requests in flight per "/hold/..." route, for per-host concurrency checks.
    peak_in_flight: int = 0
    # /news feeds: one in ten gains an item each time this grows.
    cycle: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._in_flight = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._extra: list[asyncio.Server] = []
        self._news_cache: dict[tuple[str, int], bytes] = {}
        self._news_now = datetime.now(UTC)
        self.hits: Counter[str] = Counter()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> MisbehavingServer:
        gzip_bomb()  # built before serving, so building it never delays a request
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def listen_more(self, count: int) -> list[int]:
        """Serve the same routes on ``count`` more ports (more origins, for per-host limits)."""

        async def listen() -> list[int]:
            ports = []
            for _ in range(count):
                server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
                self._extra.append(server)
                ports.append(server.sockets[0].getsockname()[1])
            return ports

        return asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        for server in [self._server, *self._extra]:
            if server is not None:
                server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- HTTP ------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, path, _version = lines[0].split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                self.requests.append(Request(path, headers))
                self.hits[path] += 1
                keep_open = await self._route(path, headers, writer)
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _route(
        self, path: str, headers: dict[str, str], writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False closes the connection afterwards."""
        parts = path.strip("/").split("/")
        route = parts[0]
        if route == "feed":
            body = rss(parts[1])
            etag = f'"{zlib.crc32(body):x}"'
            if headers.get("if-none-match") == etag:
                return await self._send(writer, 304, b"", {"ETag": etag})
            return await self._send(writer, 200, body, {"ETag": etag})
        if route == "news":
            key = (parts[1], self.cycle)
            if key not in self._news_cache:
                self._news_cache[key] = news_feed(parts[1], self.cycle, self._news_now)
            body = self._news_cache[key]
            etag = f'"{zlib.crc32(body):x}"'
            if headers.get("if-none-match") == etag:
                return await self._send(writer, 304, b"", {"ETag": etag})
            return await self._send(writer, 200, body, {"ETag": etag})
        if route == "ttl":
            return await self._send(writer, 200, rss("ttl", ttl=int(parts[1])))
        if route == "max-age":
            return await self._send(
                writer, 200, rss("maxage"), {"Cache-Control": f"public, max-age={parts[1]}"}
            )
        if route == "hold":
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            try:
                await asyncio.sleep(int(parts[1]) / 1000)
            finally:
                self._in_flight -= 1
            return await self._send(writer, 200, rss(f"hold{parts[2]}"))
        handler = SPECIAL.get(route)
        if handler is None:
            return await self._send(writer, 404, b"not found", content_type="text/plain")
        return await handler(self, parts, writer)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/rss+xml; charset=utf-8",
        reason: str | None = None,
    ) -> bool:
        lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Status')}"]
        all_headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        # UTF-8, as servers send non-ASCII Location headers; ASCII is the same in latin-1.
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
        await writer.drain()
        return True

    async def _start_stream(
        self, writer: asyncio.StreamWriter, extra: str = "", chunked: bool = False
    ) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + extra
        if chunked:
            head += "Transfer-Encoding: chunked\r\n"
        writer.write((head + "\r\n").encode("latin-1"))
        await writer.drain()

    # --- the misbehaviours -------------------------------------------------------

    async def _slow_drip(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        await self._start_stream(writer, chunked=True)
        for byte in iter(lambda: b"<", None):
            writer.write(b"1\r\n" + byte + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)
        return False

    async def _silent(self, _parts: list[str], _writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(3600)
        return False

    async def _endless(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        await self._start_stream(writer, chunked=True)
        chunk = b"<item><title>more</title></item>" * 2000
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        writer.write(b'1d\r\n<?xml version="1.0"?><rss><x>\r\n')
        while True:
            writer.write(framed)
            await writer.drain()

    async def _lying_length(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        await self._start_stream(writer, extra="Content-Length: 100\r\n")
        block = b"<item><title>extra</title></item>" * 1000
        for _ in range(300):  # ~10 MB past the declared 100 bytes
            writer.write(block)
            await writer.drain()
        return False

    async def _huge_declared(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        await self._start_stream(writer, extra="Content-Length: 10000000000\r\n")
        writer.write(rss("huge"))
        await writer.drain()
        await asyncio.sleep(5)
        return False

    async def _gzip_bomb(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        bomb = gzip_bomb()
        await self._send(writer, 200, bomb, {"Content-Encoding": "gzip"})
        return False

    async def _entity_bomb(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, entity_bomb())

    async def _billion_laughs(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, billion_laughs())

    async def _inline_entity_bomb(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, inline_entity_bomb())

    async def _redirect_loop(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        target = "/redirect-loop-2" if parts[0] == "redirect-loop" else "/redirect-loop"
        return await self._send(writer, 302, b"", {"Location": target})

    async def _redirect(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        remaining = int(parts[1])
        target = f"/redirect/{remaining - 1}" if remaining > 1 else "/feed/redirected"
        return await self._send(writer, 301, b"", {"Location": target})

    async def _goto(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        targets = {
            "localhost": f"http://localhost:{self.port}/feed/internal",
            "file": "file:///etc/passwd",
            "metadata": "http://169.254.169.254/latest/meta-data/",
        }
        return await self._send(writer, 302, b"", {"Location": targets[parts[1]]})

    async def _location(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        target = unquote(parts[1]).replace("{port}", str(self.port))
        return await self._send(writer, 302, b"", {"Location": target})

    async def _reason(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(
            writer, 503, b"busy", content_type="text/plain", reason=unquote(parts[1])
        )

    async def _status(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        code = int(parts[1])
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code in (429, 503) else {}
        return await self._send(writer, code, b"error", headers, content_type="text/plain")

    async def _retry_after(self, parts: list[str], writer: asyncio.StreamWriter) -> bool:
        headers = {"Retry-After": parts[1]}
        return await self._send(writer, 503, b"busy", headers, content_type="text/plain")

    async def _html(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, HTML_PAGE, content_type="text/html; charset=utf-8")

    async def _empty(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, b"")

    async def _wrong_charset(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, wrong_charset())

    async def _local_path(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        return await self._send(writer, 200, b"/dev/zero", content_type="text/plain")

    async def _deep_json(self, _parts: list[str], writer: asyncio.StreamWriter) -> bool:
        body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000
        return await self._send(writer, 200, body, content_type="application/feed+json")


SPECIAL = {
    "slow-drip": MisbehavingServer._slow_drip,
    "silent": MisbehavingServer._silent,
    "endless": MisbehavingServer._endless,
    "lying-length": MisbehavingServer._lying_length,
    "huge-declared": MisbehavingServer._huge_declared,
    "gzip-bomb": MisbehavingServer._gzip_bomb,
    "entity-bomb": MisbehavingServer._entity_bomb,
    "billion-laughs": MisbehavingServer._billion_laughs,
    "inline-entity-bomb": MisbehavingServer._inline_entity_bomb,
    "redirect-loop": MisbehavingServer._redirect_loop,
    "redirect-loop-2": MisbehavingServer._redirect_loop,
    "redirect": MisbehavingServer._redirect,
    "goto": MisbehavingServer._goto,
    "location": MisbehavingServer._location,
    "reason": MisbehavingServer._reason,
    "status": MisbehavingServer._status,
    "retry-after": MisbehavingServer._retry_after,
    "html": MisbehavingServer._html,
    "empty": MisbehavingServer._empty,
    "wrong-charset": MisbehavingServer._wrong_charset,
    "local-path": MisbehavingServer._local_path,
    "deep-json": MisbehavingServer._deep_json,
}
REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
