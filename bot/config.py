"""Configuration: the shipped TOML merged with the user's, validated by pydantic.

Configuration is data. ``config/default.toml`` holds every default; a user file
is merged over it (tables key by key, lists replaced whole), so a user file
holding nothing but ``[[feeds]]`` tables replaces the feed list and keeps every
other default. Secrets never live here: adapters read them from the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.common.validation import describe_validation_error
from bot.stories.settings import ClusterSettings
from bot.summarize.settings import SummarizeSettings
from bot.topic.settings import TopicSettings

CONFIG_ENV_VAR = "META_AI_DIGEST_CONFIG"
DATABASE_ENV_VAR = "DATABASE_URL"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "default.toml"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, key and problem."""


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a config file must not pass silently."""

    model_config = ConfigDict(extra="forbid")


class FeedConfig(StrictModel):
    """One feed to poll."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    # "rules": the topic rules decide; "all": every item is on topic (meta-llama releases).
    topic: Literal["rules", "all"] = "rules"
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "file://")):
            raise ValueError("must start with http://, https:// or file://")
        return url


class ScheduleSettings(StrictModel):
    """When the long-running bot polls and posts."""

    poll_interval_minutes: float = Field(default=30, gt=0)
    digest_cron: str = "0 9 * * *"
    # When set, a digest is posted every N minutes instead of on digest_cron.
    digest_interval_minutes: float | None = Field(default=None, gt=0)
    timezone: str = "UTC"

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
            CronTrigger.from_crontab(self.digest_cron, timezone=self.timezone)
        except ValueError as error:
            raise ValueError(
                f"digest_cron {self.digest_cron!r} is not a valid cron expression: {error}"
            ) from error
        return self


class FetchSettings(StrictModel):
    """Limits and politeness for every HTTP request the bot makes."""

    user_agent: str = "meta-ai-digest/0.1 (feed reader)"
    connect_timeout_seconds: float = Field(default=10, gt=0)
    read_timeout_seconds: float = Field(default=20, gt=0)
    total_timeout_seconds: float = Field(default=45, gt=0)
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    concurrency: int = Field(default=16, ge=1)
    per_host_concurrency: int = Field(default=2, ge=1)
    backoff_base_minutes: float = Field(default=5, gt=0)
    backoff_max_minutes: float = Field(default=1440, gt=0)
    disable_after_failures: int = Field(default=10, ge=1)
    backfill_hours: float = Field(default=24, ge=0)
    # Longest wait a feed's own Retry-After, Cache-Control max-age or <ttl> may impose.
    max_publisher_interval_minutes: float = Field(default=1440, gt=0)
    allowed_private_hosts: list[str] = Field(default_factory=list)


class DigestSettings(StrictModel):
    """How many stories a digest and a /meta-ai answer hold."""

    max_stories: int = Field(default=10, ge=1)
    latest_hours: float = Field(default=24, gt=0)
    latest_max_stories: int = Field(default=5, ge=1)
    show_new_sources: bool = True


class DatabaseSettings(StrictModel):
    """Where everything is stored; DATABASE_URL overrides ``url``."""

    url: str = "sqlite:///data/meta-ai-digest.db"


class AdapterSettings(BaseModel):
    """``enabled`` plus one free-form table per adapter, validated by that adapter."""

    model_config = ConfigDict(extra="allow")

    enabled: list[str] = Field(default_factory=list)

    def options_for(self, name: str) -> dict[str, Any]:
        """The ``[adapters.<name>]`` table, or an empty one."""
        extra = self.model_extra or {}
        table = extra.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[adapters.{name}] must be a table, not {type(table).__name__}")
        return dict(table)


class Settings(StrictModel):
    """The whole configuration."""

    feeds: list[FeedConfig] = Field(default_factory=list)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    adapters: AdapterSettings = Field(default_factory=AdapterSettings)
    topic: TopicSettings = Field(default_factory=TopicSettings)
    stories: ClusterSettings = Field(default_factory=ClusterSettings)
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings)

    @model_validator(mode="after")
    def _unique_feed_names(self) -> Settings:
        seen: set[str] = set()
        for feed in self.feeds:
            if feed.name in seen:
                raise ValueError(f"feed name {feed.name!r} is used twice; names must be unique")
            seen.add(feed.name)
        return self

    def database_url(self, env: Mapping[str, str] | None = None) -> str:
        """DATABASE_URL from the environment wins over the config file."""
        environment = os.environ if env is None else env
        return environment.get(DATABASE_ENV_VAR) or self.database.url


def merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge TOML tables: nested tables merge, everything else (lists too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_tables(current, value)
        else:
            merged[key] = value
    return merged


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
    data = read_toml(DEFAULT_CONFIG_PATH)
    user_path = resolve_config_path(path, env)
    source = str(DEFAULT_CONFIG_PATH)
    if user_path is not None:
        data = merge_tables(data, read_toml(user_path))
        source = str(user_path)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from error
