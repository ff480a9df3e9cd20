"""Settings of the store: the ``[database]`` table (DATABASE_URL overrides ``url``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.defaults import ShippedSettings

# Stories gain sources for up to a week ("+N more sources"); a shorter retention would
# forget posted stories that can still grow, and post their later coverage as new.
MIN_KEEP_DAYS = 7

APP_NAME = "meta-ai-digest"
#: Stands for the platform's user data directory in a database URL (the shipped default).
DATA_DIR = "{data_dir}"


def user_data_dir() -> Path:
    """Where a user's data goes on this platform: ``$XDG_DATA_HOME/meta-ai-digest`` (by
    default ``~/.local/share/meta-ai-digest``) on Linux, ``~/Library/Application
    Support/meta-ai-digest`` on macOS, ``%LOCALAPPDATA%\\meta-ai-digest`` on Windows."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def expand_data_dir(url: str) -> str:
    """``url`` with ``{data_dir}`` replaced by the user data directory."""
    if DATA_DIR not in url:
        return url
    return url.replace(DATA_DIR, user_data_dir().as_posix())


class DatabaseSettings(ShippedSettings):
    """Where everything is stored and for how long; DATABASE_URL overrides ``url``."""

    shipped_table = ("database",)

    url: str
    #: Items, posted stories, digests and sent messages older than this are deleted daily.
    keep_days: float = Field(ge=MIN_KEEP_DAYS)
