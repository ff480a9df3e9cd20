"""``channels list|test`` (issue 23): an admin checks a channel's set-up now, through the
installed command, against the fake Slack Web API on 127.0.0.1 (the real slack-sdk client)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.store.database import create_database_engine
from bot.store.schema import OutboxMessage
from tests.fakes.slack_api import DIGEST_CHANNEL, FakeSlack, slack_error
from tests.harness import run_bot_async
from tests.helpers import write_config


async def bot(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The installed command, without any chat platform of the developer's environment."""
    done = await run_bot_async(args, env={"COLUMNS": "80", **env}, timeout=60)
    return done.returncode, done.stdout, done.stderr


def slack_config(tmp_path: Path) -> tuple[Path, Path]:
    database = tmp_path / "bot.db"
    config = write_config(tmp_path / "c.toml", [], database, '[adapters]\nenabled = ["slack"]\n')
    return config, database


def outbox_rows(database: Path) -> int:
    engine = create_database_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
    finally:
        engine.dispose()


async def test_channels_lists_and_tests_a_slack_channel_with_the_platforms_answer(
    tmp_path: Path,
) -> None:
    config, _database = slack_config(tmp_path)
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        code, listing, _ = await bot("--config", str(config), "channels", "list", env=env)
        assert code == 0
        assert f"slack:{DIGEST_CHANNEL}  digests" in listing

        code, _, errors = await bot("--config", str(config), "channels", "test", env=env)
        assert code == 0, errors
        [posted] = slack.bodies("chat.postMessage")
        assert posted["channel"] == DIGEST_CHANNEL
        assert "test post" in posted["text"]  # no story yet: the sample entry
        assert f"ok slack:{DIGEST_CHANNEL}: posted" in errors


async def test_a_refused_test_post_exits_1_with_the_reason_and_never_posts_later(
    tmp_path: Path,
) -> None:
    config, database = slack_config(tmp_path)
    async with FakeSlack() as slack:
        env = slack.http_mode_env()
        slack.script("chat.postMessage", slack_error("not_in_channel"))
        code, _, errors = await bot(
            "--config", str(config), "channels", "test", f"slack:{DIGEST_CHANNEL}", env=env
        )
        assert code == 1
        [line] = [line for line in errors.splitlines() if line.startswith("FAILED")]
        assert DIGEST_CHANNEL in line and "not_in_channel" in line
        # Withdrawn: a later delivery pass (here `digest`) has nothing of the test to send.
        assert outbox_rows(database) == 0
        code, _, _ = await bot("--config", str(config), "digest", env=env)
        assert code == 0
        assert len(slack.bodies("chat.postMessage")) == 1  # the refused one only


async def test_an_unknown_channel_is_a_usage_error_naming_the_channels(tmp_path: Path) -> None:
    config, _database = slack_config(tmp_path)
    async with FakeSlack() as slack:
        code, _, errors = await bot(
            "--config", str(config), "channels", "test", "discord", env=slack.http_mode_env()
        )
    assert code == 2
    assert f"no channel 'discord'; the channels are: slack:{DIGEST_CHANNEL}" in errors
