"""Secrets never reach any output: the real bot runs with DEBUG logging, fake
tokens (from the environment and from a secrets file), chat platforms that
fail before they succeed, and every line it prints is searched for them."""

from __future__ import annotations

import io
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.common.redaction import REDACTED, RedactingFilter, Redactor
from bot.environment import (
    SECRETS_FILE_ENV_VAR,
    CurrentStderrHandler,
    SecretsFileError,
    configure_logging,
    load_environment,
    secret_values,
)
from tests.fakes.discord_api import BOT_TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import CHANNEL_ID
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer
from tests.fakes.slack_api import APP_TOKEN as SLACK_APP_TOKEN
from tests.fakes.slack_api import BOT_TOKEN as SLACK_BOT_TOKEN
from tests.fakes.slack_api import DIGEST_CHANNEL, FakeSlack, Reply
from tests.fakes.webhook_sink import (
    SLACK_WEBHOOK_PATH,
    SlackWebhookSink,
    ThreadedFakeDiscord,
    ThreadedFakeSlack,
)
from tests.harness import BotProcess, clean_env, eventually, run_bot
from tests.helpers import closed_port

# A scenario: the whole bot, often as real processes; `pytest -m "not scenario"` skips it.
pytestmark = pytest.mark.scenario


def forbidden(slack_url: str) -> list[str]:
    """Every form in which a secret could leak."""
    return [
        slack_url,
        SLACK_WEBHOOK_PATH,
        SLACK_WEBHOOK_PATH.rsplit("/", 1)[1],
        DISCORD_TOKEN,
        DISCORD_TOKEN.rsplit(".", 1)[1],  # the signature part alone
    ]


@pytest.fixture
def platforms() -> Iterator[tuple[SlackWebhookSink, ThreadedFakeDiscord, FeedServer]]:
    feeds = FeedServer().start()
    slack = SlackWebhookSink().start()
    discord = ThreadedFakeDiscord().start()
    try:
        yield slack, discord, feeds
    finally:
        discord.stop()
        slack.stop()
        feeds.stop()


def feed(now: datetime) -> str:
    items = "".join(
        f"<item><title>secretstory{index} {word}</title><link>https://s.example/{index}</link>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=index), usegmt=True)}</pubDate></item>"
        for index, word in enumerate(["gannet", "plover", "shrike"])
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}</channel></rss>'
    )


def test_debug_run_prints_no_secret(
    platforms: tuple[SlackWebhookSink, ThreadedFakeDiscord, FeedServer], tmp_path: Path
) -> None:
    slack, discord, feeds = platforms
    # Errors first, so error paths (messages, retries, tracebacks) are exercised too.
    slack.fail_next(500)
    slack.fail_next(429, retry_after=1)
    url = feeds.serve("/s.xml", feed(datetime.now(UTC)))
    database = tmp_path / "bot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "S"\nurl = "{url}"\ntopic = "all"\n'
        f'[database]\nurl = "sqlite:///{database}"\n'
        "[schedule]\npoll_interval_minutes = 0.05\ndigest_interval_minutes = 0.02\n"
        "[adapters.slack]\nmin_seconds_between_messages = 0\nmax_retries = 0\n",
        encoding="utf-8",
    )
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(f"# Discord\nDISCORD_TOKEN='{DISCORD_TOKEN}'\n", encoding="utf-8")
    env = clean_env(
        {
            **slack.env,
            SECRETS_FILE_ENV_VAR: str(secrets_file),
            "DISCORD_CHANNEL_ID": str(CHANNEL_ID),
            "DISCORD_API_BASE": discord.fake.api_base,
        }
    )
    log = tmp_path / "run.log"
    with BotProcess(
        ["--log-level", "DEBUG", "--config", str(config), "run"], log=log, env=env
    ) as bot:
        eventually(
            lambda: len(slack.snapshot()) >= 1 and len(discord.messages()) >= 1,
            timeout=40,
            message=bot.tail,
        )
        code, stopped_after = bot.stop(signal.SIGINT, timeout=15)  # Ctrl-C
    printed = log.read_text(errors="replace")
    assert code == 0 and stopped_after < 10, printed[-3000:]

    status = CliRunner().invoke(
        app, ["--log-level", "DEBUG", "--config", str(config), "status"], env=env
    )
    feeds_list = CliRunner().invoke(
        app, ["--log-level", "DEBUG", "--config", str(config), "feeds", "list"], env=env
    )
    assert status.exit_code == 0 and feeds_list.exit_code == 0

    assert printed.count(" DEBUG ") > 20  # really at DEBUG, with the libraries talking
    assert "[redacted]" in printed  # secrets were in log records, and were masked
    everything = printed + status.output + feeds_list.output
    stored = database.read_bytes() + b"".join(
        path.read_bytes() for path in tmp_path.glob("bot.db-*")
    )
    for secret in forbidden(slack.url):
        assert secret not in everything, f"secret {secret[:6]}... printed"
        assert secret.encode() not in stored, f"secret {secret[:6]}... stored"


