"""Slack adapter configuration and delivery, against the real slack_sdk and a local fake Slack."""

from __future__ import annotations

import itertools
import logging
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.base import PermanentDeliveryError, TransientDeliveryError
from bot.adapters.registry import discover_adapters
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.commands import SLASH_COMMAND
from bot.adapters.slack.settings import ConnectionMode, SlackOptions, parse_options
from bot.defaults import shipped_text
from bot.digest.model import Digest, DigestStory, Notice
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    DIGEST_CHANNEL,
    OTHER_CHANNEL,
    OUTSIDER_CHANNEL,
    SIGNING_SECRET,
    WEBHOOK_PATH,
    FakeSlack,
    Reply,
    ratelimited,
    slack_error,
)

REPO = Path(__file__).resolve().parents[3]
# Fast retries: the SDK's handlers are tuned through the adapter's own options.
FAST = {"min_seconds_between_messages": 0, "retry_backoff_seconds": 0.01}


def bot_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
        "SLACK_API_URL": fake.api_url,
    }
    env.update(extra)
    return env


def make_adapter(env: dict[str, str], **options: Any) -> SlackAdapter:
    adapter = SlackAdapter.from_environment(env, {**FAST, **options})
    assert adapter is not None
    return adapter


def digest(count: int = 1) -> Digest:
    stories = [
        DigestStory(
            id=f"s{index}",
            title=f"Llama story {index}",
            url=f"https://ai.meta.com/blog/{index}",
            summary=[f"Sentence about story {index}."],
        )
        for index in range(count)
    ]
    return Digest(generated_at=datetime(2025, 1, 31, 9, tzinfo=UTC), stories=stories)


# --- configuration ---------------------------------------------------------------


def test_the_adapter_is_registered_as_a_plug_in() -> None:
    assert discover_adapters()["slack"] is SlackAdapter


def test_the_shipped_config_documents_the_options_with_their_defaults() -> None:
    """The commented-out [adapters.slack] table names real keys with their real defaults."""
    shipped = shipped_text()
    block = shipped[shipped.index("# [adapters.slack]") : shipped.index("# --- slack: end")]
    keys = [line[2:] for line in block.splitlines() if re.match(r"# [a-z_]+ = ", line)]
    documented = tomllib.loads("\n".join(keys))
    documented.pop("admin_channel")  # an example value: unset by default
    assert len(documented) >= 9
    assert parse_options(documented) == SlackOptions()


def test_the_app_manifest_declares_what_the_adapter_serves() -> None:
    manifest = (REPO / "config" / "slack-app-manifest.yaml").read_text()
    assert f"- command: {SLASH_COMMAND}\n" in manifest
    for scope in ("chat:write", "commands", "users:read"):
        assert f"      - {scope}\n" in manifest
    assert "socket_mode_enabled: true" in manifest
    assert "interactivity:\n    is_enabled: true" in manifest


def test_not_configured_without_a_bot_token_or_webhook() -> None:
    assert SlackAdapter.from_environment({}, {"channels": ["C0DIGEST1"]}) is None
    assert SlackAdapter.from_environment({"SLACK_APP_TOKEN": APP_TOKEN}, {}) is None


@pytest.mark.parametrize(
    ("extra", "mode"),
    [
        ({"SLACK_APP_TOKEN": APP_TOKEN}, ConnectionMode.SOCKET),
        (
            {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            ConnectionMode.SOCKET,
        ),
        ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, ConnectionMode.HTTP),
    ],
)
def test_the_mode_follows_from_the_secrets(extra: dict[str, str], mode: ConnectionMode) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_CHANNEL_ID": DIGEST_CHANNEL, **extra}
    adapter = make_adapter(env)
    assert adapter.mode is mode
    assert adapter.destinations() == [DIGEST_CHANNEL]


def test_webhook_mode_has_one_destination_and_no_admin_channel() -> None:
    env = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/secret"}
    adapter = make_adapter(env, admin_channel="C0ADMIN01")
    assert adapter.mode is ConnectionMode.WEBHOOK
    assert adapter.destinations() == ["webhook"]
    assert adapter.admin_destinations() == []


