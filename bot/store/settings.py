"""Settings of the store: the ``[database]`` table (DATABASE_URL overrides ``url``)."""

from __future__ import annotations

from bot.defaults import ShippedSettings


class DatabaseSettings(ShippedSettings):
    """Where everything is stored; DATABASE_URL overrides ``url``."""

    shipped_table = ("database",)

    url: str
