"""Settings of the digest stage: the ``[digest]`` table."""

from __future__ import annotations

from pydantic import Field

from bot.defaults import ShippedSettings


class DigestSettings(ShippedSettings):
    """How many stories a digest and a /meta-ai answer hold."""

    shipped_table = ("digest",)

    max_stories: int = Field(ge=1)
    latest_hours: float = Field(gt=0)
    latest_max_stories: int = Field(ge=1)
    show_new_sources: bool
