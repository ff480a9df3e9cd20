"""`latest` and the other read-only paths load none of the heavy stages.

DigestBot builds the topic rules, the summarizer and the services that use them on
first use, and every read-only command (latest, status, explain, feeds list, feeds
export, defaults) loads neither the HTTP client nor a chat SDK nor a text stage.
Checked in a fresh interpreter: this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, write_config

SCRIPT = """
import asyncio, json, sys
from bot.config import load_settings

settings = load_settings(sys.argv[1], env={})
before = set(sys.modules)
from bot.pipeline import DigestBot

bot = DigestBot.migrated(settings, env={})
answer = asyncio.run(bot.commands.latest())
after_latest = set(sys.modules)
bot.ingest, bot.grouping  # what the first poll builds
bot.close()
print(json.dumps({
    "stories": len(answer.stories),
    "loaded": sorted(after_latest),
    "new": sorted(after_latest - before),
    "for_polling": sorted(set(sys.modules) - after_latest),
}))
"""
HEAVY_LIBRARIES = {"aiohttp", "trafilatura", "nupunkt", "re2", "feedparser", "fastfeedparser"}
HEAVY_MODULES = (
    "bot.feeds.http",
    "bot.feeds.poller",
    "bot.feeds.parser",
    "bot.services.ingest",
    "bot.services.grouping",
    # The stage packages themselves are thin; their modules are the weight.
    "bot.topic.",
    "bot.stories.",
    "bot.summarize.",
)
# Loading the settings imports the stages' settings modules, and RE2 to check the patterns.
LOADED_BY_SETTINGS = {
    "bot.topic.settings",
    "bot.stories.settings",
    "bot.summarize.settings",
    "re2",
    "re2._re2",
}


def is_heavy(module: str) -> bool:
    return module.split(".")[0] in HEAVY_LIBRARIES or module.startswith(HEAVY_MODULES)


def test_latest_on_a_fresh_bot_imports_no_heavy_stage(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", [], tmp_path / "bot.db")
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    modules = json.loads(run.stdout)

    assert modules["stories"] == 0  # an empty database, migrated by the bot
    assert [name for name in modules["new"] if is_heavy(name)] == []
    loaded = [name for name in modules["loaded"] if is_heavy(name)]
    assert sorted(set(loaded) - LOADED_BY_SETTINGS) == []
    # The check can fail: polling does load them.
    for_polling = set(modules["for_polling"])
    assert {"aiohttp", "nupunkt", "bot.topic.classifier"} <= for_polling
    assert "trafilatura" not in for_polling  # loaded by the first article page fetched
    assert {"bot.stories.index", "bot.summarize.summarizer", "bot.feeds.http"} <= for_polling


# A command run through the console script's main(), reporting what it imported at exit.
COMMAND_SCRIPT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["meta-ai-digest", *sys.argv[1:]]
from bot.cli import main
main()
"""
# What no read-only command needs: the HTTP client, the chat SDKs, the feed parsers, the
# text stages.
NOT_FOR_READING = (
    "aiohttp",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "feedparser",
    "fastfeedparser",
    "trafilatura",
    "nupunkt",
    "bot.feeds.http",
    "bot.feeds.parser",
    "bot.services.ingest",
    "bot.services.grouping",
    "bot.topic.classifier",
    "bot.stories.index",
    "bot.summarize.summarizer",
)
READ_ONLY_COMMANDS = [
    ["latest"],
    ["latest", "llama"],
    ["status"],
    ["explain", "https://news.example.com/a"],
    ["feeds", "list"],
    ["feeds", "list", "--format", "json"],
    ["feeds", "export"],
    ["defaults"],
    ["channels", "list"],
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=" ".join)
def test_read_only_commands_load_no_client_sdk_or_text_stage(
    command: list[str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "config.toml", [("Outlet", "https://news.example.com/feed")], tmp_path / "b.db"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("META_AI")}
    # Both chat platforms configured, as in production: still no SDK for a read-only
    # command, `status` included (it builds the adapters to show their channels).
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-not-a-secret",
        "SLACK_APP_TOKEN": "xapp-not-a-secret",
        "SLACK_CHANNEL_ID": "C0123ABCD",
        "DISCORD_TOKEN": "not-a-real-token",
        "DISCORD_CHANNEL_ID": "123456789012345678",
    }
    base = [sys.executable, "-c", COMMAND_SCRIPT, "--config", str(config)]
    subprocess.run([*base, "migrate"], cwd=REPO, env=env, capture_output=True, check=True)
    run = subprocess.run(
        [*base, *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode in (0, 1), run.stderr  # explain: 1, never seen
    loaded = json.loads(run.stderr.strip().splitlines()[-1])
    heavy = [
        name
        for name in loaded
        if any(name == root or name.startswith(root + ".") for root in NOT_FOR_READING)
    ]
    assert heavy == []
