"""Credentials in feed addresses never reach a chat or a list (issue 21, point 7): user
names, passwords and key-like query values are masked wherever a feed's address is shown,
and `feeds export` keeps them only with --with-credentials."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.common.redaction import redact_url, redact_urls
from bot.feeds.opml import read_opml
from tests.harness import run_bot
from tests.helpers import write_config

PAID = "https://ada:hunter2-pass@paid.example/rss?apikey=KEY-0f1e2d3c&lang=en"
SECRETS = ("ada:", "hunter2-pass", "KEY-0f1e2d3c")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (PAID, "https://paid.example/rss?apikey=[redacted]&lang=en"),
        ("https://u@x.example:8080/f?token=abc", "https://x.example:8080/f?token=[redacted]"),
        (
            "https://x.example/f?X-Amz-Signature=ab12&page=2#top",
            "https://x.example/f?X-Amz-Signature=[redacted]&page=2#top",
        ),
        (
            "https://x.example/f?accessToken=z&q=llama",
            "https://x.example/f?accessToken=[redacted]&q=llama",
        ),
        (
            "https://x.example/f?api_key=z&password=p",
            "https://x.example/f?api_key=[redacted]&password=[redacted]",
        ),
        # A value that looks generated is masked whatever its parameter is called.
        ("https://x.example/f?id=8f3a9c2e1b7d4f60a9e2c3b4", "https://x.example/f?id=[redacted]"),
        # Ordinary addresses are left as they are.
        ("https://x.example/f?id=12345&category=ai&keyword=llama", None),
        ("https://x.example/feeds/all.atom.xml", None),
        ("file:///srv/feeds/news.xml", None),
    ],
)
def test_a_shown_address_has_no_credentials(url: str, shown: str | None) -> None:
    assert redact_url(url) == (shown or url)


def test_an_error_quoting_an_address_is_masked_and_keeps_its_punctuation() -> None:
    text = f"cannot fetch {PAID}: 404 (see https://x.example/help)."
    assert redact_urls(text) == (
        "cannot fetch https://paid.example/rss?apikey=[redacted]&lang=en: 404 "
        "(see https://x.example/help)."
    )


def bot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot([*args, "--config", str(config)], env={"COLUMNS": "200"})


def test_feeds_list_and_export_mask_credentials_unless_asked(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", [("Paid", PAID)], tmp_path / "bot.db")
    assert bot(config, "migrate").returncode == 0

    for listing in (bot(config, "feeds", "list"), bot(config, "feeds", "list", "--format", "json")):
        assert listing.returncode == 0, listing.stderr
        assert "Paid" in listing.stdout
        assert not any(secret in listing.stdout for secret in SECRETS)
    shown = json.loads(bot(config, "feeds", "list", "--format", "json").stdout)
    assert [feed["url"] for feed in shown["feeds"]] == [
        "https://paid.example/rss?apikey=[redacted]&lang=en"
    ]

    exported = bot(config, "feeds", "export")
    assert exported.returncode == 0, exported.stderr
    [feed] = read_opml(exported.stdout.encode())
    assert feed.xml_url == "https://paid.example/rss?apikey=[redacted]&lang=en"
    assert "1 feed addresses hold credentials" in exported.stderr
    assert "--with-credentials" in exported.stderr

    whole = bot(config, "feeds", "export", "--with-credentials")
    assert whole.returncode == 0, whole.stderr
    [feed] = read_opml(whole.stdout.encode())
    assert feed.xml_url == PAID
    assert whole.stderr == ""
