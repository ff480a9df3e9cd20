"""Configuration, the composition root: every stage's settings in one validated whole.

Configuration is data. The shipped ``bot/default.toml`` (inside the package)
holds every default; a user file is merged over it (tables key by key, lists
replaced whole), so a user file holding nothing but ``[[feeds]]`` tables
replaces the feed list and keeps every other default. Each stage owns its
settings model (``bot/<stage>/settings.py``); this module only composes them,
and only the CLI and the scheduler import it. Secrets never live here:
adapters read them from the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.common.validation import describe_validation_error
from bot.defaults import ShippedSettings, merge_tables, shipped_config
from bot.digest.schedules import crontab_trigger
from bot.digest.settings import DigestSettings
from bot.digest.subscriptions import SubscriptionSpec
from bot.feeds.settings import FeedConfig, FetchSettings
from bot.store.settings import DatabaseSettings, expand_data_dir
from bot.stories.settings import ClusterSettings, KindSettings
from bot.summarize.settings import SummarizeSettings
from bot.topic.settings import TopicSettings

__all__ = [
    "AdapterSettings",
    "ConfigError",
    "FeedConfig",
    "FetchSettings",
    "ScheduleSettings",
    "Settings",
    "crontab_trigger",
    "load_settings",
]

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

CONFIG_ENV_VAR = "META_AI_DIGEST_CONFIG"
DATABASE_ENV_VAR = "DATABASE_URL"
SHIPPED_SOURCE = "the shipped defaults (bot/default.toml)"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, key and problem."""


class ScheduleSettings(ShippedSettings):
    """When the long-running bot polls and posts."""

    shipped_table = ("schedule",)

    poll_interval_minutes: float = Field(gt=0)
    digest_cron: str
    # When set, a digest is posted every N minutes instead of on digest_cron.
    digest_interval_minutes: float | None = Field(default=None, gt=0)
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {zone!r}") from error
        return zone

    @model_validator(mode="after")
    def _valid_cron(self) -> ScheduleSettings:
        try:
            self.digest_cron_trigger()
        except ValueError as error:
            raise ValueError(
                f"digest_cron {self.digest_cron!r} is not a valid cron expression: {error}"
            ) from error
        return self

    def digest_cron_trigger(self) -> BaseTrigger:
        """``digest_cron`` in ``timezone``, read as crontab reads it (0 and 7 are Sunday)."""
        return crontab_trigger(self.digest_cron, self.timezone)


class AdapterSettings(ShippedSettings):
    """``enabled`` plus one free-form table per adapter, validated by that adapter."""

    model_config = ConfigDict(extra="allow")
    shipped_table = ("adapters",)

    enabled: list[str]

    def options_for(self, name: str) -> dict[str, Any]:
        """The ``[adapters.<name>]`` table, or an empty one."""
        extra = self.model_extra or {}
        table = extra.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[adapters.{name}] must be a table, not {type(table).__name__}")
        return dict(table)

    def tables(self) -> dict[str, dict[str, Any]]:
        """Every ``[adapters.<name>]`` table the configuration holds, by name."""
        return {name: self.options_for(name) for name in self.model_extra or {}}


class Settings(ShippedSettings):
    """The whole configuration; ``Settings()`` is the shipped one."""

    shipped_table = ()

    feeds: list[FeedConfig]
    # Added to `feeds`: a user file lists its own feeds here and keeps the shipped ones.
    extra_feeds: list[FeedConfig]
    schedule: ScheduleSettings
    fetch: FetchSettings
    digest: DigestSettings
    database: DatabaseSettings
    adapters: AdapterSettings
    topic: TopicSettings
    stories: ClusterSettings
    kinds: KindSettings
    summarize: SummarizeSettings
    subscriptions: list[SubscriptionSpec]

    @model_validator(mode="after")
    def _subscriptions_valid(self) -> Settings:
        known = self.kinds.names()
        seen: set[str] = set()
        for spec in self.subscriptions:
            problem = spec.kinds_problem(known)
            if problem is not None:
                raise ValueError(f"subscription {spec.channel!r}: {problem}")
            if spec.channel in seen:
                raise ValueError(
                    f"channel {spec.channel!r} has two [[subscriptions]]; one a channel"
                )
            seen.add(spec.channel)
        return self

    @model_validator(mode="after")
    def _retention_covers_the_story_window(self) -> Settings:
        if self.database.keep_days * 24 < self.stories.window_hours:
            raise ValueError(
                f"database.keep_days ({self.database.keep_days:g}) must cover "
                f"stories.window_hours ({self.stories.window_hours:g} hours): articles of a "
                "story that was forgotten would be posted again as a new story"
            )
        return self

    @model_validator(mode="after")
    def _unique_feed_names(self) -> Settings:
        seen: set[str] = set()
        for feed in self.configured_feeds():
            if feed.name in seen:
                raise ValueError(
                    f"feed name {feed.name!r} is used twice in feeds and extra_feeds; "
                    "names must be unique"
                )
            seen.add(feed.name)
        return self

    def configured_feeds(self) -> list[FeedConfig]:
        """The feeds the configuration lists: ``feeds`` then ``extra_feeds``, read anew on
        every call (so a feed appended to either list is polled in the next cycle)."""
        return [*self.feeds, *self.extra_feeds]

    def database_url(self, env: Mapping[str, str] | None = None) -> str:
        """DATABASE_URL from the environment wins over the config file; ``{data_dir}`` in
        either is the platform's user data directory."""
        environment = os.environ if env is None else env
        return expand_data_dir(environment.get(DATABASE_ENV_VAR) or self.database.url)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, turning every failure into a ConfigError naming the file."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error}") from error


def resolve_config_path(
    explicit: str | Path | None, env: Mapping[str, str] | None = None
) -> Path | None:
    """--config wins, then META_AI_DIGEST_CONFIG; None means the shipped defaults alone."""
    environment = os.environ if env is None else env
    chosen = explicit or environment.get(CONFIG_ENV_VAR)
    return Path(chosen) if chosen else None


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """The shipped defaults, merged with the user's file if one is named."""
    data = shipped_config()
    user_path = resolve_config_path(path, env)
    source = SHIPPED_SOURCE
    if user_path is not None:
        data = merge_tables(data, read_toml(user_path))
        source = str(user_path)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source, Settings)) from error
