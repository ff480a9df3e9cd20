"""Slack settings: non-secret options from ``[adapters.slack]``, secrets from the environment.

The connection mode follows from which secrets are present, so a team never
names it: an app-level token means Socket Mode, a signing secret means HTTP
mode, a webhook URL alone means digests only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bot.adapters.base import validation_problems

WEBHOOK_DESTINATION = "webhook"
#: Where Slack's incoming webhooks live.
WEBHOOK_HOST = "hooks.slack.com"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def _channel_id(value: str) -> str:
    value = value.strip()
    if not _CHANNEL_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Slack channel ID: use the ID (like C0123456789) shown "
            "at the bottom of the channel's details, not the channel name"
        )
    return value


ChannelId = Annotated[str, AfterValidator(_channel_id)]
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _user_id(value: str) -> str:
    value = value.strip()
    if not _USER_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Slack user ID: use the member ID (like U0123456789) from "
            "the person's profile (More > Copy member ID), not their name"
        )
    return value


UserId = Annotated[str, AfterValidator(_user_id)]


class SlackOptions(BaseModel):
    """The ``[adapters.slack]`` table. Never secrets: those come from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Digest channels (IDs). SLACK_CHANNEL_ID, when set, replaces this list.
    channels: list[ChannelId] = Field(default_factory=list)
    #: Channel for operational notices (a feed was disabled, added, removed); none by default.
    admin_channel: ChannelId | None = None
    #: Who may /meta-ai add and remove besides the workspace's admins and owners.
    admin_users: list[UserId] = Field(default_factory=list)
    #: HTTP mode: where Bolt listens (SLACK_HTTP_HOST / SLACK_HTTP_PORT override).
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=3000, ge=0, le=65535)
    #: Pacing: Slack allows about one message per second per channel.
    min_seconds_between_messages: float = Field(default=1.0, ge=0, le=60)
    #: Retries inside one send (429 with a short Retry-After, 500/503, dropped connections)
    #: before the error goes back to the outbox, which retries on its own schedule.
    max_retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=0.5, gt=0, le=60)
    #: A 429 asking to wait longer than this is handed back to the outbox at once.
    max_retry_after_seconds: float = Field(default=30.0, ge=0, le=3600)
    request_timeout_seconds: int = Field(default=30, ge=1, le=300)
    #: Longest wait for the database while answering /meta-ai (response_url lives 30 min).
    command_timeout_seconds: float = Field(default=20.0, gt=0, le=1500)


class ConnectionMode(StrEnum):
    SOCKET = "socket"
    HTTP = "http"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class SlackSettings:
    """Everything the adapter needs; secret fields stay out of ``repr``."""

    mode: ConnectionMode
    options: SlackOptions
    channels: tuple[str, ...]
    http_host: str
    http_port: int
    api_url: str | None = None
    bot_token: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    webhook_url: str | None = field(default=None, repr=False)


def parse_options(options: Mapping[str, Any]) -> SlackOptions:
    """Validate ``[adapters.slack]``; a ValueError names every bad key."""
    try:
        return SlackOptions.model_validate(dict(options))
    except ValidationError as error:
        problems = "; ".join(validation_problems(error, whole="table", model=SlackOptions))
        raise ValueError(f"[adapters.slack] in the config file: {problems}") from None


def load_settings(env: Mapping[str, str], options: Mapping[str, Any]) -> SlackSettings | None:
    """Settings from the environment and config, None when Slack is not configured."""
    parsed = parse_options(options)
    secrets = {name: env.get(name, "").strip() for name in _SECRET_NAMES}
    bot_token, webhook_url = secrets["SLACK_BOT_TOKEN"], secrets["SLACK_WEBHOOK_URL"]
    if not bot_token and not webhook_url:
        return None
    if bot_token and webhook_url:
        raise ValueError(
            "Slack: both SLACK_BOT_TOKEN and SLACK_WEBHOOK_URL are set; set SLACK_BOT_TOKEN "
            "for a bot (digests and /meta-ai) or SLACK_WEBHOOK_URL for digests only, not both"
        )
    api_url = _api_url(env.get("SLACK_API_URL", "").strip())
    host, port = _http_address(env, parsed)
    if webhook_url:
        check_webhook_url(webhook_url, api_url)
        return SlackSettings(
            mode=ConnectionMode.WEBHOOK,
            options=parsed,
            channels=(WEBHOOK_DESTINATION,),
            http_host=host,
            http_port=port,
            api_url=api_url,
            webhook_url=webhook_url,
        )
    return _bot_settings(secrets, env, parsed, api_url, host, port)


