"""A third party's adapter, installed the way pip installs a package (a
``.dist-info`` with an entry point, on ``sys.path``), is found and posts digests
with no change to the bot; and an error the bot does not expect is reported
with its traceback but without the secrets of the environment.

The bot runs as its installed console script in a separate process, so the
plug-in is discovered exactly as in production.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.builders import serve_fixture_feeds
from tests.fakes.feed_server import FeedServer
from tests.harness import run_bot
from tests.helpers import write_config

ECHO_TOKEN = "echo-token-0123456789abcdef"

PLUGIN = '''
"""A chat adapter written against bot.adapters.base only: it appends every
message to a file, so a test can read what was posted."""

import json
from pathlib import Path

from bot.adapters.base import ChatAdapter


class EchoAdapter(ChatAdapter):
    name = "echo"

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def from_environment(cls, env, options):
        if "ECHO_TOKEN" not in env:
            return None
        if env.get("ECHO_CRASH"):
            raise RuntimeError("the echo service refused token " + env["ECHO_TOKEN"])
        return cls(options["path"])

    def destinations(self):
        return ["room-1"]

    def render(self, digest):
        return [
            {"title": story.title, "feeds": sorted(s.feed for s in story.sources)}
            for story in digest.stories
        ]

    async def send(self, destination, payload, *, key):
        with self.path.open("a", encoding="utf-8") as posted:
            posted.write(json.dumps({"to": destination, **payload}) + "\\n")
        return None
'''


def install_echo_plugin(root: Path) -> Path:
    """A site directory holding the plug-in module and its distribution metadata."""
    site = root / "site"
    metadata = site / "echo_adapter-0.1.dist-info"
    metadata.mkdir(parents=True)
    (site / "echo_adapter.py").write_text(PLUGIN, encoding="utf-8")
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: echo-adapter\nVersion: 0.1\n", encoding="utf-8"
    )
    (metadata / "entry_points.txt").write_text(
        "[meta_ai_digest.adapters]\necho = echo_adapter:EchoAdapter\n", encoding="utf-8"
    )
    return site


def bot_environment(site: Path, **extra: str) -> dict[str, str]:
    """A clean environment's additions: the plug-in on the path, and ``extra``."""
    return {"PYTHONPATH": str(site), **extra}


def bot(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot(["--config", str(config), *args], env=env)


def test_an_installed_third_party_adapter_posts_the_digest(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    site = install_echo_plugin(tmp_path)
    posted = tmp_path / "posted.jsonl"
    config = write_config(
        tmp_path / "config.toml",
        serve_fixture_feeds(feed_server),
        tmp_path / "bot.db",
        extra=f'[adapters.echo]\npath = "{posted}"\n',
    )
    env = bot_environment(site, ECHO_TOKEN=ECHO_TOKEN)
    for command in (["poll"], ["digest"], ["digest"]):
        result = bot(config, env, *command)
        assert result.returncode == 0, result.stderr

    messages = [json.loads(line) for line in posted.read_text(encoding="utf-8").splitlines()]
    assert len(messages) == 1, messages  # the second digest had nothing new
    assert messages[0]["to"] == "room-1"
    assert "Llama 4" in messages[0]["title"]
    assert messages[0]["feeds"] == ["Outlet A", "Outlet B"]


def test_an_unexpected_error_shows_its_traceback_without_the_secret(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    site = install_echo_plugin(tmp_path)
    config = write_config(
        tmp_path / "config.toml",
        serve_fixture_feeds(feed_server),
        tmp_path / "bot.db",
        extra=f'[adapters.echo]\npath = "{tmp_path / "posted.jsonl"}"\n',
    )
    result = bot(config, bot_environment(site, ECHO_TOKEN=ECHO_TOKEN, ECHO_CRASH="1"), "digest")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "echo_adapter.py" in result.stderr
    assert "the echo service refused token [redacted]" in result.stderr
    assert ECHO_TOKEN not in result.stdout + result.stderr
    assert "unexpected failure" in result.stderr.splitlines()[-1]
