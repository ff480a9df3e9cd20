"""Builders shared by several test modules: documents, digests and adapters made the same way
wherever a test needs one (before, each lived in one test module and others imported it)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from bot.adapters.slack import SlackAdapter
from bot.digest.model import Digest, DigestSource, DigestStory
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers import fresh_feed, write_config


def rss(items: list[tuple[str, str, str, str, datetime]]) -> str:
    """An RSS 2.0 document of (guid, title, link, html description, published)."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description><![CDATA[{html}]]></description>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>"
        for guid, title, link, html, when in items
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{body}</channel></rss>"
    )


FEEDS = {
    "/a.xml": ("Outlet A", "outlet-a-rss.xml", "application/rss+xml; charset=utf-8"),
    "/b.xml": ("Outlet B", "outlet-b-atom.xml", "application/atom+xml"),
    "/c.json": ("Outlet C", "outlet-c-json.json", "application/feed+json"),
}


def outlet_a_config(server: FeedServer, tmp_path: Path, extra: str = "") -> Path:
    """A config (tmp_path/c.toml, database tmp_path/bot.db) of Outlet A alone, served fresh."""
    feed = ("Outlet A", server.serve("/a.xml", fresh_feed("outlet-a-rss.xml")))
    return write_config(tmp_path / "c.toml", [feed], tmp_path / "bot.db", extra)


def serve_fixture_feeds(server: FeedServer) -> list[tuple[str, str]]:
    feeds = []
    for path, (name, fixture, content_type) in FEEDS.items():
        feeds.append((name, server.serve(path, fresh_feed(fixture), content_type)))
    return feeds


def digest(tag: str, stories: int = 2) -> Digest:
    now = datetime.now(UTC)
    return Digest(
        generated_at=now,
        stories=[
            DigestStory(
                id=f"{tag}-{index}",
                title=f"Story {tag} {index}",
                url=f"https://news.example/{tag}/{index}",
                published=now,
                summary=[f"Summary sentence of {tag} {index}."],
                sources=[
                    DigestSource(
                        title=f"Story {tag} {index}",
                        url=f"https://news.example/{tag}/{index}",
                        feed="Outlet",
                    )
                ],
            )
            for index in range(stories)
        ],
    )


def slack_adapter(fake: FakeSlack, channels: list[str], **options: object) -> SlackAdapter:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
    }
    settings = {"channels": channels, "min_seconds_between_messages": 0, "max_retries": 0}
    adapter = SlackAdapter.from_environment(env, settings | options)
    assert adapter is not None
    return adapter
