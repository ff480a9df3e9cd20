"""Settings of the store: the ``[database]`` table (DATABASE_URL overrides ``url``)."""

from __future__ import annotations

from pydantic import Field

from bot.defaults import ShippedSettings

# Stories gain sources for up to a week ("+N more sources"); a shorter retention would
# forget posted stories that can still grow, and post their later coverage as new.
MIN_KEEP_DAYS = 7


class DatabaseSettings(ShippedSettings):
    """Where everything is stored and for how long; DATABASE_URL overrides ``url``."""

    shipped_table = ("database",)

    url: str
    #: Items, posted stories, digests and sent messages older than this are deleted daily.
    keep_days: float = Field(ge=MIN_KEEP_DAYS)
