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
    # Breaking alerts: a story covered by `alert_sources` outlets within `alert_hours` is
    # posted at once by `run` (after the poll that found it), not at the next digest; at
    # most one alert every `alert_gap_minutes`. Off unless `alerts` is true.
    alerts: bool
    alert_sources: int = Field(ge=2)
    alert_hours: float = Field(gt=0)
    alert_gap_minutes: float = Field(ge=0)