def test_redactor_masks_secrets_in_messages_arguments_and_tracebacks() -> None:
    env = {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/abcdefghijklmnopqrstuvwx",
        "DATABASE_URL": "postgresql://bot:pa55w0rd-very-secret@db.example/digest",
        "HOME": "/home/not-a-secret",
    }
    redactor = RedactingFilter(Redactor(secret_values(env)).redact)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "posting to %s", ("/T1",), None)
    try:
        raise RuntimeError("failed POST /services/T1/B1/abcdefghijklmnopqrstuvwx")
    except RuntimeError as error:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "db %s",
            (env["DATABASE_URL"],),
            (
                type(error),
                error,
                error.__traceback__,
            ),
        )
    redactor.filter(record)
    formatted = logging.Formatter().format(record)
    assert "abcdefghijklmnopqrstuvwx" not in formatted
    assert "pa55w0rd-very-secret" not in formatted
    assert formatted.count("[redacted]") >= 2
    assert "/home/not-a-secret" not in secret_values(env)


def test_logging_follows_a_replaced_stderr_and_keeps_one_redacting_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command run inside a test runner (or a daemon that swaps stderr) must
    keep logging after the stderr it started with is closed, and running
    commands again must not stack handlers or drop other ones."""
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not isinstance(h, CurrentStderrHandler)]
    before = list(root.handlers)
    level = root.level
    first, second = io.StringIO(), io.StringIO()
    secret = "xoxb-000000000000-not-a-real-token-abc"
    try:
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging("info", {"SLACK_BOT_TOKEN": secret})
        configure_logging("info", {"SLACK_BOT_TOKEN": secret})
        first.close()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("bot.test").warning("posting with %s", secret)
    finally:
        added = [h for h in root.handlers if h not in before]
        for handler in added:
            root.removeHandler(handler)
        root.setLevel(level)
    assert len(added) == 1
    assert all(h in root.handlers for h in foreign)  # pytest's capture, for one
    assert "posting with [redacted]" in second.getvalue()
    assert secret not in second.getvalue()


def test_secrets_file_fills_in_what_the_environment_lacks(tmp_path: Path) -> None:
    path = tmp_path / "secrets"
    path.write_text('export SLACK_BOT_TOKEN="xoxb-from-file"\nDISCORD_TOKEN=file\n# c\n')
    env = load_environment({SECRETS_FILE_ENV_VAR: str(path), "DISCORD_TOKEN": "from-env"})
    assert env["SLACK_BOT_TOKEN"] == "xoxb-from-file"
    assert env["DISCORD_TOKEN"] == "from-env"  # the environment wins
    path.write_text("this line has no equals sign\n")
    with pytest.raises(SecretsFileError, match="line 1"):
        load_environment({SECRETS_FILE_ENV_VAR: str(path)})


def test_secrets_file_errors_name_the_file_but_never_a_value(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SecretsFileError, match=str(missing)):
        load_environment({SECRETS_FILE_ENV_VAR: str(missing)})
    path = tmp_path / "bad"
    path.write_text("SLACK_BOT_TOKEN=xoxb-value-that-must-not-show\nbroken line\n")
    with pytest.raises(SecretsFileError) as problem:
        load_environment({SECRETS_FILE_ENV_VAR: str(path)})
    assert "xoxb-value-that-must-not-show" not in str(problem.value)


# --- error texts that echo a secret: masked before they are stored or printed -----------


def echoing_slack_config(tmp_path: Path, feed_url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "S"\nurl = "{feed_url}"\ntopic = "all"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
        '[adapters]\nenabled = ["slack"]\n'
        "[adapters.slack]\nmin_seconds_between_messages = 0\nmax_retries = 0\n",
        encoding="utf-8",
    )
    return config


def slack_env(slack: ThreadedFakeSlack) -> dict[str, str]:
    return clean_env() | {
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
        "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
        "SLACK_API_URL": slack.fake.api_url,
    }


def stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(path.read_bytes() for path in tmp_path.glob("bot.db*"))


@pytest.fixture
def threaded_slack() -> Iterator[ThreadedFakeSlack]:
    slack = ThreadedFakeSlack().start()
    try:
        yield slack
    finally:
        slack.stop()


def test_a_slack_rate_limit_echoing_the_token_is_stored_and_shown_redacted(
    threaded_slack: ThreadedFakeSlack, feed_server: FeedServer, tmp_path: Path
) -> None:
    """Slack's 429 answer quotes the token: `digest` stores the error, `status` prints it;
    neither the database nor any command's output holds the token."""
    config = echoing_slack_config(tmp_path, feed_server.serve("/s.xml", feed(datetime.now(UTC))))
    env = slack_env(threaded_slack)
    threaded_slack.script(
        "chat.postMessage",
        Reply(
            {"ok": False, "error": f"ratelimited for token {SLACK_BOT_TOKEN}"},
            429,
            {"Retry-After": "3600"},
        ),
    )
    outputs = []
    for command in (["poll"], ["digest"], ["status"]):
        result = run_bot(["--config", str(config), *command], env=env, inherit=False)
        # `digest` exits 1: Slack did not take the message (it stays pending).
        assert result.returncode == (1 if command == ["digest"] else 0), result.stderr
        outputs.append(result.stdout + result.stderr)
    assert len(threaded_slack.bodies("chat.postMessage")) == 1  # Slack was asked, and refused
    status = outputs[-1]
    assert "deliveries pending: 1" in status
    assert f"ratelimited for token {REDACTED}" in status
    for output in outputs:
        assert SLACK_BOT_TOKEN not in output
    assert SLACK_BOT_TOKEN.encode() not in stored_bytes(tmp_path)


