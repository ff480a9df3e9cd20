"""Configuration: defaults, merging a user's file, and errors that name the key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import ConfigError, load_settings, read_toml
from bot.defaults import ShippedSettings, shipped_text


def test_shipped_defaults_are_valid_and_hold_the_meta_feeds() -> None:
    settings = load_settings(None, env={})
    urls = {feed.url for feed in settings.feeds}
    assert "https://about.fb.com/news/feed/" in urls
    assert "https://engineering.fb.com/feed/" in urls
    assert "https://github.com/meta-llama/llama-models/releases.atom" in urls
    assert any(url.startswith("https://news.google.com/rss/search?q=") for url in urls)
    assert any(url.startswith("https://hnrss.org/") and "points=" in url for url in urls)
    assert not any("ai.meta.com" in url for url in urls)
    assert len({feed.name for feed in settings.feeds}) == len(settings.feeds)


def test_shipped_file_holds_no_secret_values() -> None:
    text = shipped_text()
    for marker in ("xoxb-", "xapp-", "hooks.slack.com/services/", "discord.com/api/webhooks/"):
        assert marker not in text


def test_a_feeds_only_user_file_replaces_feeds_and_keeps_every_other_default(
    tmp_path: Path,
) -> None:
    user = tmp_path / "feeds.toml"
    user.write_text('[[feeds]]\nname = "Mine"\nurl = "https://example.org/feed.xml"\n')
    settings = load_settings(user, env={})
    defaults = load_settings(None, env={})
    assert [(f.name, f.url) for f in settings.feeds] == [("Mine", "https://example.org/feed.xml")]
    assert settings.schedule == defaults.schedule
    assert settings.topic == defaults.topic
    assert settings.digest == defaults.digest


def test_extra_feeds_add_to_the_shipped_feeds(tmp_path: Path) -> None:
    user = tmp_path / "extra.toml"
    user.write_text('[[extra_feeds]]\nname = "Mine"\nurl = "https://example.org/feed.xml"\n')
    settings = load_settings(user, env={})
    shipped = load_settings(None, env={}).configured_feeds()
    assert settings.configured_feeds() == [*shipped, settings.extra_feeds[0]]
    assert settings.extra_feeds[0].name == "Mine"


def test_tables_merge_key_by_key(tmp_path: Path) -> None:
    user = tmp_path / "c.toml"
    user.write_text('[schedule]\ntimezone = "Europe/Paris"\n')
    settings = load_settings(user, env={})
    assert settings.schedule.timezone == "Europe/Paris"
    assert settings.schedule.digest_cron == load_settings(None, env={}).schedule.digest_cron


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    user = tmp_path / "c.toml"
    user.write_text("[digest]\nmax_stories = 3\n")
    assert load_settings(None, env={"META_AI_DIGEST_CONFIG": str(user)}).digest.max_stories == 3


def test_database_url_environment_wins(tmp_path: Path) -> None:
    settings = load_settings(None, env={})
    assert settings.database_url({"DATABASE_URL": "sqlite:///x.db"}) == "sqlite:///x.db"
    assert settings.database_url({}) == "sqlite:///{data_dir}/meta-ai-digest.db".replace(
        "{data_dir}", str(Path(os.environ["XDG_DATA_HOME"]) / "meta-ai-digest")
    )


def test_the_default_database_is_in_the_user_data_directory_wherever_the_bot_starts(
    tmp_path: Path,
) -> None:
    """Not data/ under the working directory: `latest` run from another directory found no
    database, and `poll` there started a second one."""
    from tests.harness import run_bot

    data_home, elsewhere = tmp_path / "xdg", tmp_path / "somewhere"
    elsewhere.mkdir()
    env = {"XDG_DATA_HOME": str(data_home)}  # and no META_AI_DIGEST_CONFIG (clean_env)
    database = data_home / "meta-ai-digest" / "meta-ai-digest.db"
    for cwd in (tmp_path, elsewhere):
        result = run_bot(["migrate"], env=env, cwd=cwd, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"sqlite:///{database}: schema" in result.stdout
    assert database.is_file()
    assert list(elsewhere.iterdir()) == []
    status = run_bot(["status"], env=env, cwd=elsewhere, timeout=60)
    assert f"database: sqlite:///{database}" in status.stdout


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[[feeds]]\nname = "x"\nurl = "ftp://example.org/feed"\n', "feeds.0.url"),
        ('[[feeds]]\nname = "x"\nurl = "https://"\n', "feeds.0.url: has no host"),
        (
            '[[feeds]]\nname = "x"\nurl = "https://exa mple.com/feed"\n',
            "feeds.0.url: contains a space",
        ),
        ('[[extra_feeds]]\nname = "x"\nurl = "https://exa..mple.com/"\n', "extra_feeds.0.url"),
        ('[[extra_feeds]]\nname = "Meta Newsroom"\nurl = "https://a.example/"\n', "used twice"),
        (
            '[topic]\nphrases = [{ name = "unclosed", regex = "(llama", weight = 1.0 }]\n',
            "topic.phrases.0: the rule 'unclosed' has an invalid RE2 pattern (missing ):",
        ),
        ('[[feeds]]\nname = "x"\n', "feeds.0.url"),
        ('[schedule]\ndigest_cron = "every day"\n', "digest_cron"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "timezone"),
        ("[digest]\nmax_storys = 3\n", "digest.max_storys"),
        # Settings of the removed MinHash variant: refused like any other typo, not ignored.
        ("[stories]\ntitle_lsh = true\n", "stories.title_lsh: unknown key"),
        ("[stories]\nnum_perm = 64\n", "stories.num_perm: unknown key"),
        ("[fetch]\nmax_body_bytes = -1\n", "fetch.max_body_bytes"),
        (
            '[[feeds]]\nname = "a"\nurl = "https://a/"\n[[feeds]]\nname = "a"\nurl = "https://b/"\n',
            "used twice",
        ),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    user = tmp_path / "bad.toml"
    user.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(user, env={})
    assert expected in str(error.value)
    assert str(user) in str(error.value)


def test_broken_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[schedule\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml", env={})


def test_cli_exits_non_zero_with_the_problem_on_a_bad_config(tmp_path: Path) -> None:
    user = tmp_path / "bad.toml"
    user.write_text("[fetch]\nconcurrency = 0\n")
    result = CliRunner().invoke(app, ["--config", str(user), "poll"])
    assert result.exit_code == 2
    assert "fetch.concurrency" in result.output


def shipped_settings_classes() -> list[type[ShippedSettings]]:
    """Every settings model that reads a table of bot/default.toml, found by walking subclasses."""
    import bot.config  # noqa: F401  (imports every stage's settings)

    found: list[type[ShippedSettings]] = []
    pending = list(ShippedSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.shipped_table is not None:
            found.append(cls)
    return found


def test_the_shipped_toml_is_the_one_source_of_defaults() -> None:
    """No settings model writes a default of its own (None, meaning unset, aside)."""
    classes = shipped_settings_classes()
    assert {cls.__name__ for cls in classes} >= {
        "Settings",
        "FetchSettings",
        "DigestSettings",
        "DatabaseSettings",
        "ScheduleSettings",
        "TopicSettings",
        "ClusterSettings",
        "SummarizeSettings",
        "ScoreWeights",
    }
    for cls in classes:
        for name, field in cls.model_fields.items():
            if field.is_required():
                continue
            assert field.default is None, f"{cls.__name__}.{name} has a code default"


def test_the_aggregator_hosts_of_code_are_the_shipped_ones() -> None:
    """bot.common.hosts.AGGREGATOR_HOSTS serves callers that take no settings."""
    from bot.common.hosts import AGGREGATOR_HOSTS

    shipped = tomllib.loads(shipped_text())["stories"]["aggregator_hosts"]
    assert list(AGGREGATOR_HOSTS) == shipped


def test_a_model_built_in_code_takes_the_shipped_values() -> None:
    from bot.stories.settings import ClusterSettings

    shipped = tomllib.loads(shipped_text())["stories"]
    built = ClusterSettings(content_threshold=0.5)
    assert built.content_threshold == 0.5
    assert built.window_hours == shipped["window_hours"]


def test_the_default_config_ships_inside_the_package() -> None:
    from importlib import resources

    assert resources.files("bot").joinpath("default.toml").is_file()