def test_channels_from_the_environment_replace_the_config_list() -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_CHANNEL_ID": f" {DIGEST_CHANNEL} , {OTHER_CHANNEL},{DIGEST_CHANNEL}",
    }
    adapter = make_adapter(env, channels=["C0CONFIG1"], admin_channel="C0ADMIN01")
    assert adapter.destinations() == [DIGEST_CHANNEL, OTHER_CHANNEL]
    assert adapter.admin_destinations() == ["C0ADMIN01"]
    del env["SLACK_CHANNEL_ID"]
    assert make_adapter(env, channels=["C0CONFIG1"]).destinations() == ["C0CONFIG1"]


def test_http_address_comes_from_config_then_environment() -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    adapter = make_adapter({**env, "SLACK_CHANNEL_ID": DIGEST_CHANNEL}, http_port=8080)
    assert (adapter.settings.http_host, adapter.settings.http_port) == ("0.0.0.0", 8080)
    overridden = {**env, "SLACK_CHANNEL_ID": DIGEST_CHANNEL, "SLACK_HTTP_PORT": "9000"}
    overridden["SLACK_HTTP_HOST"] = "127.0.0.1"
    adapter = make_adapter(overridden, http_port=8080)
    assert (adapter.settings.http_host, adapter.settings.http_port) == ("127.0.0.1", 9000)


@pytest.mark.parametrize(
    ("env", "options", "message"),
    [
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, {}, "no digest channel"),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_CHANNEL_ID": DIGEST_CHANNEL},
            {},
            "neither SLACK_APP_TOKEN",
        ),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"},
            {},
            "not both",
        ),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN},
            {"channels": ["#general"]},
            "not a Slack channel ID",
        ),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN},
            {"channel": ["C0DIGEST1"]},
            "channel: unknown key; did you mean `channels`",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user-token-secret", "SLACK_APP_TOKEN": APP_TOKEN},
            {"channels": ["C0DIGEST1"]},
            "not a bot token",
        ),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xoxb-wrong-kind-secret"},
            {"channels": ["C0DIGEST1"]},
            "not an app-level token",
        ),
        ({"SLACK_WEBHOOK_URL": "ftp://hooks.example/secret-path"}, {}, "does not point to Slack"),
        (
            {"SLACK_WEBHOOK_URL": "http://127.0.0.1/services/T0/B0/secret-path"},
            {},
            "does not point to Slack",
        ),
        (
            {"SLACK_WEBHOOK_URL": "http://hooks.slack.com/services/T0/B0/secret-path"},
            {},
            "does not point to Slack",
        ),
        (
            {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/workflows/T0/secret-path"},
            {},
            "not an incoming webhook URL",
        ),
        (
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_HTTP_PORT": "x",
            },
            {"channels": ["C0DIGEST1"]},
            "SLACK_HTTP_PORT",
        ),
    ],
)
def test_bad_configuration_is_a_clear_error_without_secrets(
    env: dict[str, str], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        SlackAdapter.from_environment(env, options)
    for name, value in env.items():
        if name != "SLACK_HTTP_PORT":
            assert value not in str(raised.value)


def test_secrets_stay_out_of_repr() -> None:
    adapter = make_adapter(bot_env(FakeSlack(), SLACK_SIGNING_SECRET=SIGNING_SECRET))
    text = repr(adapter.settings)
    assert BOT_TOKEN not in text and APP_TOKEN not in text and SIGNING_SECRET not in text


# --- delivery through the Web API ----------------------------------------------------


async def test_a_digest_is_posted_message_by_message_in_order(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack))
    payloads = adapter.render(digest(40))
    assert len(payloads) > 1
    ids = [
        await adapter.send(DIGEST_CHANNEL, payload, key=f"k{n}")
        for n, payload in enumerate(payloads)
    ]
    posted = slack.bodies("chat.postMessage")
    assert [body["blocks"] for body in posted] == [payload["blocks"] for payload in payloads]
    assert all(body["channel"] == DIGEST_CHANNEL for body in posted)
    assert all(body["unfurl_links"] is False and body["unfurl_media"] is False for body in posted)
    assert ids == [f"1700000000.{n:06d}" for n in range(1, len(payloads) + 1)]
    call = slack.calls_to("chat.postMessage")[0]
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    await adapter.close()