async def test_a_slack_server_error_echoing_the_token_is_stored_redacted(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The same for a 5xx, through the real outbox and Slack adapter in this process."""
    from bot.adapters.registry import select_adapters
    from bot.config import load_settings
    from bot.pipeline import DigestBot
    from bot.store.schema import OutboxMessage

    async with FakeSlack() as slack:
        slack.script(
            "chat.postMessage",
            Reply({"ok": False, "error": f"upstream failed, token={SLACK_BOT_TOKEN}"}, 503),
        )
        config = echoing_slack_config(
            tmp_path, feed_server.serve("/s.xml", feed(datetime.now(UTC)))
        )
        env = {
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
            "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
            "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
            "SLACK_API_URL": slack.api_url,
        }
        settings = load_settings(config, env=env)
        adapters = select_adapters(settings.adapters.enabled, settings.adapters.options_for, env)
        bot = DigestBot.migrated(settings, adapters, env=env)
        try:
            await bot.poll()
            result = await bot.digests.post(max_wait_seconds=0)
            with bot.sessions() as session:
                errors = [row.last_error for row in session.query(OutboxMessage)]
        finally:
            for adapter in adapters:
                await adapter.close()
            bot.close()
    assert result.delivery is not None and result.delivery.waiting == 1
    assert errors and errors[0] is not None and f"token={REDACTED}" in errors[0]
    assert SLACK_BOT_TOKEN.encode() not in stored_bytes(tmp_path)


async def test_every_stored_error_text_passes_the_redactor(
    misbehaving_server: MisbehavingServer, tmp_path: Path
) -> None:
    """Whatever an adapter or a feed server says goes through the store's redactor, not only
    what the built-in adapters mask themselves: a third-party adapter's error and a feed
    server's reason phrase that both quote a secret of the environment."""
    from bot.adapters.base import ChatAdapter, Payload, TransientDeliveryError
    from bot.config import load_settings
    from bot.digest.model import Digest
    from bot.pipeline import DigestBot
    from bot.store.schema import Feed, OutboxMessage

    secret = "sk-live-0123456789abcdefSECRET"

    class Careless(ChatAdapter):
        name = "careless"

        @classmethod
        def from_environment(cls, env: Any, options: Any) -> Careless:
            return cls()

        def destinations(self) -> list[str]:
            return ["somewhere"]

        def render(self, digest: Digest) -> list[Payload]:
            return [{"text": "digest"}]

        async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
            raise TransientDeliveryError(f"refused with key {secret}", retry_after=3600)

    # Every byte percent-encoded, so the feed's URL (stored too) does not spell the secret.
    reason = "".join(f"%{byte:02X}" for byte in f"Bad key {secret}".encode())
    feed_url = misbehaving_server.url(f"/reason/{reason}")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "R"\nurl = "{feed_url}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n',
        encoding="utf-8",
    )
    env = {"PARTNER_API_KEY": secret}
    bot = DigestBot.migrated(load_settings(config, env=env), [Careless()], env=env)
    try:
        await bot.poll()
        with bot.sessions.begin() as session:
            session.add(
                OutboxMessage(
                    adapter="careless",
                    destination="somewhere",
                    sequence=0,
                    payload={"text": "x"},
                    created_at=datetime.now(UTC),
                )
            )
        await bot.outbox.deliver()
        with bot.sessions() as session:
            feed_error = session.query(Feed).one().last_error
            outbox_error = session.query(OutboxMessage).one().last_error
    finally:
        bot.close()
    assert feed_error == f"http-status: HTTP 503 Bad key {REDACTED}"
    assert outbox_error == f"TransientDeliveryError: refused with key {REDACTED}"
    assert secret.encode() not in stored_bytes(tmp_path)