_SECRET_NAMES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_WEBHOOK_URL")


def _bot_settings(
    secrets: Mapping[str, str],
    env: Mapping[str, str],
    options: SlackOptions,
    api_url: str | None,
    host: str,
    port: int,
) -> SlackSettings:
    bot_token = secrets["SLACK_BOT_TOKEN"]
    app_token, signing_secret = secrets["SLACK_APP_TOKEN"], secrets["SLACK_SIGNING_SECRET"]
    if not bot_token.startswith("xoxb-"):
        raise ValueError(
            "Slack: SLACK_BOT_TOKEN is not a bot token (it starts with xoxb-); copy the "
            "Bot User OAuth Token from the app's OAuth & Permissions page"
        )
    if app_token:
        if not app_token.startswith("xapp-"):
            raise ValueError(
                "Slack: SLACK_APP_TOKEN is not an app-level token (it starts with xapp-); "
                "create one under Basic Information > App-Level Tokens with connections:write"
            )
        mode = ConnectionMode.SOCKET
    elif signing_secret:
        mode = ConnectionMode.HTTP
    else:
        raise ValueError(
            "Slack: SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode, no public "
            "URL needed) nor SLACK_SIGNING_SECRET (HTTP mode); set one of them"
        )
    channels = _channels(env, options)
    return SlackSettings(
        mode=mode,
        options=options,
        channels=channels,
        http_host=host,
        http_port=port,
        api_url=api_url,
        bot_token=bot_token,
        app_token=app_token or None,
        signing_secret=signing_secret or None,
    )


def _channels(env: Mapping[str, str], options: SlackOptions) -> tuple[str, ...]:
    raw = env.get("SLACK_CHANNEL_ID", "").strip()
    if raw:
        try:
            channels = [_channel_id(part) for part in raw.split(",") if part.strip()]
        except ValueError as error:
            raise ValueError(f"Slack: SLACK_CHANNEL_ID: {error}") from None
    else:
        channels = list(options.channels)
    if not channels:
        raise ValueError(
            "Slack: no digest channel; set SLACK_CHANNEL_ID (comma-separated channel IDs) "
            'or channels = ["C0123456789"] under [adapters.slack] in the config file'
        )
    return tuple(dict.fromkeys(channels))


def _http_address(env: Mapping[str, str], options: SlackOptions) -> tuple[str, int]:
    host = env.get("SLACK_HTTP_HOST", "").strip() or options.http_host
    raw_port = env.get("SLACK_HTTP_PORT", "").strip()
    if not raw_port:
        return host, options.http_port
    if not raw_port.isdigit() or int(raw_port) > 65535:
        raise ValueError(
            f"Slack: SLACK_HTTP_PORT must be a port number (0-65535), not {raw_port!r}"
        )
    return host, int(raw_port)


def _api_url(value: str) -> str | None:
    if not value:
        return None
    _check_http_url(value, "SLACK_API_URL")
    return value if value.endswith("/") else value + "/"


def check_webhook_url(url: str, api_url: str | None = None) -> None:
    """An incoming webhook URL: https://hooks.slack.com/services/..., or a URL on the
    SLACK_API_URL host (a proxy, the tests). The error never repeats the URL (a secret)."""
    expected = f"expected https://{WEBHOOK_HOST}/services/T.../B.../... from the app's page"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"Slack: SLACK_WEBHOOK_URL is not a URL ({expected})") from None
    allowed: set[tuple[str, str, int | None]] = {("https", WEBHOOK_HOST, None)}
    if api_url:
        base = urlsplit(api_url)
        allowed.add((base.scheme, base.hostname or "", base.port))
    if (parts.scheme, parts.hostname or "", port) not in allowed:
        raise ValueError(
            f"Slack: SLACK_WEBHOOK_URL does not point to Slack ({expected}; "
            "another host only when SLACK_API_URL names it)"
        )
    if not parts.path.startswith("/services/") or parts.query or parts.fragment:
        raise ValueError(f"Slack: SLACK_WEBHOOK_URL is not an incoming webhook URL ({expected})")


def _check_http_url(value: str, name: str) -> None:
    """Reject a malformed URL without echoing it (a webhook URL is a secret)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"Slack: {name} must be an http(s) URL")