async def test_a_compact_digest_is_accepted_by_slack_message_by_message(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack))
    compact = digest(300).model_copy(update={"form": "compact"})
    payloads = adapter.render(compact)
    assert len(payloads) > 1
    for n, payload in enumerate(payloads):
        await adapter.send(DIGEST_CHANNEL, payload, key=f"k{n}")
    posted = slack.bodies("chat.postMessage")
    assert [body["blocks"] for body in posted] == [payload["blocks"] for payload in payloads]
    texts = [b["text"]["text"] for body in posted for b in body["blocks"] if b["type"] == "section"]
    assert "\n".join(texts).count("• <https://ai.meta.com/blog/") == 300
    await adapter.close()


async def test_a_notice_goes_to_the_admin_channel(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack), admin_channel=OTHER_CHANNEL)
    notice = Notice(generated_at=datetime.now(UTC), text="Feed <!here> disabled after 10 failures")
    for payload in adapter.render_notice(notice):
        await adapter.send(adapter.admin_destinations()[0], payload, key="n")
    [body] = slack.bodies("chat.postMessage")
    assert body["channel"] == OTHER_CHANNEL
    assert body["blocks"][0]["text"]["text"] == "Feed &lt;!here&gt; disabled after 10 failures"


async def test_a_short_rate_limit_is_absorbed_by_the_sdk_retry(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack))
    slack.script("chat.postMessage", ratelimited(0))
    ts = await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")
    assert ts is not None
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_long_rate_limit_goes_back_to_the_outbox_with_retry_after(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack), max_retry_after_seconds=5)
    slack.script("chat.postMessage", ratelimited(120))
    with pytest.raises(TransientDeliveryError) as raised:
        await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")
    assert raised.value.retry_after == 120
    assert "rate limited" in str(raised.value)
    assert len(slack.calls_to("chat.postMessage")) == 1  # nobody waited two minutes


async def test_server_errors_are_retried_with_backoff_then_reported(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack), max_retries=2)
    slack.script(
        "chat.postMessage", Reply("<html>oops</html>", 500), slack_error("fatal_error", 503)
    )
    assert await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k") is not None
    assert len(slack.calls_to("chat.postMessage")) == 3
    slack.script("chat.postMessage", *[Reply("<html>bad gateway</html>", 502)] * 3)
    with pytest.raises(TransientDeliveryError, match="HTTP 502"):
        await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")


@pytest.mark.parametrize(
    ("channel", "token", "expected"),
    [
        (
            OUTSIDER_CHANNEL,
            BOT_TOKEN,
            f"not_in_channel.*not a member of channel {OUTSIDER_CHANNEL}.*/invite",
        ),
        (
            "C0MISSING",
            BOT_TOKEN,
            "channel_not_found.*channel C0MISSING does not exist.*SLACK_CHANNEL_ID",
        ),
        (DIGEST_CHANNEL, "xoxb-9999-revoked-SeCrEt", "invalid_auth.*rejected SLACK_BOT_TOKEN"),
    ],
)
async def test_permanent_errors_name_the_channel_and_the_fix_but_never_the_token(
    slack: FakeSlack, channel: str, token: str, expected: str
) -> None:
    adapter = make_adapter(bot_env(slack, SLACK_BOT_TOKEN=token))
    with pytest.raises(PermanentDeliveryError, match=expected) as raised:
        await adapter.send(channel, adapter.render(digest())[0], key="k")
    assert token not in str(raised.value)


async def test_missing_scope_names_the_scope(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack))
    slack.script("chat.postMessage", slack_error("missing_scope", needed="chat:write"))
    with pytest.raises(PermanentDeliveryError, match="lacks the scope chat:write"):
        await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")


async def test_an_unreachable_slack_is_transient() -> None:
    async with FakeSlack() as gone:
        address = gone.api_url
    adapter = make_adapter(bot_env(gone, SLACK_API_URL=address), max_retries=0)
    with pytest.raises(TransientDeliveryError, match="Slack unreachable"):
        await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")


async def test_messages_to_one_channel_are_paced(slack: FakeSlack) -> None:
    adapter = make_adapter(bot_env(slack), min_seconds_between_messages=0.2)
    payload = adapter.render(digest())[0]
    for _ in range(3):
        await adapter.send(DIGEST_CHANNEL, payload, key="k")
    times = [call.at for call in slack.calls_to("chat.postMessage")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.18 for gap in gaps), gaps


# --- delivery through an incoming webhook ------------------------------------------------


