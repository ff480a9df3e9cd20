"""`meta-ai-digest demo`: the first run that shows the product, offline, in seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.harness import run_bot
from tests.helpers import closed_port


def test_demo_prints_a_real_digest_of_the_sample_feeds_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    """Chat variables pointing nowhere prove nothing is posted; a DATABASE_URL and a config
    that would break any other command prove neither is used."""
    data_home = tmp_path / "data-home"
    broken_config = tmp_path / "broken.toml"
    broken_config.write_text("[digest]\nmax_storys = 1\n", encoding="utf-8")
    env = {
        "XDG_DATA_HOME": str(data_home),
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/services/T0/B0/xxxxxxxxxxxxxxxx",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'must-not-exist.db'}",
        "META_AI_DIGEST_CONFIG": str(broken_config),
    }
    started = time.monotonic()
    result = run_bot(["demo"], env=env, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 30, elapsed  # about a second on a developer machine
    digest = result.stdout
    assert digest.startswith("Meta AI digest — ")
    # One release covered by two outlets is one story with both sources.
    assert "1. Meta releases Llama 9" in digest
    assert "via Sample Newsroom, Sample Tech Outlet" in digest
    assert "Segment Anything 4" in digest and "nuclear power" in digest
    # What is not about Meta's AI work is dropped.
    for dropped in ("Marketplace", "Quest", "folding phone", "sleep studies"):
        assert dropped not in digest
    assert "polled 3 feeds: 9 items, 5 about Meta's AI work, 4 stories." in result.stderr
    assert "made-up stories" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.toml"]


def test_demo_as_json() -> None:
    result = run_bot(["demo", "--format", "json"])
    assert result.returncode == 0, result.stderr
    stories = json.loads(result.stdout)["stories"]
    assert len(stories) == 4
    assert {source["feed"] for source in stories[0]["sources"]} == {
        "Sample Newsroom",
        "Sample Tech Outlet",
    }


def test_the_sample_feeds_ship_inside_the_package_and_parse() -> None:
    from bot.demo import SAMPLE_FEEDS, sample_text
    from bot.feeds.parser import parse_feed

    for _name, file in SAMPLE_FEEDS:
        parsed = parse_feed(sample_text(file).encode("utf-8"))
        assert parsed.entries and parsed.warning is None, file
