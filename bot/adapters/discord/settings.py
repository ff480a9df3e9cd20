"""Discord configuration: secrets from the environment, options from ``[adapters.discord]``.

The two are merged into one immutable :class:`DiscordSettings` whose ``repr``
never shows a secret, so it can be logged safely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.adapters.base import validation_problems

TOKEN_ENV = "DISCORD_TOKEN"
WEBHOOK_ENV = "DISCORD_WEBHOOK_URL"
CHANNELS_ENV = "DISCORD_CHANNEL_ID"
GUILD_ENV = "DISCORD_GUILD_ID"
API_BASE_ENV = "DISCORD_API_BASE"

#: The fixed destination name for the webhook in the outbox.
WEBHOOK_DESTINATION = "webhook"

DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)
_SNOWFLAKE = re.compile(r"\d{1,20}")
_WEBHOOK_PATH = re.compile(r"/webhooks/(?P<id>\d{15,21})/(?P<token>[A-Za-z0-9._-]{20,})/?$")


def _snowflake(value: object) -> str:
    """A Discord id (snowflake) as a digit string; TOML may give it as an integer."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not _SNOWFLAKE.fullmatch(text) or int(text) == 0:
        raise ValueError(f"{value!r} is not a Discord id (a number such as 123456789012345678)")
    return text


Snowflake = Annotated[str, BeforeValidator(_snowflake)]


class DiscordOptions(BaseModel):
    """The ``[adapters.discord]`` table of the config file. Never secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Channel ids digests are posted to (bot mode). DISCORD_CHANNEL_ID replaces them.
    channels: list[Snowflake] = Field(default_factory=list)
    #: Channel id for operational notices (bot mode).
    admin_channel: Snowflake | None = None
    #: Register /meta-ai in this server only (appears at once). DISCORD_GUILD_ID wins.
    guild_id: Snowflake | None = None
    #: /meta-ai answers taking longer than this are deferred ("thinking...") first.
    #: Discord drops an interaction not answered within 3 seconds.
    defer_after_seconds: float = Field(default=2.0, ge=0.0, le=2.5)


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook's id and token, parsed out of DISCORD_WEBHOOK_URL."""

    id: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class DiscordSettings:
    """Everything the adapter needs, validated. Secrets are hidden from ``repr``."""

    token: str | None = field(default=None, repr=False)
    webhook: WebhookTarget | None = None
    channels: tuple[str, ...] = ()
    admin_channel: str | None = None
    guild_id: int | None = None
    api_base: str | None = None
    defer_after_seconds: float = 2.0

    @property
    def bot_mode(self) -> bool:
        """True when a bot token is set: gateway, /meta-ai and channel posts."""
        return self.token is not None

    def secrets(self) -> list[str]:
        """Strings that must never appear in a log line or an error message."""
        found = [self.token] if self.token else []
        if self.webhook:
            found.append(self.webhook.token)
        return found


def load_settings(env: Mapping[str, str], options: Mapping[str, Any]) -> DiscordSettings | None:
    """Settings from the environment and the config table; None when Discord is not set up.

    Raises ValueError with a message that names the variable or key to fix and
    never repeats a secret.
    """
    token = _bot_token(env.get(TOKEN_ENV, ""))
    webhook_url = env.get(WEBHOOK_ENV, "").strip()
    if token is None and not webhook_url:
        return None
    parsed = parse_options(options)
    api_base = parse_api_base(env.get(API_BASE_ENV, ""))
    webhook = parse_webhook_url(webhook_url, api_base) if webhook_url else None
    channels = _env_channels(env.get(CHANNELS_ENV, "")) or tuple(parsed.channels)
    guild = env.get(GUILD_ENV, "").strip() or parsed.guild_id
    settings = DiscordSettings(
        token=token,
        webhook=webhook,
        channels=tuple(dict.fromkeys(channels)),
        admin_channel=parsed.admin_channel,
        guild_id=int(_env_snowflake(GUILD_ENV, guild)) if guild else None,
        api_base=api_base,
        defer_after_seconds=parsed.defer_after_seconds,
    )
    _check_mode(settings)
    return settings


def parse_webhook_url(url: str, api_base: str | None = None) -> WebhookTarget:
    """The id and token of a webhook URL such as https://discord.com/api/webhooks/ID/TOKEN.

    Accepts Discord's hosts (and the DISCORD_API_BASE host, for REST proxies).
    The error message never contains the URL: its last part is the secret.
    """
    expected = "expected https://discord.com/api/webhooks/<id>/<token>"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError(f"{WEBHOOK_ENV} is not a URL ({expected})") from None
    allowed = {("https", host) for host in DISCORD_HOSTS}
    if api_base:
        base = urlsplit(api_base)
        allowed.add((base.scheme, base.hostname or ""))
    if (parts.scheme, parts.hostname or "") not in allowed:
        raise ValueError(
            f"{WEBHOOK_ENV} does not point to Discord ({expected}; another host only when "
            f"{API_BASE_ENV} names it)"
        )
    match = _WEBHOOK_PATH.search(parts.path)
    if match is None or parts.query or parts.fragment:
        raise ValueError(f"{WEBHOOK_ENV} is not a Discord webhook URL ({expected})")
    return WebhookTarget(id=int(match["id"]), token=match["token"])


def parse_api_base(value: str) -> str | None:
    """DISCORD_API_BASE without its trailing slash, or None when unset."""
    value = value.strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{API_BASE_ENV} must be an http(s) URL such as https://discord.com/api/v10, "
            f"got {value!r}"
        )
    return value


def _bot_token(value: str) -> str | None:
    """The token without surrounding blanks or a pasted "Bot " prefix (discord.py adds it)."""
    value = value.strip()
    if value.lower().startswith("bot "):
        value = value[4:].strip()
    return value or None


def parse_options(options: Mapping[str, Any]) -> DiscordOptions:
    try:
        return DiscordOptions.model_validate(dict(options))
    except ValidationError as error:
        problems = "; ".join(validation_problems(error, whole="(table)", model=DiscordOptions))
        raise ValueError(f"[adapters.discord] is invalid: {problems}") from None


def _env_channels(value: str) -> tuple[str, ...]:
    return tuple(_env_snowflake(CHANNELS_ENV, part) for part in value.split(",") if part.strip())


def _env_snowflake(name: str, value: str) -> str:
    try:
        return _snowflake(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _check_mode(settings: DiscordSettings) -> None:
    if settings.bot_mode and not settings.channels and settings.webhook is None:
        raise ValueError(
            f"Discord bot mode ({TOKEN_ENV}) has no channel to post digests to: set "
            f"{CHANNELS_ENV}=<channel id>[,<channel id>...] or channels = [...] under "
            f"[adapters.discord] (or {WEBHOOK_ENV} to post through a webhook)"
        )
    if not settings.bot_mode and (settings.channels or settings.admin_channel):
        raise ValueError(
            f"Discord channels and admin_channel need bot mode: set {TOKEN_ENV}, or remove "
            f"them and post through {WEBHOOK_ENV} only"
        )
