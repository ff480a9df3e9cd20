"""A real HTTP server on 127.0.0.1 that serves feed documents like a polite web server.

It answers conditional GETs (ETag / Last-Modified → 304), records every
request, and runs in its own thread so synchronous CLI code can poll it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LoopThread, start_app

LAST_MODIFIED = "Sat, 05 Apr 2025 12:00:00 GMT"


@dataclass
class Document:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    # Response headers to send instead of (or besides) the usual ones.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class FeedServer:
    documents: dict[str, Document] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    # False: ignore If-None-Match / If-Modified-Since and send the body again, as many
    # real servers do.
    conditional: bool = True

    def __post_init__(self) -> None:
        self._thread: LoopThread | None = None
        self._server: TestServer | None = None

    def serve(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.documents[path] = Document(data, content_type, dict(headers or {}))
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def statuses(self, path: str) -> list[int]:
        return [request.status for request in self.requests if request.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = Request(request.path_qs, dict(request.headers))
        self.requests.append(record)
        document = self.documents.get(request.path_qs) or self.documents.get(request.path)
        if document is None:
            record.status = 404
            return web.Response(status=404, text="not found")
        if self.conditional and (
            request.headers.get("If-None-Match") == document.etag
            or (
                request.headers.get("If-Modified-Since") == LAST_MODIFIED
                and "If-None-Match" not in request.headers
            )
        ):
            record.status = 304
            return web.Response(status=304, headers={"ETag": document.etag})
        record.status = 200
        return web.Response(
            body=document.body,
            headers={
                "Content-Type": document.content_type,
                "ETag": document.etag,
                "Last-Modified": LAST_MODIFIED,
                **document.headers,
            },
        )

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._server = await start_app(app)
        self.port = self._server.port or 0

    def start(self) -> FeedServer:
        self._thread = LoopThread()
        self._thread.run(self._start())
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._server is not None:
            self._thread.run(self._server.close())
        self._thread.close()
        self._thread = None


META_TITLES = (
    "Meta releases Llama 5 open-weight AI models",
    "Meta AI assistant reaches a billion users, Zuckerberg says",
    "Meta Superintelligence Labs hires a FAIR researcher",
)


def serve_meta_ai_feeds(server: FeedServer, count: int, items: int) -> list[tuple[str, str]]:
    """``count`` RSS feeds of ``items`` distinct Meta-AI items each (all kept by the topic
    rules), dated now; returns (name, url) pairs for a config."""
    when = format_datetime(datetime.now(UTC), usegmt=True)
    feeds = []
    for number in range(count):
        entries = "".join(
            f"<item><guid isPermaLink='false'>{number}-{k}</guid>"
            f"<title>{META_TITLES[k % 3]} ({number}-{k})</title>"
            f"<link>https://n.example/{number}/{k}</link>"
            f"<description>{META_TITLES[k % 3]}. Meta's AI work, item {number}-{k}.</description>"
            f"<pubDate>{when}</pubDate></item>"
            for k in range(items)
        )
        document = (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
            f"{entries}</channel></rss>"
        )
        feeds.append((f"feed {number}", server.serve(f"/{number}.xml", document)))
    return feeds


# One scoop as outlets headline it (near-identical titles: one story by title alone).
HEADLINES = [
    "Meta releases Llama 5 open-weight AI models",
    "Meta releases Llama 5 open-weight AI models today",
    "Meta releases its Llama 5 open-weight AI models",
    "Meta releases new Llama 5 open-weight AI models",
    "Meta officially releases Llama 5 open-weight AI models",
    "Meta releases Llama 5 open-weight AI models for developers",
]
LEAD = (
    "Meta released Llama 5, a family of open-weight AI models, on Tuesday. The company said "
    "the models are available to developers under its community license."
)


def serve_scoop(
    server: FeedServer, path: str, title: str, minutes_ago: int, lead: str = LEAD
) -> str:
    """One outlet's feed of one article on the scoop of ``HEADLINES`` (or ``lead``)."""
    when = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago), usegmt=True)
    slug = "-".join(title.lower().split()[:6])
    document = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Outlet</title>"
        f"<item><guid isPermaLink='false'>{path}/{slug}</guid><title>{title}</title>"
        f"<link>https://news.example{path}/{slug}</link><description>{lead}</description>"
        f"<pubDate>{when}</pubDate></item></channel></rss>"
    )
    return server.serve(path, document)
