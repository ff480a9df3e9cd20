"""What a new admin meets, through the installed console script: failures that show,
errors that name the fix, output that reads at 80 columns, a configuration one can see."""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.store.database import create_database_engine, migrate, session_factory
from tests.fakes.feed_server import FeedServer
from tests.fakes.webhook_sink import SlackWebhookSink
from tests.harness import BotProcess, run_bot
from tests.helpers import POSTGRES_SERVER, closed_port, postgres_available, write_config
from tests.replicas import add_pending_stories

WIDTH = 80
DISCORD_CHANNELS = "123456789012345678,223456789012345678"


def bot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed command, at 80 columns, without any chat platform of the developer's."""
    return run_bot(args, env={"COLUMNS": str(WIDTH), **(env or {})}, timeout=timeout)


def too_wide(output: str) -> list[str]:
    return [line for line in output.splitlines() if len(line.rstrip()) > WIDTH]


@pytest.fixture
def sink() -> Iterator[SlackWebhookSink]:
    server = SlackWebhookSink().start()
    try:
        yield server
    finally:
        server.stop()


# --- 2. a failed delivery shows -----------------------------------------------------------


def test_digest_to_a_webhook_answering_501_exits_1_at_once_with_one_line(
    sink: SlackWebhookSink, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine)
    add_pending_stories(session_factory(engine), 2)
    engine.dispose()
    config = write_config(tmp_path / "c.toml", [], database)
    page = "<!DOCTYPE html><html><head><title>501 Not Implemented</title></head><body>" + (
        "<p>This server does not implement that.</p>" * 20
    )
    sink.fail_with(501, page)
    started = time.monotonic()
    result = bot("--config", str(config), "digest", env=sink.env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 20  # one attempt, not ~50 s of retries
    assert sink.attempts == 1
    reasons = [line for line in result.stderr.splitlines() if line.startswith("not delivered:")]
    assert len(reasons) == 1
    assert "127.0.0.1" in reasons[0] and "501 (Not Implemented)" in reasons[0]
    assert "SLACK_WEBHOOK_URL" in reasons[0]
    assert "<" not in result.stderr and "Slack is having trouble" not in result.stderr
    assert "1 message still pending" in result.stderr  # retried by `run` or the next digest
    assert not too_wide(result.stdout)


def test_a_slack_webhook_url_elsewhere_than_slack_is_a_one_line_error_naming_the_fix(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    secret = "sEcReTwEbHoOkPaTh0123"
    result = bot(
        "--config",
        str(config),
        "digest",
        env={"SLACK_WEBHOOK_URL": f"http://127.0.0.1/services/T0/B0/{secret}"},
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "SLACK_WEBHOOK_URL" in line and "https://hooks.slack.com/services/" in line
    assert secret not in line


# --- 5. errors name the fix -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[schedule]\npoll_interval_minute = 5\n", "did you mean `poll_interval_minutes`?"),
        ('[[feed]]\nname = "x"\nurl = "https://example.com/feed.xml"\n', "did you mean `feeds`?"),
        (
            '[[feeds]]\nname = "x"\nurl = "https://example.com/feed.xml"\nenable = false\n',
            "feeds.0.enable: unknown key; did you mean `enabled`?",
        ),
        ('[adapters.discord]\nchannel = ["1"]\n', "did you mean `channels`?"),
    ],
)
def test_an_unknown_key_suggests_the_nearest_one(tmp_path: Path, toml: str, expected: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml, encoding="utf-8")
    result = bot("--config", str(config), "status")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert expected in line and "Extra inputs" not in line


def test_a_private_address_refusal_names_the_key_that_allows_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    result = bot("--config", str(config), "feeds", "add", url)
    assert result.returncode == 1
    assert 'add "127.0.0.1" to fetch.allowed_private_hosts' in result.stderr


def test_explain_of_a_url_no_feed_carried_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    assert bot("--config", str(config), "migrate").returncode == 0
    result = bot("--config", str(config), "explain", "https://nowhere.example/a")
    assert result.returncode == 1 and "never seen" in result.stderr


def test_a_missing_postgres_database_is_named_and_migrate_creates_it(tmp_path: Path) -> None:
    if (reason := postgres_available()) is not None:
        pytest.skip(reason)
    name = f"admin_missing_{uuid.uuid4().hex[:10]}"
    url = make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    env = {"DATABASE_URL": url}
    try:
        status = bot("status", env=env)
        assert status.returncode == 1
        assert f'"{name}" does not exist' in status.stderr
        assert "`meta-ai-digest migrate` creates it" in status.stderr
        assert f"createdb {name}" in status.stderr
        created = bot("migrate", env=env)
        assert created.returncode == 0, created.stderr
        assert f"database {name} created" in created.stdout
        assert bot("status", env=env).returncode == 0
        # A command that writes creates it too, as the README says.
        config = write_config(tmp_path / "c.toml", [], tmp_path / "unused.db")
        env_poll = {"DATABASE_URL": url.replace(name, f"{name}_poll")}
        polled = bot("--config", str(config), "poll", env=env_poll)
        assert polled.returncode == 0, polled.stderr
        assert bot("--config", str(config), "status", env=env_poll).returncode == 0
    finally:
        admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for database in (name, f"{name}_poll"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        admin.dispose()


# --- 4. 80 columns ----------------------------------------------------------------------------

COMMANDS = [
    [],
    ["poll"],
    ["digest"],
    ["latest"],
    ["run"],
    ["status"],
    ["explain"],
    ["migrate"],
    ["defaults"],
    ["demo"],
    ["summarize"],
    ["feeds"],
    ["feeds", "list"],
    ["feeds", "add"],
    ["feeds", "remove"],
    ["feeds", "import"],
    ["feeds", "export"],
    ["feeds", "check"],
    ["feeds", "enable"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda words: " ".join(words) or "main")
def test_help_reads_at_80_columns_without_broken_sentences(command: list[str]) -> None:
    result = bot(*command, "--help")
    assert result.returncode == 0
    assert not too_wide(result.stdout)
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    for line, following in itertools.pairwise(lines):
        # A paragraph line (outside the option boxes) that ends short while its
        # paragraph goes on is a line break from the docstring ("(each is" / "listed)").
        if line and following and not line.lstrip().startswith(("│", "╭", "╰", "Usage")):
            assert len(line) > WIDTH - 25, f"broken line in help: {line!r}"


def test_demo_help_does_not_claim_a_config_default() -> None:
    result = bot("demo", "--help")
    assert "adapters.terminal" not in result.stdout
    assert "default text" in " ".join(result.stdout.split())


def test_the_digest_in_the_terminal_wraps_at_80_columns() -> None:
    result = bot("demo")
    assert result.returncode == 0, result.stderr
    assert "Meta AI digest" in result.stdout
    wide = [line for line in too_wide(result.stdout) if "://" not in line]
    assert not wide
    assert max(len(line) for line in result.stdout.splitlines()) > 60  # it does fill lines


def test_a_poll_where_every_feed_fails_is_a_compact_summary(tmp_path: Path) -> None:
    port = closed_port()
    feeds = [
        (f"Feed number {index}", f"http://127.0.0.1:{port}/{index}.xml") for index in range(14)
    ]
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db")
    result = bot("--config", str(config), "poll")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) <= 6, result.stdout
    assert lines[0] == "14 feeds failed:"
    assert re.match(r"  14 connection: ", lines[1])
    assert "feeds list" in result.stdout and "0 new items, 0 new stories." in result.stdout
    assert not too_wide(result.stdout)


def test_feeds_list_never_cuts_a_name_into_ambiguity(tmp_path: Path) -> None:
    names = [
        "meta-llama/llama-stack releases",
        "meta-llama/llama-stack-client-python releases",
        "meta-llama/llama-stack-apps releases",
    ]
    feeds = [(name, f"https://example.com/{index}.xml") for index, name in enumerate(names)]
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db")
    assert bot("--config", str(config), "migrate").returncode == 0
    result = bot("--config", str(config), "feeds", "list")
    assert result.returncode == 0 and not too_wide(result.stdout)
    lines = result.stdout.splitlines()
    width = lines[0].index("from")
    rows: list[str] = []
    for line in lines[2:]:
        cell = line[:width].strip()
        if line[width:].strip():  # the first line of a row
            rows.append(cell)
        elif cell:
            rows[-1] += " " + cell
    assert ["".join(row.split()) for row in rows] == ["".join(name.split()) for name in names]
    assert "…" not in "".join(line[:width] for line in lines)


# --- 6. what is configured is visible ------------------------------------------------------


def test_status_shows_the_adapters_their_channels_and_the_schedule(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml",
        [],
        tmp_path / "bot.db",
        '[schedule]\npoll_interval_minutes = 1\ndigest_cron = "30 8 * * mon-fri"\n'
        'timezone = "Europe/Berlin"\n',
    )
    assert bot("--config", str(config), "migrate").returncode == 0
    env = {"DISCORD_TOKEN": "not-a-real-token", "DISCORD_CHANNEL_ID": DISCORD_CHANNELS}
    result = bot("--config", str(config), "status", env=env)
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "adapters: discord" in shown
    assert "discord: digests to 123456789012345678, 223456789012345678" in shown
    assert "poll feeds: every 1 minute; next " in shown  # not "1 minutes"
    digest = next(line for line in shown.splitlines() if "post digest" in line)
    assert re.search(r'cron "30 8 \* \* mon-fri"; next (Mon|Tue|Wed|Thu|Fri) .* 08:30 CE', digest)
    assert "prune old rows" in shown and "retry deliveries" in shown
    assert not [line for line in too_wide(shown) if not line.startswith("database: ")]


def test_channels_add_list_remove_and_status_show_each_channels_subscription(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "c.toml", [], tmp_path / "bot.db")
    env = {"DISCORD_TOKEN": "not-a-real-token", "DISCORD_CHANNEL_ID": DISCORD_CHANNELS}
    first, second = DISCORD_CHANNELS.split(",")
    add = ["--config", str(config), "channels", "add", f"discord:{first}"]
    added = bot(
        *add,
        "--kinds",
        "research,models",
        "--schedule",
        "weekly",
        "--timezone",
        "Asia/Tokyo",
        "--form",
        "compact",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert f"subscribed discord:{first}: research, models;" in added.stdout
    assert re.search(r"next post: Mon .* 09:00 JST", added.stdout)

    listing = bot("--config", str(config), "channels", "list", env=env).stdout
    assert f"discord:{first}  its subscription (research, models;" in listing
    assert f"discord:{second}  digests" in listing

    shown = bot("--config", str(config), "status", env=env).stdout
    assert "subscriptions (1; other channels get the default digest):" in shown
    assert f"discord:{first} (cli): research, models;" in shown
    assert not [line for line in too_wide(shown) if not line.startswith("database: ")]

    wrong = bot(*add, "--kinds", "gossip", env=env)
    assert wrong.returncode == 2 and "unknown kind gossip: use " in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    bad_zone = bot(*add, "--timezone", "Mars/Base", env=env)
    assert bad_zone.returncode == 2 and "timezone" in bad_zone.stderr

    removed = bot("--config", str(config), "channels", "remove", f"discord:{first}", env=env)
    assert removed.returncode == 0 and "removed the subscription" in removed.stdout
    again = bot("--config", str(config), "channels", "remove", f"discord:{first}", env=env)
    assert again.returncode == 2 and "has no subscription" in again.stderr
    assert "subscriptions: none" in bot("--config", str(config), "status", env=env).stdout


def test_run_counts_every_polled_feed_and_names_its_jobs(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    rss = "<rss version='2.0'><channel><title>t</title></channel></rss>"
    feeds = [("One", feed_server.serve("/1.xml", rss)), ("Two", feed_server.serve("/2.xml", rss))]
    config = write_config(tmp_path / "c.toml", feeds, tmp_path / "bot.db")
    opml = tmp_path / "more.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        '<outline type="rss" text="Three" xmlUrl="https://example.com/3.xml"/>'
        '<outline type="rss" text="Four" xmlUrl="https://example.com/4.xml"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    imported = bot("--config", str(config), "feeds", "import", str(opml))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("2 feeds added")
    run = ["--config", str(config), "--log-level", "INFO", "run"]
    env = {"COLUMNS": str(WIDTH)}
    with BotProcess(
        run, log=tmp_path / "run.out", stderr_log=tmp_path / "run.err", env=env
    ) as bot_run:
        output = bot_run.wait_for('Added job "retry deliveries"', stderr=True)
        seen = output.splitlines()
        start = next(index for index, line in enumerate(seen) if line.startswith("meta-ai-digest:"))
        banner = seen[start : start + 2]
        assert banner[0].startswith("meta-ai-digest: 4 feeds, polled every 30 minutes, posting")
        assert re.match(r"digests next at \w{3} \d{4}-\d\d-\d\d 09:00 UTC\. Ctrl-C", banner[1])
        assert all(len(line.rstrip()) <= WIDTH for line in banner)
        for name in ("poll feeds", "post digest", "prune old rows", "retry deliveries"):
            assert f'Added job "{name}"' in output
        assert "BotJobs.run" not in output
        assert bot_run.stop(signal.SIGTERM, timeout=10)[0] == 0
