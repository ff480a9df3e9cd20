"""Links found inside feeds never reach file://, private, loopback or link-local
addresses (misbehaving_server-side request forgery), however they are spelled, unless an
admin allows the host. Feeds an admin configured are trusted and may be local."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import FetchSettings, load_settings
from bot.feeds.article import fetch_article_html
from bot.feeds.http import (
    FailureKind,
    FetchError,
    GuardedResolver,
    HttpFetcher,
    check_untrusted_url,
    is_public_address,
)
from bot.pipeline import DigestBot
from bot.store.schema import Item
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer

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
        check_untrusted_url(url, allowed_hosts=[])
    assert refused.value.kind is FailureKind.BLOCKED


@pytest.mark.parametrize("url", ALLOWED)
def test_public_links_pass_the_url_check(url: str) -> None:
    check_untrusted_url(url, allowed_hosts=[])


def test_an_admin_can_allow_a_private_host() -> None:
    check_untrusted_url("http://wiki.internal:8080/page", allowed_hosts=["wiki.internal"])
    check_untrusted_url("http://10.1.2.3/page", allowed_hosts=["10.1.2.3"])
    with pytest.raises(FetchError):
        check_untrusted_url("http://10.1.2.4/page", allowed_hosts=["10.1.2.3"])


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("127.0.0.1", False), ("::ffff:8.8.8.8", True), ("2002:808:808::", True)],
)
def test_embedded_addresses_are_judged_by_what_they_reach(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"]
)
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


@pytest.mark.parametrize("where", ["localhost", "file", "metadata"])
async def test_a_redirect_from_an_allowed_host_cannot_lead_somewhere_private(
    misbehaving_server: MisbehavingServer, where: str
) -> None:
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": ["127.0.0.1"]})
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(misbehaving_server.url(f"/goto/{where}"), trusted=False)
    assert refused.value.kind is FailureKind.BLOCKED
    assert [request.path for request in misbehaving_server.requests] == [f"/goto/{where}"]


async def test_an_allowed_host_is_fetched(misbehaving_server: MisbehavingServer) -> None:
    settings = SETTINGS.model_copy(update={"allowed_private_hosts": ["127.0.0.1"]})
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
        "file:///etc/passwd",
    ]
    # Dated now: undated items on a feed's first poll would be backfill, never fetched at all.
    published = format_datetime(datetime.now(UTC), usegmt=True)
    items = "".join(
        f"<item><title>Meta AI probe {word} story</title><link>{link}</link>"
        f"<pubDate>{published}</pubDate><description>Short teaser.</description></item>"
        for word, link in zip(["amber", "basil", "cedar", "dahlia", "ember"], links, strict=True)
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
    bot = DigestBot(load_settings(config, env={}), [], env={})
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
    assert blocked == ["blocked"] * 4
    assert fetched["Meta AI probe ember story"][0] is None  # file:// never even stored
