"""Feeds that misbehave: every failure is reported with its kind, none blocks another,
none grows memory without bound.

All requests go to :class:`MisbehavingServer` on 127.0.0.1, which breaks HTTP
on purpose (slow drip, endless body, gzip bomb, lying Content-Length, ...).
Limits are small so the whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.feeds import parser
from bot.feeds.article import fetch_article_html
from bot.feeds.errors import PARSE_FAILURES, ParseError
from bot.feeds.http import FailureKind, FetchError, HttpFetcher
from bot.feeds.parser import finish_entry, parse_feed
from bot.feeds.poller import FeedTask, poll_feeds, poll_one
from bot.feeds.records import FeedOutcome, Validators
from bot.feeds.settings import FetchSettings
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import RETRY_AFTER_SECONDS, MisbehavingServer, entity_bomb
from tests.harness import eventually_async
from tests.helpers import closed_port

SETTINGS = FetchSettings(
    connect_timeout_seconds=1,
    read_timeout_seconds=1,
    total_timeout_seconds=2,
    max_body_bytes=1_000_000,
    max_redirects=3,
    concurrency=16,
    per_host_concurrency=4,
)
# Far below what any unbounded read would take: the gzip bomb inflates to 1.3 GB,
# the entity bomb to 100 MB, the endless body to whatever the timeout allows.
MEMORY_BOUND_BYTES = 64 * 1024 * 1024


@pytest.fixture
def other_server() -> Iterator[MisbehavingServer]:
    """A second origin (another port): well-behaved feeds live here."""
    running = MisbehavingServer().start()
    try:
        yield running
    finally:
        running.stop()


async def fetch_outcome(url: str, settings: FetchSettings = SETTINGS) -> FeedOutcome:
    async with HttpFetcher(settings) as fetcher:
        return await poll_one(fetcher, FeedTask(url, url))


FAILURES = [
    ("/slow-drip", FailureKind.TIMEOUT, "did not answer in time"),
    ("/silent", FailureKind.TIMEOUT, "did not answer in time"),
    ("/endless", FailureKind.TOO_LARGE, "exceeds the 1000000-byte cap"),
    ("/gzip-bomb", FailureKind.TOO_LARGE, "exceeds the 1000000-byte cap"),
    ("/huge-declared", FailureKind.TOO_LARGE, "10000000000 bytes exceeds"),
    ("/entity-bomb", FailureKind.MALFORMED, "entity-expansion bomb refused"),
    ("/inline-entity-bomb", FailureKind.MALFORMED, "expand to 8,000,000 bytes"),
    ("/billion-laughs", FailureKind.MALFORMED, "entity-expansion bomb refused"),
    ("/redirect-loop", FailureKind.REDIRECTS, "redirect loop"),
    ("/redirect/10", FailureKind.REDIRECTS, "more than 3 redirects"),
    ("/status/500", FailureKind.HTTP_STATUS, "HTTP 500"),
    ("/status/404", FailureKind.HTTP_STATUS, "HTTP 404"),
    ("/status/429", FailureKind.HTTP_STATUS, "HTTP 429"),
    ("/status/503", FailureKind.HTTP_STATUS, "HTTP 503"),
    ("/html", FailureKind.NOT_A_FEED, "HTML page"),
    ("/empty", FailureKind.NOT_A_FEED, "empty"),
    ("/local-path", FailureKind.MALFORMED, "no feed found"),
    ("/deep-json", FailureKind.MALFORMED, "nested too deeply"),
]


@pytest.mark.parametrize(("path", "kind", "message"), FAILURES, ids=[f[0] for f in FAILURES])
async def test_each_failure_is_reported_with_its_kind(
    misbehaving_server: MisbehavingServer, path: str, kind: FailureKind, message: str
) -> None:
    outcome = await fetch_outcome(misbehaving_server.url(path))
    assert outcome.error is not None, f"{path} was accepted"
    assert outcome.error.kind is kind, str(outcome.error)
    assert message in str(outcome.error)
    assert outcome.status == str(kind)
    assert len(str(outcome.error)) < 400  # readable in `feeds list`, whatever the server sent


@pytest.mark.parametrize(("path", "kind", "message"), FAILURES, ids=[f[0] for f in FAILURES])
async def test_a_document_that_is_no_feed_is_a_parse_error_and_nothing_else_is(
    misbehaving_server: MisbehavingServer, path: str, kind: FailureKind, message: str
) -> None:
    outcome = await fetch_outcome(misbehaving_server.url(path))
    assert isinstance(outcome.error, ParseError) is (kind in PARSE_FAILURES)


async def test_a_parser_crash_is_that_feeds_parse_error(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(body: bytes, headers: object, **options: object) -> None:
        raise KeyError("entries")

    monkeypatch.setattr(parser, "parse_feed", crash)
    outcome = await fetch_outcome(feed_server.serve("/feed.xml", "<rss/>"))
    assert isinstance(outcome.error, ParseError)
    assert outcome.status == "malformed"
    assert str(outcome.error) == (
        "malformed: the parser failed on this document: KeyError: 'entries'"
    )


def test_parse_kinds_and_fetch_kinds_each_have_their_own_error() -> None:
    assert str(ParseError(FailureKind.NOT_A_FEED, "empty")) == "not-a-feed: empty"
    with pytest.raises(ValueError, match="raised as ParseError"):
        FetchError(FailureKind.MALFORMED, "no feed found")
    with pytest.raises(ValueError, match="raised as FetchError"):
        ParseError(FailureKind.TIMEOUT, "slow")


async def test_an_article_link_to_a_pdf_is_not_html_rather_than_not_a_feed(
    feed_server: FeedServer,
) -> None:
    url = feed_server.serve("/paper.pdf", b"%PDF-1.7", "application/pdf")
    async with HttpFetcher(SETTINGS) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetch_article_html(fetcher, url, trusted=True)
    assert refused.value.kind is FailureKind.NOT_HTML
    assert not isinstance(refused.value, ParseError)
    assert str(refused.value) == "not-html: article is application/pdf, not HTML"


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_read_for_429_and_503(
    misbehaving_server: MisbehavingServer, status: int
) -> None:
    outcome = await fetch_outcome(misbehaving_server.url(f"/status/{status}"))
    assert outcome.error is not None and outcome.error.status == status
    assert outcome.error.retry_after == RETRY_AFTER_SECONDS


async def test_a_500_carries_no_retry_after(misbehaving_server: MisbehavingServer) -> None:
    outcome = await fetch_outcome(misbehaving_server.url("/status/500"))
    assert outcome.error is not None and outcome.error.retry_after is None


async def test_a_lying_content_length_is_not_read_past(
    misbehaving_server: MisbehavingServer,
) -> None:
    """The server declares 100 bytes and sends 10 MB: the body stops at 100 bytes."""
    tracemalloc.start()
    try:
        outcome = await fetch_outcome(misbehaving_server.url("/lying-length"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.error is not None  # 100 bytes of "<item>..." is no feed, or a broken stream
    assert outcome.error.kind in (FailureKind.MALFORMED, FailureKind.CONNECTION)
    assert peak < MEMORY_BOUND_BYTES


async def test_dns_failure_is_its_own_kind() -> None:
    outcome = await fetch_outcome("http://no-such-host.invalid/feed.xml")
    assert outcome.error is not None and outcome.error.kind is FailureKind.DNS


async def test_refused_connection_is_its_own_kind() -> None:
    port = closed_port()
    outcome = await fetch_outcome(f"http://127.0.0.1:{port}/feed.xml")
    assert outcome.error is not None and outcome.error.kind is FailureKind.CONNECTION


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose certificate no CA signed (made with the openssl CLI)."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"openssl is needed to make a test certificate: {error}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


async def test_untrusted_certificate_is_a_tls_failure(self_signed_https: str) -> None:
    outcome = await fetch_outcome(self_signed_https)
    assert outcome.error is not None and outcome.error.kind is FailureKind.TLS
    assert "certificate" in str(outcome.error).lower()


async def test_recoverable_documents_keep_their_entries(
    misbehaving_server: MisbehavingServer,
) -> None:
    """A wrong charset still yields its items (the billion laughs is refused: see FAILURES)."""
    charset = await fetch_outcome(misbehaving_server.url("/wrong-charset"))
    assert charset.parsed is not None
    assert [entry.title for entry in charset.parsed.entries] == ["“Llama” café story"]
    # The poll leaves texts to clean until it knows an entry is new (finish_entry).
    assert charset.parsed.entries[0].summary == ""
    assert finish_entry(charset.parsed.entries[0]).summary == "Crème brûlée."

    redirected = await fetch_outcome(misbehaving_server.url("/redirect/2"))
    assert redirected.ok and redirected.parsed is not None
    assert redirected.parsed.entries[0].title == "redirected story 0"


def test_a_bozo_feed_keeps_its_good_entries() -> None:
    broken = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>'
        b"<item><title>First & only ampersand</title><link>https://a.example/1</link></item>"
        b"<item><title>Second</title><link>https://a.example/2</link></item>"
        b"<item><title>Third <b>unclosed</title><link>https://a.example/3</link></item>"
    )  # no closing tags at all
    parsed = parse_feed(broken)
    assert parsed.warning is not None
    assert [entry.link for entry in parsed.entries] == [
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/3",
    ]


def test_entity_bomb_is_refused_before_expansion_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as refused:
            parse_feed(entity_bomb(), max_expanded_bytes=5_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.kind is FailureKind.MALFORMED
    assert "100,000,000 bytes" in str(refused.value)
    assert peak < 10 * 1024 * 1024  # the document is 56 kB; expanded it would be 100 MB


def entity_document(prolog: str, references: str = "&a;" * 400) -> bytes:
    return (
        f'<?xml version="1.0"?>{prolog}<rss version="2.0"><channel><title>t</title>'
        f"<item><title>{references}</title><link>https://a.example/1</link></item>"
        "</channel></rss>"
    ).encode()


X = "x" * 20_000
# &a; x 400 would expand to 8-16 MB in each. Whether feedparser (with expat behind it) really
# expands one depends on details: where its DOCTYPE rewriting looks (the start of a line),
# and expat's 8 MiB amplification threshold. Measured with feedparser 6.0.14: "on the DOCTYPE
# line", "single-quoted", "declared by a parameter entity" and "on its own line" give an
# 8-million-character title. The pre-check must not depend on those details: all are refused.
ESCAPING_DECLARATIONS = {
    "on the DOCTYPE line": f'<!DOCTYPE rss [<!ENTITY a "{X}">]>',
    "on the DOCTYPE line, indented": f'\n  <!DOCTYPE rss [ <!ENTITY a "{X}"> ]>',
    "after another declaration": f'\n<!DOCTYPE rss [\n<!ENTITY b "y"><!ENTITY a "{X}">\n]>',
    "after a comment": f'\n<!DOCTYPE rss [\n<!-- c --><!ENTITY a "{X}">\n]>',
    "single-quoted": f"<!DOCTYPE rss [<!ENTITY a '{X}'>]>",
    "declared by a parameter entity": (
        f"<!DOCTYPE rss [<!ENTITY % p \"&#60;!ENTITY a '{X}'&#62;\"> %p;]>"
    ),
    "referring to another": f'<!DOCTYPE rss [<!ENTITY b "{X}"><!ENTITY a "&b;&b;">]>',
    "referring through a character reference": (
        f'<!DOCTYPE rss [<!ENTITY b "{X}"><!ENTITY a "&#38;b;&#38;b;">]>'
    ),
    "on its own line": f'\n<!DOCTYPE rss [\n<!ENTITY a "{X}">\n]>\n',
}


@pytest.mark.parametrize("where", list(ESCAPING_DECLARATIONS))
def test_entity_declarations_anywhere_in_the_doctype_are_counted(where: str) -> None:
    """41 kB documents whose entities would expand to 4-8 MB; the cap here is 1 MB."""
    document = entity_document(ESCAPING_DECLARATIONS[where])
    assert len(document) < 45_000
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as refused:
            parse_feed(document, max_expanded_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.kind is FailureKind.MALFORMED
    assert "entity-expansion bomb refused" in str(refused.value)
    assert peak < 4 * 1024 * 1024  # refused before anything expanded it


def test_entity_declarations_that_refer_to_themselves_are_refused() -> None:
    document = entity_document('<!DOCTYPE rss [<!ENTITY a "&b;"><!ENTITY b "x&a;">]>')
    with pytest.raises(FetchError, match="refers to itself"):
        parse_feed(document)


def test_an_entity_declared_on_the_doctype_line_within_the_cap_is_expanded_normally() -> None:
    document = entity_document(
        '<!DOCTYPE rss [<!ENTITY org "Meta">]>', references="&org; releases Llama"
    )
    assert parse_feed(document).entries[0].title == "Meta releases Llama"


def test_entity_declarations_within_the_cap_are_expanded_normally() -> None:
    document = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY org "Meta">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>&org; releases Llama</title>'
        b"<link>https://a.example/1</link></item></channel></rss>"
    )
    assert parse_feed(document).entries[0].title == "Meta releases Llama"


async def test_every_misbehaviour_at_once_blocks_no_good_feed_and_memory_stays_bounded(
    misbehaving_server: MisbehavingServer, other_server: MisbehavingServer
) -> None:
    bad = [path for path, _kind, _message in FAILURES] + ["/lying-length", "/wrong-charset"]
    good = [f"/feed/good{index}" for index in range(6)]
    tasks = [FeedTask(path, misbehaving_server.url(path)) for path in bad]
    tasks += [FeedTask(path, other_server.url(path)) for path in good]
    finished: list[str] = []

    tracemalloc.start()
    try:
        async with HttpFetcher(SETTINGS) as fetcher:
            outcomes = await poll_feeds(fetcher, tasks, lambda o: finished.append(o.name))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    by_name = {outcome.name: outcome for outcome in outcomes}
    assert [o.name for o in outcomes] == [t.name for t in tasks]  # one outcome each, in order
    for path, kind, _message in FAILURES:
        assert by_name[path].error is not None and by_name[path].error.kind is kind, path
    assert all(by_name[path].ok and by_name[path].parsed for path in good)
    # The good feeds were done before any slow one gave up: nothing waited on them.
    slow = {"/slow-drip", "/silent"}
    first_slow = min(finished.index(path) for path in slow)
    assert max(finished.index(path) for path in good) < first_slow
    assert peak < MEMORY_BOUND_BYTES, f"peak {peak / 1e6:.0f} MB"


async def test_requests_per_origin_are_limited(misbehaving_server: MisbehavingServer) -> None:
    settings = SETTINGS.model_copy(update={"per_host_concurrency": 2, "concurrency": 16})
    tasks = [
        FeedTask(f"h{index}", misbehaving_server.url(f"/hold/200/{index}")) for index in range(8)
    ]
    async with HttpFetcher(settings) as fetcher:
        outcomes = await poll_feeds(fetcher, tasks)
    assert all(outcome.ok for outcome in outcomes)
    assert misbehaving_server.peak_in_flight == 2


async def test_waiting_for_a_slot_does_not_count_against_the_timeout(
    misbehaving_server: MisbehavingServer,
) -> None:
    """Four 0.6 s requests through one slot take 2.4 s: longer than the 1.5 s timeout."""
    settings = SETTINGS.model_copy(
        update={"per_host_concurrency": 1, "concurrency": 1, "total_timeout_seconds": 1.5}
    )
    tasks = [
        FeedTask(f"q{index}", misbehaving_server.url(f"/hold/600/{index}")) for index in range(4)
    ]
    async with HttpFetcher(settings) as fetcher:
        outcomes = await poll_feeds(fetcher, tasks)
    assert [outcome.status for outcome in outcomes] == ["ok"] * 4
    assert misbehaving_server.peak_in_flight == 1


async def test_conditional_get_sends_validators_and_keeps_them_on_304(
    misbehaving_server: MisbehavingServer,
) -> None:
    url = misbehaving_server.url("/feed/conditional")
    async with HttpFetcher(SETTINGS) as fetcher:
        first = await poll_one(fetcher, FeedTask("c", url))
        assert first.ok and first.validators.etag
        second = await poll_one(fetcher, FeedTask("c", url, first.validators))
    assert second.not_modified and second.parsed is None
    assert second.validators == first.validators
    assert misbehaving_server.requests[-1].headers["if-none-match"] == first.validators.etag
    assert misbehaving_server.requests[-1].headers["user-agent"].startswith("meta-ai-digest/")


async def test_publisher_floors_are_reported(misbehaving_server: MisbehavingServer) -> None:
    ttl = await fetch_outcome(misbehaving_server.url("/ttl/90"))
    max_age = await fetch_outcome(misbehaving_server.url("/max-age/7200"))
    assert ttl.min_interval == 90 * 60
    assert max_age.min_interval == 7200


async def test_fetch_error_validators_do_not_leak_into_results(
    misbehaving_server: MisbehavingServer,
) -> None:
    """A failed fetch keeps the old validators: the next try is still conditional."""
    old = Validators(etag='"abc"', last_modified="Sat, 05 Apr 2025 12:00:00 GMT")
    async with HttpFetcher(SETTINGS) as fetcher:
        outcome = await poll_one(fetcher, FeedTask("s", misbehaving_server.url("/status/500"), old))
    assert outcome.validators == old


def test_cancelling_a_cycle_leaves_no_task_behind(misbehaving_server: MisbehavingServer) -> None:
    async def cycle() -> None:
        async with HttpFetcher(SETTINGS) as fetcher:
            run = asyncio.ensure_future(
                poll_feeds(fetcher, [FeedTask("s", misbehaving_server.url("/slow-drip"))])
            )
            # Mid-fetch: the server has the request and is dripping its body.
            await eventually_async(lambda: misbehaving_server.hits["/slow-drip"] >= 1)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(cycle())
