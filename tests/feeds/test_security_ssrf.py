"""Links found inside feeds never reach file://, private, loopback or link-local
addresses (server-side request forgery), however they are spelled, unless an
admin allows the host. Feeds an admin configured are trusted and may be local.

Every spelling is tried against a real local server on 127.0.0.1 that counts
requests: refused means it saw none."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import select
from yarl import URL

from bot.config import ConfigError, FetchSettings, load_settings
from bot.feeds.article import fetch_article_html
from bot.feeds.gate import (
    CONNECTING,
    BlockedAddressError,
    GatedUrl,
    GuardedResolver,
    UrlGate,
    guarded_connector,
    is_public_address,
    literal_ip,
    normalized_host,
)
from bot.feeds.http import FailureKind, FetchError, HttpFetcher
from bot.pipeline import DigestBot
from bot.store.schema import Item
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer
from tests.helpers import closed_port

SETTINGS = FetchSettings(total_timeout_seconds=3, connect_timeout_seconds=1)

BLOCKED = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "javascript:alert(1)",
    "ftp://example.com/x",
    "gopher://127.0.0.1:6379/_INFO",
    "http://localhost/",
    "http://LOCALHOST./admin",
    "http://api.localhost/",
    "http://127.0.0.1/",
    "http://127.8.9.10/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",  # hex and a short form
    "http://0177.0.0.1/",  # octal
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0:8080/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:169.254.169.254]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 to 127.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://224.0.0.1/",
    "http://user:pass@127.0.0.1/",
    # Unicode spellings that IDNA (as yarl, and so aiohttp, applies it) turns into an IP.
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # fullwidth digits
    "http://127\u30020\u30020\u30021/",  # ideographic full stops
    "http://127\uff0e0\uff0e0\uff0e1/",  # fullwidth full stops
    "http://127\uff610\uff610\uff611/",  # halfwidth ideographic full stops
    "http://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460/",  # circled digits
    "http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14/latest/meta-data/",
    "http://\uff11\uff10.0.0.1/",
    "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",  # fullwidth "localhost"
    "http://[::\uff46\uff46\uff46\uff46:127.0.0.1]/",
]
ALLOWED = [
    "https://example.com/article",
    "http://93.184.216.34/",
    "http://[2606:2800:220:1:248:1893:25c8:1946]/",
    "https://news.example.org:8443/a?b=c",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_feed_supplied_links_to_local_places_are_refused(url: str) -> None:
    with pytest.raises(FetchError) as refused:
        UrlGate([]).check(url)
    assert refused.value.kind is FailureKind.BLOCKED


@pytest.mark.parametrize("url", ALLOWED)
def test_public_links_pass_the_url_check(url: str) -> None:
    UrlGate([]).check(url)


def test_an_admin_can_allow_a_private_host_and_port() -> None:
    gate = UrlGate(["wiki.internal:8080", "10.1.2.3", "Intranet.Example.:8443", "[fd00::1]:81"])
    assert gate.check("http://wiki.internal:8080/page").private_allowed
    assert gate.check("http://10.1.2.3/page").private_allowed
    assert gate.check("https://10.1.2.3/page").private_allowed
    assert gate.check("https://intranet.example:8443/").private_allowed
    assert gate.check("http://[fd00::1]:81/").private_allowed
    # The same host in another spelling is the same host.
    assert gate.check("http://\uff11\uff10.1.2.3/page").private_allowed
    with pytest.raises(FetchError):
        gate.check("http://10.1.2.4/page")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3:5432/",  # a bare host allows the web's default ports only
        "http://10.1.2.3:8080/",
        "http://wiki.internal/page",  # allowed on 8080, not on 80
        "http://wiki.internal:8081/page",
        "https://intranet.example/",
        "http://[fd00::1]/",
    ],
)
def test_an_allowed_host_is_never_allowed_on_another_port(url: str) -> None:
    """An address is refused at once; a name passes the URL check as a public one would, and
    its private addresses are then refused by the resolver and the socket factory."""
    gate = UrlGate(["wiki.internal:8080", "10.1.2.3", "Intranet.Example.:8443", "[fd00::1]:81"])
    try:
        decision = gate.check(url)
    except FetchError as refused:
        assert refused.kind is FailureKind.BLOCKED
    else:
        assert not decision.private_allowed
        assert literal_ip(decision.host) is None


async def test_another_port_of_an_allowed_host_is_never_connected_to(
    misbehaving_server: MisbehavingServer,
) -> None:
    """Allowing one local service (a port nobody listens on) lets a link reach no other port
    of that host: the server on the loopback host receives nothing."""
    allowed = f"127.0.0.1:{closed_port()}"
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": [allowed]})
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(misbehaving_server.url("/html"), trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    assert misbehaving_server.requests == []


async def test_the_resolver_gives_an_allowed_name_private_addresses_on_its_port_only() -> None:
    resolver = GuardedResolver(allowed_hosts=["localhost:8080"])
    try:
        assert await resolver.resolve("localhost", 8080)
        with pytest.raises(OSError, match="non-public"):
            await resolver.resolve("localhost", 5432)
    finally:
        await resolver.close()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("wiki.internal:http", "not a number from 1 to 65535"),
        ("10.1.2.3:0", "not a number from 1 to 65535"),
        ("fd00::1", "put an IPv6 address in brackets"),
        ("http://wiki.internal/", "write host:port"),
        ("", "write host:port"),
    ],
)
def test_a_bad_allowed_private_host_is_one_line_naming_the_fix(
    tmp_path: Path, entry: str, message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[fetch]\nallowed_private_hosts = ["{entry}"]\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(config, env={})
    assert message in str(refused.value)
    assert "fetch.allowed_private_hosts" in str(refused.value)
    assert len(str(refused.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("spelled", "host"),
    [
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),
        ("127\u30020\u30020\u30021", "127.0.0.1"),
        ("\u2460\u2461\u2466.\u24ea.\u24ea.\u2460", "127.0.0.1"),
        ("B\u00fccher.Example.", "xn--bcher-kva.example"),
        ("[::FFFF:127.0.0.1]", "::ffff:7f00:1"),
    ],
)
def test_hosts_are_normalized_as_the_http_library_connects_to_them(spelled: str, host: str) -> None:
    assert normalized_host(spelled) == host
    assert UrlGate([]).parse(f"http://{spelled}/").host == host


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("127.0.0.1", False), ("::ffff:8.8.8.8", True), ("2002:808:808::", True)],
)
def test_embedded_addresses_are_judged_by_what_they_reach(address: str, public: bool) -> None:
    assert is_public_address(address) is public


LOCAL_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "127.1",
    "[::ffff:127.0.0.1]",
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # １２７.０.０.１
    "127\u30020\u30020\u30021",  # 127。0。0。1
    "127\uff0e0\uff0e0\uff0e1",  # 127．0．0．1
    "127\uff610\uff610\uff611",  # 127｡0｡0｡1
    "\u2460\u2461\u2466.\u24ea.\u24ea.\u2460",  # ①②⑦.⓪.⓪.①
]


@pytest.mark.parametrize("host", LOCAL_SPELLINGS)
async def test_untrusted_fetch_never_reaches_the_local_server(
    misbehaving_server: MisbehavingServer, host: str
) -> None:
    async with HttpFetcher(SETTINGS) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(
                f"http://{host}:{misbehaving_server.port}/feed/secret", trusted=False
            )
    assert refused.value.kind is FailureKind.BLOCKED
    assert misbehaving_server.requests == []


async def test_the_metadata_address_in_fullwidth_digits_is_refused() -> None:
    metadata = "\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14"
    async with HttpFetcher(SETTINGS) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(f"http://{metadata}/latest/meta-data/", trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    assert "169.254.169.254" in str(refused.value)


@pytest.mark.parametrize(
    "host", [*LOCAL_SPELLINGS[1:], "\uff11\uff16\uff19.\uff12\uff15\uff14.169.254"]
)
async def test_a_redirect_to_any_spelling_of_a_local_address_is_not_followed(
    misbehaving_server: MisbehavingServer, host: str
) -> None:
    """The first hop is on a host the admin allowed; the redirect's target is checked anew."""
    target = f"http://{host}:{{port}}/feed/secret"
    start = f"http://127.0.0.1:{misbehaving_server.port}/location/{quote(target, safe='')}"
    allowed = f"127.0.0.1:{misbehaving_server.port}"
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": [allowed]})
    if normalized_host(host) == "127.0.0.1":
        # Allowing 127.0.0.1 allows it in every spelling, so start from a name the
        # admin allowed instead and let the redirect name the address.
        start = start.replace("127.0.0.1", "localhost", 1)
        allowed = f"localhost:{misbehaving_server.port}"
        settings = SETTINGS.model_copy(update={"allowed_private_hosts": [allowed]})
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(start, trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    # One request: the redirect itself; the address it named was never reached.
    assert [request.path.split("/")[1] for request in misbehaving_server.requests] == ["location"]


async def test_the_connector_refuses_non_public_addresses_whatever_the_url_check_said(
    misbehaving_server: MisbehavingServer,
) -> None:
    """The last check is on the address a socket connects to: a request that skipped the
    URL gate (no decision in context) or one for a host not allowed never connects."""
    url = misbehaving_server.url("/feed/secret")
    async with aiohttp.ClientSession(connector=guarded_connector([])) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.get(url)
        assert isinstance(refused.value.os_error, BlockedAddressError)
        decision = CONNECTING.set(GatedUrl(URL(url), "127.0.0.1", private_allowed=False))
        try:
            with pytest.raises(aiohttp.ClientConnectorError):
                await session.get(url)
        finally:
            CONNECTING.reset(decision)
    assert misbehaving_server.requests == []
    # An allowed host's request connects (the decision the fetcher sets for it).
    allowed = [f"127.0.0.1:{misbehaving_server.port}"]
    async with aiohttp.ClientSession(connector=guarded_connector(allowed)) as session:
        decision = CONNECTING.set(UrlGate(allowed).check(url))
        try:
            async with session.get(url) as response:
                assert response.status == 200
        finally:
            CONNECTING.reset(decision)
    assert [request.path for request in misbehaving_server.requests] == ["/feed/secret"]


async def test_a_name_that_resolves_to_a_private_address_is_refused_at_resolution() -> None:
    """The machine's own host name is no loopback *name*, but resolves to a private address."""
    host = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 80, socket.AF_INET)}
    except OSError:
        pytest.skip(f"{host} does not resolve here")
    if any(is_public_address(address) for address in addresses):
        pytest.skip(f"{host} resolves to a public address here")
    resolver = GuardedResolver(allowed_hosts=[])
    try:
        with pytest.raises(OSError, match="non-public"):
            await resolver.resolve(host, 80)
    finally:
        await resolver.close()
    async with HttpFetcher(SETTINGS) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(f"http://{host}:9/secret", trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    assert "non-public" in str(refused.value)


WORDS = ["amber", "basil", "cedar", "dahlia", "ember", "fennel", "ginger", "hazel"]


@pytest.mark.parametrize("where", ["localhost", "file", "metadata"])
async def test_a_redirect_from_an_allowed_host_cannot_lead_somewhere_private(
    misbehaving_server: MisbehavingServer, where: str
) -> None:
    allowed = f"127.0.0.1:{misbehaving_server.port}"
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": [allowed]})
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(misbehaving_server.url(f"/goto/{where}"), trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    assert [request.path for request in misbehaving_server.requests] == [f"/goto/{where}"]


async def test_an_allowed_host_is_fetched(misbehaving_server: MisbehavingServer) -> None:
    allowed = f"127.0.0.1:{misbehaving_server.port}"
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": [allowed]})
    async with HttpFetcher(settings) as fetcher:
        page = await fetch_article_html(fetcher, misbehaving_server.url("/html"))
    assert "<p>Hi</p>" in page


async def test_article_pages_named_by_a_feed_are_not_fetched_from_local_addresses(
    misbehaving_server: MisbehavingServer, feed_server: FeedServer, tmp_path: Path
) -> None:
    """End to end: a configured (trusted, local) feed whose items point at local places."""
    links = [
        misbehaving_server.url("/feed/secret-admin"),
        f"http://localhost:{misbehaving_server.port}/feed/by-name",
        f"http://[::ffff:127.0.0.1]:{misbehaving_server.port}/feed/mapped",
        "http://169.254.169.254/latest/meta-data/iam",
        f"http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{misbehaving_server.port}/feed/wide",
        f"http://127\u30020\u30020\u30021:{misbehaving_server.port}/feed/ideographic",
        "http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14/latest/",
        "file:///etc/passwd",
    ]
    # Dated now: undated items on a feed's first poll would be backfill, never fetched at all.
    published = format_datetime(datetime.now(UTC), usegmt=True)
    items = "".join(
        f"<item><title>Meta AI probe {word} story</title><link>{link}</link>"
        f"<pubDate>{published}</pubDate><description>Short teaser.</description></item>"
        for word, link in zip(WORDS, links, strict=True)
    )
    url = feed_server.serve(
        "/probe.xml", f'<rss version="2.0"><channel><title>P</title>{items}</channel></rss>'
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "probe"\nurl = "{url}"\ntopic = "all"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n',
        encoding="utf-8",
    )
    bot = DigestBot.migrated(load_settings(config, env={}), [], env={})
    try:
        report = await bot.poll()
        with bot.sessions() as session:
            fetched = {
                item.title: (item.url, item.full_text_status)
                for item in session.scalars(select(Item))
            }
    finally:
        bot.close()
    assert report.feeds[0].status == "ok"  # the configured feed itself is local and allowed
    assert misbehaving_server.requests == []  # not one request reached the local server
    blocked = [status for link, status in fetched.values() if link]
    assert blocked == ["blocked"] * 7
    assert fetched["Meta AI probe hazel story"][0] is None  # file:// never even stored
