"""Feeds managed without editing TOML: `feeds add` (a feed's or a site's address), `remove`,
`import` and `export` (OPML), `feeds list` and `status` over config and added feeds. Every
command is the installed console script; feeds come from a local server."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.feeds.opml import OpmlError, OpmlFeed, read_opml, write_opml
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import Feed
from tests.fakes.feed_server import FeedServer
from tests.harness import run_bot
from tests.helpers import allow_local, fresh_feed, write_config

SITE_PAGE = """<!doctype html><html><head><title>Outlet A</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Outlet A news" href="/feeds/news.xml">
<link rel="alternate" type="application/atom+xml" href="/feeds/comments.atom">
</head><body><p>Hello</p></body></html>"""


def bot(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_bot([*args, "--config", str(config)], env={"COLUMNS": "200"}, input=stdin)


@pytest.fixture
def site(feed_server: FeedServer) -> FeedServer:
    feed_server.serve("/", SITE_PAGE, "text/html; charset=utf-8")
    feed_server.serve("/feeds/news.xml", fresh_feed("outlet-a-rss.xml"))
    return feed_server


def stored_feeds(database: Path) -> dict[str, Feed]:
    engine = create_database_engine(f"sqlite:///{database}")
    try:
        with session_factory(engine)() as session:
            return {feed.name: feed for feed in session.scalars(select(Feed))}
    finally:
        engine.dispose()


def test_add_a_site_finds_its_feed_and_every_command_then_sees_it(
    site: FeedServer, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    config = write_config(tmp_path / "c.toml", [], database, extra=allow_local(site.port))

    added = bot(config, "feeds", "add", site.url("/"))
    assert added.returncode == 0, added.stderr
    feed_url = site.url("/feeds/news.xml")
    assert (
        f"Added the feed “Outlet A Technology”: {feed_url} (found on {site.url('/')})"
        in added.stdout
    )
    row = stored_feeds(database)["Outlet A Technology"]
    assert (row.source, row.url, row.removed_at) == ("added", feed_url, None)
    assert row.added_by and row.added_by.endswith("(command line)")

    listed = json.loads(bot(config, "feeds", "list", "--format", "json").stdout)["feeds"]
    assert [(feed["name"], feed["source"], feed["state"]) for feed in listed] == [
        ("Outlet A Technology", "added", "not polled yet")
    ]
    polled = bot(config, "poll")
    assert polled.returncode == 0, polled.stderr
    assert "Outlet A Technology" in polled.stdout
    assert json.loads(bot(config, "digest", "--dry-run", "--format", "json").stdout)["stories"]

    again = bot(config, "feeds", "add", feed_url, "--name", "Another name")
    assert (
        again.returncode == 1
        and "is already polled as “Outlet A Technology” (added)" in again.stderr
    )

    removed = bot(config, "feeds", "remove", "Outlet A Technology")
    assert removed.returncode == 0, removed.stderr
    assert "Removed the feed “Outlet A Technology”" in removed.stdout
    assert json.loads(bot(config, "feeds", "list", "--format", "json").stdout)["feeds"] == []
    assert "feeds: 0 known" in bot(config, "status").stdout
    assert stored_feeds(database)["Outlet A Technology"].removed_at is not None  # its stories stay
    before = len(site.requests)
    assert bot(config, "poll").returncode == 0
    assert len(site.requests) == before  # a removed feed is not polled


def test_an_added_feed_passes_the_url_gate_like_any_untrusted_link(
    site: FeedServer, tmp_path: Path
) -> None:
    """Without the host allowed, a loopback address typed by an admin in chat (or here)
    reaches nothing: the bot's own network is off limits."""
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    result = bot(config, "feeds", "add", site.url("/feeds/news.xml"))
    assert result.returncode == 1
    assert "cannot fetch" in result.stderr and "blocked" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert site.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://", "has no host"),
        ("https://exa mple.com/feed", "contains a space"),
        ("file:///etc/passwd", "must start with http:// or https://"),
    ],
)
def test_add_refuses_an_address_that_cannot_be_a_feed(
    tmp_path: Path, url: str, message: str
) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    result = bot(config, "feeds", "add", url)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_add_a_page_without_a_feed_says_what_to_do(feed_server: FeedServer, tmp_path: Path) -> None:
    page = feed_server.serve("/about", "<html><head><title>x</title></head></html>", "text/html")
    config = write_config(
        tmp_path / "c.toml", [], tmp_path / "bot.db", extra=allow_local(feed_server.port)
    )
    result = bot(config, "feeds", "add", page)
    assert result.returncode == 1
    assert "is not a feed" in result.stderr and 'rel="alternate"' in result.stderr


