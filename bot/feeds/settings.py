"""Settings of the feeds stage: the ``[[feeds]]`` list and the ``[fetch]`` table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.common.hosts import allowed_endpoint
from bot.defaults import ShippedSettings
from bot.feeds.urls import feed_url_problem


class FeedConfig(BaseModel):
    """One feed to poll; ``topic`` and ``enabled`` may be left out of each entry."""

    model_config = ConfigDict(extra="forbid")

    # The limit of feeds.name (bot/store/schema.py): a longer name could not be stored.
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1)
    # "rules": the topic rules decide; "all": every item is on topic (meta-llama releases).
    topic: Literal["rules", "all"] = "rules"
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _usable_url(cls, url: str) -> str:
        problem = feed_url_problem(url)
        if problem is not None:
            raise ValueError(problem)
        return url


class FetchSettings(ShippedSettings):
    """Limits and politeness for every HTTP request the bot makes."""

    shipped_table = ("fetch",)

    user_agent: str
    connect_timeout_seconds: float = Field(gt=0)
    read_timeout_seconds: float = Field(gt=0)
    total_timeout_seconds: float = Field(gt=0)
    max_body_bytes: int = Field(gt=0)
    max_redirects: int = Field(ge=0)
    concurrency: int = Field(ge=1)
    per_host_concurrency: int = Field(ge=1)
    backoff_base_minutes: float = Field(gt=0)
    backoff_max_minutes: float = Field(gt=0)
    disable_after_failures: int = Field(ge=1)
    backfill_hours: float = Field(ge=0)
    # Longest wait a feed's own Retry-After, Cache-Control max-age or <ttl> may impose.
    max_publisher_interval_minutes: float = Field(gt=0)
    # host:port pairs (a bare host: ports 80 and 443 only), see bot.common.hosts.
    allowed_private_hosts: list[str]
    workers: int = Field(ge=0)

    @field_validator("allowed_private_hosts")
    @classmethod
    def _host_port_pairs(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            allowed_endpoint(entry)  # ValueError naming the fix
        return entries