def test_a_database_urls_secret_is_its_password_not_its_name_or_paths_like_it() -> None:
    """The redactor once masked the database name inside unrelated file paths of a traceback
    (``/srv[redacted]/bot/cli.py``): only the password of a database URL is a secret."""
    env = {"DATABASE_URL": "postgresql+psycopg://bot:pw-0123456789@db.internal/meta_ai_digest"}
    trace = (
        'File "/srv/meta_ai_digest/bot/cli.py", line 3, in main\n'
        "connecting to postgresql+psycopg://bot:pw-0123456789@db.internal/meta_ai_digest failed"
    )
    redacted = Redactor(secret_values(env)).redact(trace)
    assert '"/srv/meta_ai_digest/bot/cli.py"' in redacted
    assert "pw-0123456789" not in redacted
    assert "bot:[redacted]@db.internal/meta_ai_digest" in redacted


def test_a_secret_is_masked_where_it_stands_whole_not_inside_a_longer_word() -> None:
    redactor = Redactor(["postgres-pass", "hunter2hunter2"])
    assert redactor.redact("pw=hunter2hunter2; url bot:postgres-pass@db") == (
        "pw=[redacted]; url bot:[redacted]@db"
    )
    assert redactor.redact("/opt/hunter2hunter2x/lib /usr/xpostgres-pass") == (
        "/opt/hunter2hunter2x/lib /usr/xpostgres-pass"
    )
    # A value that starts or ends with punctuation is masked wherever it appears.
    assert Redactor(["/T1/B1/abcdefghij"]).redact("x/T1/B1/abcdefghij") == "x[redacted]"


def test_status_names_the_database_in_use_with_its_password_hidden(tmp_path: Path) -> None:
    password = "pw-0123456789-secret"
    url = f"postgresql+psycopg://bot:{password}@127.0.0.1:{closed_port()}/meta_ai_digest"
    result = run_bot(["status"], env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "database: postgresql+psycopg://bot:***@127.0.0.1:" in result.stdout
    assert "/meta_ai_digest" in result.stdout
    assert password not in result.stdout + result.stderr