def test_a_config_feed_is_removed_in_the_config_and_leaves_status_when_it_is(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    kept = ("Kept", feed_server.serve("/kept.xml", fresh_feed("outlet-a-rss.xml")))
    gone = ("Gone", feed_server.url("/gone.xml"))
    both = write_config(tmp_path / "both.toml", [kept, gone], database)
    assert bot(both, "poll").returncode == 1  # Gone answers 404
    assert "1 failing" in bot(both, "status").stdout

    refused = bot(both, "feeds", "remove", "Gone")
    assert refused.returncode == 2 and "comes from the config file" in refused.stderr

    only_kept = write_config(tmp_path / "kept.toml", [kept], database)
    status = bot(only_kept, "status").stdout
    assert "feeds: 1 known, 0 failing" in status and "Gone" not in status
    listed = bot(only_kept, "feeds", "list").stdout
    assert "Kept" in listed and "Gone" not in listed
    assert "Gone" in stored_feeds(database)  # its row and items are kept


MINIFLUX_OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title><dateCreated>Sat, 28 Nov 2026 09:00:00 GMT</dateCreated></head>
  <body>
    <outline text="AI">
      <outline title="Outlet A Technology" text="Outlet A Technology" xmlUrl="{a}" htmlUrl="https://a.example/"
               type="rss"></outline>
      <outline text="Labs">
        <outline text="Outlet B" xmlUrl="{b}" type="rss"/>
      </outline>
    </outline>
    <outline text="Uncategorised" title="Lone" xmlurl="{lone}" htmlurl="https://lone.example/"/>
    <outline text="Broken" xmlUrl="https://" type="rss"/>
    <outline text="Feedly style" category="/News/Tech" xmlUrl="{c}" type="rss"/>
  </body>
</opml>"""


def test_import_then_export_round_trips_a_miniflux_style_file(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = {key: feed_server.url(f"/{key}.xml") for key in ("a", "b", "lone", "c")}
    source = tmp_path / "subscriptions.opml"
    source.write_text(MINIFLUX_OPML.format(**urls), encoding="utf-8")
    config = write_config(tmp_path / "c.toml", [], tmp_path / "one.db")

    imported = bot(config, "feeds", "import", str(source))
    assert imported.returncode == 1  # one refused: the file's broken entry
    assert "4 feeds added, 0 already there, 1 refused." in imported.stdout
    assert "Broken: 'https://' has no host" in imported.stderr
    again = bot(config, "feeds", "import", str(source))
    assert "0 feeds added, 4 already there, 1 refused." in again.stdout

    exported = bot(config, "feeds", "export")
    assert exported.returncode == 0, exported.stderr
    expected = {
        OpmlFeed("Outlet A Technology", urls["a"], "https://a.example/", ("AI",)),
        OpmlFeed("Outlet B", urls["b"], None, ("AI", "Labs")),
        OpmlFeed("Lone", urls["lone"], "https://lone.example/", ()),
        OpmlFeed("Feedly style", urls["c"], None, ("News", "Tech")),
    }
    assert set(read_opml(exported.stdout.encode())) == expected

    # Into another install, from standard input, and out again: the same feeds.
    other = write_config(tmp_path / "other.toml", [], tmp_path / "two.db")
    assert bot(other, "feeds", "import", "-", stdin=exported.stdout).returncode == 0
    assert set(read_opml(bot(other, "feeds", "export").stdout.encode())) == expected


def test_opml_written_here_reads_back_and_hostile_files_are_refused() -> None:
    feeds = [
        OpmlFeed("A & B <news>", "https://a.example/feed?x=1&y=2", None, ("Tech", "AI")),
        OpmlFeed("Top", "https://top.example/feed", "https://top.example/", ()),
    ]
    document = write_opml(feeds, title="t", created=datetime(2026, 11, 30, tzinfo=UTC))
    assert read_opml(document) == [feeds[1], feeds[0]]  # uncategorised first
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<opml version="2.0"><body><outline text="&c;" xmlUrl="https://x.example/f"/></body></opml>'
    )
    external = (
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<opml><body><outline text="&x;" xmlUrl="https://x.example/f"/></body></opml>'
    )
    for hostile in (laughs.encode(), external.encode(), laughs.encode("utf-16")):
        with pytest.raises(OpmlError, match="entity declarations"):
            read_opml(hostile)
    for broken, message in [
        (b"<html><body/></html>", "root element is not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "has no <body>"),
        (b"not xml at all", "the XML is broken"),
    ]:
        with pytest.raises(OpmlError, match=message):
            read_opml(broken)


def test_feeds_list_rows_stay_short_at_80_columns(tmp_path: Path) -> None:
    """Failing feeds took 15 lines each and said their kind twice (`dns: dns: ...`); the
    error is cut to one line, and a long name wraps once rather than being cut (three
    names cut at 22 characters read alike)."""
    database = tmp_path / "bot.db"
    names = [f"A feed with a rather long name number {number}" for number in range(3)]
    config = write_config(
        tmp_path / "c.toml",
        [(name, f"https://f{i}.example/feed") for i, name in enumerate(names)],
        database,
    )
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine)
    error = (
        "dns: name lookup failed: Cannot connect to host f0.example:443 ssl:default "
        "[Name or service not known] " * 3
    )
    with session_factory(engine).begin() as session:
        session.add_all(
            Feed(
                name=name,
                url=f"https://f{i}.example/feed",
                consecutive_failures=4,
                disabled_notice_sent=False,
                last_status="dns",
                last_error=error,
            )
            for i, name in enumerate(names)
        )
    engine.dispose()
    result = run_bot(["feeds", "list", "--config", str(config)], env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), result.stdout
    firsts = [line for line in lines[2:] if "failing ×4" in line]
    assert len(firsts) == len(names) and all("dns: name lookup" in line for line in firsts)
    assert len(lines) <= 2 + 2 * len(names), result.stdout  # header, rule, two lines a feed
    shown = " ".join(" ".join(line[:26].split()) for line in lines[2:])
    assert all(name in shown for name in names), result.stdout
    assert "dns: dns:" not in result.stdout


def test_the_config_file_wins_over_a_feed_added_under_the_same_name(tmp_path: Path) -> None:
    """A declarative deployment stays declarative: a name the config lists is a config feed,
    and a removed feed comes back with `feeds add`."""
    from bot.feeds.settings import FeedConfig
    from bot.store.feeds import FeedConflictError, active_feeds, add_feed, remove_feed, sync_feeds

    engine = create_database_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            add_feed(
                session, [], name="Blog", url="https://blog.example/feed", added_by="a", now=now
            )
            remove_feed(session, [], "Blog", now)
            assert active_feeds(session, []) == []
            revived = add_feed(
                session, [], name="Blog", url="https://blog.example/feed", added_by="b", now=now
            )
            assert (revived.removed_at, revived.added_by) == (None, "b")
            with pytest.raises(FeedConflictError, match="already a feed named “Blog”"):
                add_feed(
                    session, [], name="Blog", url="https://other.example/", added_by="c", now=now
                )
            configured = [FeedConfig(name="Blog", url="https://blog.example/v2", topic="all")]
            sync_feeds(session, configured)
            [row] = active_feeds(session, configured)
            assert (row.source, row.url, row.topic) == ("config", "https://blog.example/v2", "all")
            with pytest.raises(FeedConflictError, match="comes from the config file"):
                remove_feed(session, configured, "Blog", now)
    finally:
        engine.dispose()
