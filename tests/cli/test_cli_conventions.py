"""The command line as scripts and admins use it: options anywhere, --version, help without
type placeholders, exit codes to trust, the database named at start. Every test drives the
installed console script."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.builders import outlet_a_config
from tests.fakes.feed_server import FeedServer
from tests.harness import BotProcess, run_bot
from tests.helpers import write_config

EMPTY_FEED = "<rss version='2.0'><channel><title>t</title></channel></rss>"


def bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_bot(args, env={"COLUMNS": "100", **(env or {})}, cwd=cwd)


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = bot("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == (
        f"meta-ai-digest {version('meta-ai-digest')}"
    )


def test_config_and_log_level_work_before_or_after_the_command_and_after_wins(
    tmp_path: Path,
) -> None:
    good = write_config(tmp_path / "good.toml", [], tmp_path / "bot.db")
    bad = tmp_path / "bad.toml"
    bad.write_text("[digest]\nmax_storys = 3\n", encoding="utf-8")
    assert bot("migrate", "--config", str(good), cwd=tmp_path).returncode == 0

    before = bot("--log-level", "INFO", "--config", str(good), "poll", cwd=tmp_path)
    after = bot("poll", "--config", str(good), "--log-level", "INFO", cwd=tmp_path)
    for result in (before, after):
        assert result.returncode == 0, result.stderr
        assert " INFO bot.services.ingest: poll: 0 feeds fetched" in result.stderr
    overridden = bot("--config", str(bad), "status", "--config", str(good), cwd=tmp_path)
    assert overridden.returncode == 0, overridden.stderr
    from_env = bot(
        "status", "--config", str(good), cwd=tmp_path, env={"META_AI_DIGEST_CONFIG": str(bad)}
    )
    assert from_env.returncode == 0, from_env.stderr  # the option beats the variable
    wrong_level = bot("status", "--log-level", "LOUD", "--config", str(good), cwd=tmp_path)
    assert wrong_level.returncode == 2
    assert "--log-level: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR" in wrong_level.stderr


HELP_PAGES = [
    (),
    ("poll",),
    ("digest",),
    ("latest",),
    ("run",),
    ("status",),
    ("explain",),
    ("migrate",),
    ("summarize",),
    ("demo",),
    ("feeds",),
    ("feeds", "list"),
    ("feeds", "add"),
    ("feeds", "remove"),
    ("feeds", "import"),
    ("feeds", "export"),
    ("feeds", "enable"),
]


@pytest.mark.parametrize("page", HELP_PAGES, ids=lambda page: " ".join(page) or "main")
def test_help_shows_no_type_placeholders(tmp_path: Path, page: tuple[str, ...]) -> None:
    result = bot(*page, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Usage: meta-ai-digest" in text
    assert not re.search(r"<(bool|str|int|path|list\[|float)", text), text
    assert "{" not in text.split("Usage:")[1].splitlines()[0], text  # no {url}-style names
    assert "no-force" not in text and "[default: no" not in text, text
    if page:
        assert "--log-level" in text or page == ("feeds",)


def test_poll_exit_status_is_0_when_all_feeds_are_fine_1_when_one_failed_2_for_mistakes(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    good = feed_server.serve("/good.xml", EMPTY_FEED)
    all_fine = write_config(tmp_path / "fine.toml", [("Good", good)], tmp_path / "a.db")
    some_failing = write_config(
        tmp_path / "failing.toml",
        [("Good", good), ("Gone", feed_server.url("/gone.xml"))],
        tmp_path / "b.db",
    )
    fine = bot("poll", "--config", str(all_fine), cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr
    failing = bot("poll", "--config", str(some_failing), cwd=tmp_path)
    assert failing.returncode == 1, failing.stderr
    assert "Gone" in failing.stdout and "HTTP 404" in failing.stdout
    # Waiting out its backoff is not a new failure: a poll that skips it is fine again.
    waiting = bot("poll", "--config", str(some_failing), cwd=tmp_path)
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    assert bot("poll", "--no-such-option", cwd=tmp_path).returncode == 2
    missing = bot("poll", "--config", str(tmp_path / "absent.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_the_terminal_format_of_the_config_applies_to_latest_and_digest(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = outlet_a_config(feed_server, tmp_path, '[adapters.terminal]\nformat = "json"\n')
    assert bot("poll", "--config", str(config), cwd=tmp_path).returncode == 0
    latest = bot("latest", "--config", str(config), cwd=tmp_path)
    assert latest.returncode == 0, latest.stderr
    assert json.loads(latest.stdout)["stories"]
    dry_run = bot("digest", "--dry-run", "--config", str(config), cwd=tmp_path)
    assert json.loads(dry_run.stdout)["stories"]
    as_text = bot("latest", "--format", "text", "--config", str(config), cwd=tmp_path)
    assert as_text.stdout.startswith("Latest Meta AI news")


def test_run_names_the_database_in_use_when_it_starts(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "c.toml", [("Good", feed_server.serve("/g.xml", EMPTY_FEED))], tmp_path / "b.db"
    )
    log = tmp_path / "run.log"
    with BotProcess(["run", "--config", str(config)], log=log, cwd=tmp_path) as run:
        run.wait_for("database:", timeout=60)
        assert run.stop(signal.SIGTERM, timeout=15)[0] == 0
    assert f"database: sqlite:///{tmp_path / 'b.db'}" in log.read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_the_bot_starts_is_a_clean_exit(tmp_path: Path, signum: int) -> None:
    """SIGTERM or Ctrl-C before the schedule's own handler is installed (here: while the database
    does not answer yet) ends ``run`` with status 0, as a stop later does, not killed by
    the signal. A server that accepts the connection and never answers holds the bot
    there, so the signal lands inside start-up every time."""
    silent = socket.create_server(("127.0.0.1", 0))
    silent.settimeout(60)
    port = silent.getsockname()[1]
    url = f"postgresql+psycopg://bot@127.0.0.1:{port}/bot"
    config = write_config(tmp_path / "c.toml", [("Good", "http://127.0.0.1:9/feed.xml")], None)
    env = {"DATABASE_URL": url}
    with BotProcess(["run", "--config", str(config)], log=tmp_path / "run.log", env=env) as run:
        connection, _ = silent.accept()  # the bot is in start-up, opening its database
        try:
            code, seconds = run.stop(signum, timeout=15)
        finally:
            connection.close()
            silent.close()
        assert code == 0, run.tail()
        assert seconds < 10
        assert "Traceback" not in run.output()