def webhook_adapter(slack: FakeSlack, **options: Any) -> SlackAdapter:
    return make_adapter(
        {"SLACK_WEBHOOK_URL": slack.webhook_url, "SLACK_API_URL": slack.api_url}, **options
    )


async def test_webhook_posts_the_rendered_message(slack: FakeSlack) -> None:
    adapter = webhook_adapter(slack)
    await adapter.start(commands=None)  # type: ignore[arg-type]  # no commands: nothing starts
    payload = adapter.render(digest())[0]
    assert await adapter.send("webhook", payload, key="k") is None
    compact = adapter.render(digest(3).model_copy(update={"form": "compact"}))[0]
    assert await adapter.send("webhook", compact, key="k2") is None
    assert slack.bodies("webhook") == [payload, compact]
    assert slack.calls_to("auth.test") == []
    await adapter.close()


@pytest.mark.parametrize(
    ("reply", "error", "pattern"),
    [
        (Reply("no_service", 404), PermanentDeliveryError, "revoked.*SLACK_WEBHOOK_URL"),
        (
            Reply("channel_is_archived", 410),
            PermanentDeliveryError,
            "create a new incoming webhook",
        ),
        (Reply("invalid_payload", 400), PermanentDeliveryError, "refused the message"),
        (Reply("rate limited", 429, {"Retry-After": "90"}), TransientDeliveryError, "rate limited"),
        (Reply("oops", 502), TransientDeliveryError, "trouble"),
    ],
)
async def test_webhook_failures_are_classified_without_leaking_the_url(
    slack: FakeSlack, reply: Reply, error: type[Exception], pattern: str
) -> None:
    adapter = webhook_adapter(slack, max_retries=0, max_retry_after_seconds=5)
    slack.script("webhook", reply)
    with pytest.raises(error, match=pattern) as raised:
        await adapter.send("webhook", adapter.render(digest())[0], key="k")
    assert WEBHOOK_PATH not in str(raised.value)
    if isinstance(raised.value, TransientDeliveryError) and reply.status == 429:
        assert raised.value.retry_after == 90


async def test_a_webhook_host_that_is_not_slack_is_named_and_its_html_never_shown(
    slack: FakeSlack,
) -> None:
    """A proxy (the SLACK_API_URL host) answering 501 with an error page: a permanent
    refusal at once, in one short line naming the host and the variable to fix."""
    adapter = webhook_adapter(slack, max_retries=2)
    page = "<html><head><title>501</title></head><body><h1>Not Implemented</h1>" + "x" * 500
    slack.script("webhook", Reply(page, 501))
    with pytest.raises(PermanentDeliveryError) as raised:
        await adapter.send("webhook", adapter.render(digest())[0], key="k")
    message = str(raised.value)
    assert "127.0.0.1" in message and "501 (Not Implemented)" in message
    assert "SLACK_WEBHOOK_URL" in message
    assert "<" not in message and "Slack" not in message.replace("SLACK_", "")
    assert len(message) < 200 and "\n" not in message
    assert len(slack.calls_to("webhook")) == 1  # not retried: waiting cannot fix a 501


def test_a_webhook_url_names_the_fix_without_repeating_the_secret() -> None:
    with pytest.raises(ValueError) as raised:
        SlackAdapter.from_environment(
            {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T0/B0/sEcReTpAtH"}, {}
        )
    message = str(raised.value)
    assert "https://hooks.slack.com/services/" in message and "SLACK_API_URL" in message
    assert "sEcReTpAtH" not in message


async def test_webhook_mode_refuses_channel_destinations(slack: FakeSlack) -> None:
    adapter = webhook_adapter(slack)
    with pytest.raises(PermanentDeliveryError, match="not a destination of the incoming webhook"):
        await adapter.send(DIGEST_CHANNEL, adapter.render(digest())[0], key="k")
    assert slack.calls_to("webhook") == []


async def test_debug_logs_of_the_slack_libraries_never_show_the_webhook_secret(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = webhook_adapter(slack)
    with caplog.at_level(logging.DEBUG):
        await adapter.send("webhook", adapter.render(digest())[0], key="k")
    library_lines = [record for record in caplog.records if record.name.startswith("bot.adapters")]
    assert library_lines, "the SDK should have logged its request at debug level"
    assert all(WEBHOOK_PATH not in record.getMessage() for record in caplog.records)
