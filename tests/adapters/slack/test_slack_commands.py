"""/meta-ai on Slack: real slack-bolt in HTTP mode and Socket Mode against a local fake Slack.

Slash commands arrive as real signed HTTP POSTs (slack_sdk's SignatureVerifier)
or as real Socket Mode envelopes over a WebSocket; answers are read from the
fake's ``response_url`` endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.adapters.base import COMMAND_HELP, PermanentDeliveryError
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.commands import BUSY_TEXT, FAILED_TEXT
from bot.adapters.slack.render import SHARE_ACTION_ID
from bot.digest.model import Digest, DigestStory
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    DIGEST_CHANNEL,
    SIGNING_SECRET,
    TEAM_ID,
    USER_ID,
    FakeSlack,
    signed_headers,
    slack_error,
)
from tests.harness import eventually_async

NOW = datetime(2025, 1, 31, 9, tzinfo=UTC)
EMPTY = "Nothing about Meta AI in the last 24 hours yet."


class Answers:
    """A CommandHandler whose database answers only when the test opens ``gate``."""

    def __init__(self, *, stories: int = 2, gate_open: bool = True, error: bool = False) -> None:
        self.queries: list[str | None] = []
        self.gate = asyncio.Event()
        if gate_open:
            self.gate.set()
        self.stories = stories
        self.error = error

    async def claim(self, key: str) -> bool:
        return True  # one bot: every command is its to answer

    async def latest(self, query: str | None = None) -> Digest:
        self.queries.append(query)
        await self.gate.wait()
        if self.error:
            raise RuntimeError("database is locked")
        stories = [
            DigestStory(
                id=f"s{index}",
                title=f"Llama news {index}",
                url=f"https://ai.meta.com/blog/{index}",
                summary=[f"Meta said something about Llama {index}."],
            )
            for index in range(self.stories)
        ]
        return Digest(
            generated_at=NOW,
            kind="latest",
            stories=stories,
            empty_message=None if stories else EMPTY,
        )


def http_adapter(slack: FakeSlack, **options: Any) -> SlackAdapter:
    env = slack.http_mode_env()
    adapter = SlackAdapter.from_environment(env, options)
    assert adapter is not None
    return adapter


def socket_adapter(slack: FakeSlack, app_token: str = APP_TOKEN, **options: Any) -> SlackAdapter:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": app_token,
        "SLACK_CHANNEL_ID": DIGEST_CHANNEL,
        "SLACK_API_URL": slack.api_url,
    }
    adapter = SlackAdapter.from_environment(env, options)
    assert adapter is not None
    return adapter


def command_fields(slack: FakeSlack, text: str = "", name: str = "cmd") -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-team",
        "channel_id": DIGEST_CHANNEL,
        "channel_name": "meta-ai",
        "user_id": USER_ID,
        "user_name": "ada",
        "command": "/meta-ai",
        "text": text,
        "api_app_id": "A0001",
        "response_url": slack.response_url(name),
        "trigger_id": "1.2.3",
    }


def share_click(slack: FakeSlack, value: str, name: str = "share") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake-team"},
        "user": {"id": USER_ID, "username": "ada", "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "container": {"type": "message", "is_ephemeral": True, "channel_id": DIGEST_CHANNEL},
        "channel": {"id": DIGEST_CHANNEL, "name": "meta-ai"},
        "trigger_id": "1.2.4",
        "response_url": slack.response_url(name),
        "actions": [
            {
                "type": "button",
                "action_id": SHARE_ACTION_ID,
                "block_id": "b1",
                "value": value,
                "action_ts": "1700000000.1",
            }
        ],
    }


async def post_signed(
    adapter: SlackAdapter, body: str, *, secret: str = SIGNING_SECRET, age: int = 0
) -> int:
    """POST to /slack/events as Slack does, signed with ``secret`` ``age`` seconds ago."""
    headers = signed_headers(body, secret=secret, age=age)
    url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
    async with (
        asyncio.timeout(3),  # Slack's own limit for an acknowledgement
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as response,
    ):
        await response.read()
        return response.status


def answers_to(slack: FakeSlack, name: str) -> list[dict[str, Any]]:
    return [body for body in slack.bodies("response") if body["name"] == name]


def texts(message: dict[str, Any]) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks", []):
        if block["type"] in {"section", "header"}:
            parts.append(block["text"]["text"])
        if block["type"] == "context":
            parts.extend(element["text"] for element in block["elements"])
    return "\n".join(parts)


def other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


# --- HTTP mode ------------------------------------------------------------------------


async def test_http_command_is_acknowledged_before_the_database_answers(slack: FakeSlack) -> None:
    answers = Answers(gate_open=False)
    adapter = http_adapter(slack)
    await adapter.start(answers)
    try:
        status = await post_signed(adapter, urlencode(command_fields(slack)))
        assert status == 200
        assert not answers.gate.is_set() and answers_to(slack, "cmd") == []
        answers.gate.set()
        await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
        [answer] = answers_to(slack, "cmd")
        assert answer["response_type"] == "ephemeral"
        assert "Llama news 0" in texts(answer) and "Llama news 1" in texts(answer)
        assert answer["blocks"][-1]["elements"][0]["action_id"] == SHARE_ACTION_ID
        assert answers.queries == [None]
    finally:
        await adapter.close()


async def test_http_command_with_words_searches_and_help_explains(slack: FakeSlack) -> None:
    answers = Answers()
    adapter = http_adapter(slack)
    await adapter.start(answers)
    try:
        fields = command_fields(slack, text="  llama   license ", name="search")
        assert await post_signed(adapter, urlencode(fields)) == 200
        assert await post_signed(adapter, urlencode(command_fields(slack, "help", "help"))) == 200
        await slack.wait_for(
            lambda: bool(answers_to(slack, "search") and answers_to(slack, "help"))
        )
        assert answers.queries == ["llama license"]
        assert "Stories matching “llama license”" in texts(answers_to(slack, "search")[0])
        [help_answer] = answers_to(slack, "help")
        assert help_answer["blocks"][0]["text"]["text"] == COMMAND_HELP.replace(
            "<", "&lt;"
        ).replace(">", "&gt;")
        assert help_answer["response_type"] == "ephemeral"
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (Answers(stories=0), EMPTY),
        (Answers(error=True), FAILED_TEXT),
    ],
)
async def test_http_command_answers_kindly_when_there_is_nothing_or_an_error(
    slack: FakeSlack, answers: Answers, expected: str
) -> None:
    adapter = http_adapter(slack)
    await adapter.start(answers)
    try:
        assert await post_signed(adapter, urlencode(command_fields(slack))) == 200
        await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
        [answer] = answers_to(slack, "cmd")
        assert expected in texts(answer)
        assert all(block["type"] != "actions" for block in answer["blocks"])
    finally:
        await adapter.close()


async def test_http_command_gives_up_waiting_on_a_stuck_database(slack: FakeSlack) -> None:
    answers = Answers(gate_open=False)
    adapter = http_adapter(slack, command_timeout_seconds=0.2)
    await adapter.start(answers)
    try:
        assert await post_signed(adapter, urlencode(command_fields(slack))) == 200
        await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
        assert BUSY_TEXT in texts(answers_to(slack, "cmd")[0])
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0), (SIGNING_SECRET, 600)],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_http_requests_failing_verification_get_401_and_do_nothing(
    slack: FakeSlack, secret: str, age: int
) -> None:
    answers = Answers()
    adapter = http_adapter(slack)
    await adapter.start(answers)
    try:
        status = await post_signed(
            adapter, urlencode(command_fields(slack)), secret=secret, age=age
        )
        assert status == 401
        # A command posted after it, signed rightly, is answered: had the refused one been
        # taken, it would be answered as well (and first).
        fields = command_fields(slack, text="after", name="after")
        assert await post_signed(adapter, urlencode(fields)) == 200
        await slack.wait_for(lambda: bool(answers_to(slack, "after")))
        assert answers.queries == ["after"]
        assert [body["name"] for body in slack.bodies("response")] == ["after"]
    finally:
        await adapter.close()


# Headers are made when the test runs: a signature is valid for five minutes, and a suite
# on a busy machine reaches this test more than five minutes after it was collected.
HOSTILE_POSTS: dict[str, tuple[bytes, Callable[[], dict[str, str]], int]] = {
    "unsigned non-JSON": (b"{not json at all", lambda: {"Content-Type": "application/json"}, 401),
    "unsigned form": (b"command=%2Fmeta-ai&text=", dict, 401),
    "timestamp not a number": (
        b"{not json",
        lambda: {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": "yesterday",
            "X-Slack-Signature": "v0=00",
        },
        401,
    ),
    "not UTF-8": (b"\xff\xfe{", lambda: {"Content-Type": "application/json"}, 401),
    "signed, yet not JSON": (
        b"{not json",
        lambda: {**signed_headers(b"{not json"), "Content-Type": "application/json"},
        400,
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_POSTS))
async def test_http_endpoint_checks_the_signature_before_reading_the_body(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """An unsigned POST that is not JSON is refused with 401 before Bolt parses it: no 500,
    no traceback in the log (Bolt's own server parsed first and logged 30 lines a request)."""
    body, make_headers, expected = HOSTILE_POSTS[case]
    headers = make_headers()
    answers = Answers()
    adapter = http_adapter(slack)
    await adapter.start(answers)
    caplog.set_level(logging.DEBUG)
    try:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            status = response.status
        # And a real signed command still works on the same server afterwards.
        assert await post_signed(adapter, urlencode(command_fields(slack))) == 200
        await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
    finally:
        await adapter.close()
    assert status == expected
    assert answers.queries == [None]  # only the signed command reached the bot
    assert not [record for record in caplog.records if record.exc_info or record.exc_text]
    assert "Traceback" not in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_http_share_button_posts_in_channel_and_removes_the_private_copy(
    slack: FakeSlack,
) -> None:
    answers = Answers()
    adapter = http_adapter(slack)
    await adapter.start(answers)
    try:
        body = urlencode({"payload": json.dumps(share_click(slack, "llama"))})
        assert await post_signed(adapter, body) == 200
        await slack.wait_for(lambda: len(answers_to(slack, "share")) == 2)
        shared, removal = answers_to(slack, "share")
        assert shared["response_type"] == "in_channel"
        assert "Shared by <@U0USER001>" in texts(shared)
        assert "Llama news 0" in texts(shared)
        assert all(block["type"] != "actions" for block in shared["blocks"])
        assert removal["delete_original"] is True
        assert answers.queries == ["llama"]
    finally:
        await adapter.close()


async def test_http_server_stops_on_close(slack: FakeSlack) -> None:
    before = other_tasks()
    adapter = http_adapter(slack)
    await adapter.start(Answers())
    port = adapter.http_port
    assert await post_signed(adapter, urlencode(command_fields(slack))) == 200
    await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
    await adapter.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.post(f"http://127.0.0.1:{port}/slack/events", data=b"x")
    await eventually_async(lambda: other_tasks() <= before, timeout=2)


async def test_a_rejected_bot_token_fails_start_clearly(slack: FakeSlack) -> None:
    slack.script("auth.test", slack_error("invalid_auth"))
    adapter = http_adapter(slack)
    with pytest.raises(PermanentDeliveryError, match="rejected SLACK_BOT_TOKEN") as raised:
        await adapter.start(Answers())
    assert BOT_TOKEN not in str(raised.value)
    assert adapter.http_port is None
    await adapter.close()


# --- Socket Mode ------------------------------------------------------------------------


async def test_socket_mode_acks_at_once_and_answers_through_response_url(slack: FakeSlack) -> None:
    before = other_tasks()
    answers = Answers(gate_open=False)
    adapter = socket_adapter(slack)
    await adapter.start(answers)
    try:
        assert len(slack.calls_to("apps.connections.open")) == 1
        opened = slack.calls_to("apps.connections.open")[0]
        assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
        envelope = await slack.send_envelope("slash_commands", command_fields(slack, "llama"))
        await slack.wait_for(lambda: slack.acked(envelope), timeout=3)
        assert not answers.gate.is_set() and answers_to(slack, "cmd") == []
        answers.gate.set()
        await slack.wait_for(lambda: bool(answers_to(slack, "cmd")))
        [answer] = answers_to(slack, "cmd")
        assert answer["response_type"] == "ephemeral"
        assert answers.queries == ["llama"]
        click = await slack.send_envelope("interactive", share_click(slack, "llama"))
        await slack.wait_for(lambda: slack.acked(click) and len(answers_to(slack, "share")) == 2)
        assert answers_to(slack, "share")[0]["response_type"] == "in_channel"
    finally:
        await adapter.close()
    await eventually_async(lambda: other_tasks() <= before, timeout=2)


async def test_close_cancels_an_answer_still_waiting_for_the_database(slack: FakeSlack) -> None:
    before = other_tasks()
    answers = Answers(gate_open=False)
    adapter = socket_adapter(slack)
    await adapter.start(answers)
    envelope = await slack.send_envelope("slash_commands", command_fields(slack))
    await slack.wait_for(lambda: slack.acked(envelope) and bool(answers.queries))
    await asyncio.wait_for(adapter.close(), timeout=2)
    await eventually_async(lambda: other_tasks() <= before, timeout=2)
    assert answers_to(slack, "cmd") == []


async def test_socket_mode_with_a_rejected_app_token_fails_start_clearly(slack: FakeSlack) -> None:
    before = other_tasks()
    adapter = socket_adapter(slack, app_token="xapp-1-A0001-9999-wrongToken")
    with pytest.raises(PermanentDeliveryError, match=r"rejected SLACK_APP_TOKEN \(invalid_auth\)"):
        await adapter.start(Answers())
    await adapter.close()
    assert slack.calls_to("socket") == []
    await eventually_async(lambda: other_tasks() <= before, timeout=2)


async def test_socket_mode_keeps_connecting_in_the_background_when_slack_is_down(
    slack: FakeSlack,
) -> None:
    before = other_tasks()
    slack.script("auth.test", slack_error("service_unavailable", 503))
    slack.script("apps.connections.open", slack_error("service_unavailable", 503))
    answers = Answers()
    adapter = socket_adapter(slack, max_retries=0)
    await adapter.start(answers)  # returns although Slack did not answer yet
    try:
        envelope = await slack.send_envelope("slash_commands", command_fields(slack))
        await slack.wait_for(lambda: slack.acked(envelope) and bool(answers_to(slack, "cmd")))
        assert len(slack.calls_to("apps.connections.open")) == 2
    finally:
        await adapter.close()
    await eventually_async(lambda: other_tasks() <= before, timeout=2)
