"""Discord configuration: which mode from which variables, and clear errors for bad setups."""

from __future__ import annotations

import pytest

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.settings import load_settings, parse_webhook_url
from bot.adapters.registry import discover_adapters

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GfAkE0.fake-bot-token-for-tests-only_0123456789"
HOOK_TOKEN = "fAkEwEbHoOkToKeN-0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
HOOK_URL = f"https://discord.com/api/webhooks/444444444444444444/{HOOK_TOKEN}"


def test_the_adapter_is_registered_under_the_entry_point_group() -> None:
    assert discover_adapters()["discord"] is DiscordAdapter
    assert DiscordAdapter.name == "discord"
    assert DiscordAdapter.supports_commands is True


def test_nothing_set_means_not_configured_even_with_options() -> None:
    assert DiscordAdapter.from_environment({}, {"channels": ["123456789012345678"]}) is None
    assert DiscordAdapter.from_environment({"DISCORD_TOKEN": "  "}, {}) is None


def test_bot_mode_takes_channels_from_the_environment_over_the_config() -> None:
    env = {
        "DISCORD_TOKEN": "Bot " + TOKEN,
        "DISCORD_CHANNEL_ID": "123456789012345678, 223456789012345678,123456789012345678",
        "DISCORD_GUILD_ID": "987654321098765432",
    }
    options = {"channels": [111111111111111111], "admin_channel": 323456789012345678}

    adapter = DiscordAdapter.from_environment(env, options)

    assert adapter is not None
    assert adapter.settings.token == TOKEN
    assert adapter.destinations() == ["123456789012345678", "223456789012345678"]
    assert adapter.admin_destinations() == ["323456789012345678"]
    assert adapter.settings.guild_id == 987654321098765432


def test_config_channels_integers_or_strings_are_used_without_the_variable() -> None:
    options = {"channels": [123456789012345678, "223456789012345678"], "guild_id": "42"}

    settings = load_settings({"DISCORD_TOKEN": TOKEN}, options)

    assert settings is not None
    assert settings.channels == ("123456789012345678", "223456789012345678")
    assert settings.guild_id == 42


def test_bot_token_without_any_channel_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DISCORD_CHANNEL_ID") as caught:
        DiscordAdapter.from_environment({"DISCORD_TOKEN": TOKEN}, {})

    assert TOKEN not in str(caught.value)


def test_bot_with_a_webhook_posts_digests_through_the_webhook() -> None:
    adapter = DiscordAdapter.from_environment(
        {"DISCORD_TOKEN": TOKEN, "DISCORD_WEBHOOK_URL": HOOK_URL}, {}
    )

    assert adapter is not None
    assert adapter.destinations() == ["webhook"]


def test_webhook_mode_has_one_destination_and_no_bot() -> None:
    adapter = DiscordAdapter.from_environment({"DISCORD_WEBHOOK_URL": HOOK_URL}, {})

    assert adapter is not None
    assert adapter.destinations() == ["webhook"]
    assert adapter.admin_destinations() == []
    assert adapter.settings.bot_mode is False
    assert adapter.settings.webhook is not None
    assert adapter.settings.webhook.id == 444444444444444444
    assert adapter.settings.webhook.token == HOOK_TOKEN


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/api/webhooks/444444444444444444/" + HOOK_TOKEN,
        "https://discord.com/api/channels/444444444444444444/" + HOOK_TOKEN,
        "https://discord.com/api/webhooks/44/" + HOOK_TOKEN,
        "https://discord.com/api/webhooks/444444444444444444/" + HOOK_TOKEN + "?wait=true",
        "ftp://discord.com/api/webhooks/444444444444444444/" + HOOK_TOKEN,
        "discord.com/api/webhooks/444444444444444444/" + HOOK_TOKEN,
    ],
)
def test_a_malformed_webhook_url_is_refused_without_echoing_its_token(url: str) -> None:
    with pytest.raises(ValueError, match="DISCORD_WEBHOOK_URL") as caught:
        DiscordAdapter.from_environment({"DISCORD_WEBHOOK_URL": url}, {})

    assert HOOK_TOKEN not in str(caught.value)


def test_webhook_urls_from_discord_variants_and_from_the_api_base_host_parse() -> None:
    variants = [
        f"https://discordapp.com/api/webhooks/444444444444444444/{HOOK_TOKEN}",
        f"https://canary.discord.com/api/v10/webhooks/444444444444444444/{HOOK_TOKEN}/",
        f"http://127.0.0.1:8080/api/v10/webhooks/444444444444444444/{HOOK_TOKEN}",
    ]

    parsed = [parse_webhook_url(url, "http://127.0.0.1:8080/api/v10") for url in variants]

    assert {(p.id, p.token) for p in parsed} == {(444444444444444444, HOOK_TOKEN)}


def test_channels_in_webhook_only_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="need bot mode"):
        DiscordAdapter.from_environment(
            {"DISCORD_WEBHOOK_URL": HOOK_URL}, {"channels": ["123456789012345678"]}
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"channel": ["1"]}, "channel: unknown key; did you mean `channels`"),
        ({"channels": ["#general"]}, "channels.0"),
        ({"channels": [True]}, "channels.0"),
        ({"defer_after_seconds": 5}, "defer_after_seconds"),
        ({"token": TOKEN}, "token: unknown key; the keys here are `channels`"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], message: str) -> None:
    env = {"DISCORD_TOKEN": TOKEN, "DISCORD_CHANNEL_ID": "123456789012345678"}

    with pytest.raises(ValueError, match=r"\[adapters.discord\]") as caught:
        DiscordAdapter.from_environment(env, options)

    assert message in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISCORD_CHANNEL_ID", "general"),
        ("DISCORD_GUILD_ID", "my-server"),
        ("DISCORD_API_BASE", "discord.com/api/v10"),
    ],
)
def test_bad_environment_values_name_the_variable(name: str, value: str) -> None:
    env = {"DISCORD_TOKEN": TOKEN, "DISCORD_CHANNEL_ID": "123456789012345678", name: value}

    with pytest.raises(ValueError, match=name):
        DiscordAdapter.from_environment(env, {})


def test_settings_repr_hides_the_secrets() -> None:
    settings = load_settings(
        {"DISCORD_TOKEN": TOKEN, "DISCORD_WEBHOOK_URL": HOOK_URL, "DISCORD_CHANNEL_ID": "12"}, {}
    )

    assert settings is not None
    assert TOKEN not in repr(settings)
    assert HOOK_TOKEN not in repr(settings)
    assert "444444444444444444" in repr(settings)
