"""``/meta-ai`` on Slack: acknowledge at once, answer through ``response_url``.

Slack gives a slash command three seconds. The handler calls ``ack()`` before
anything else, so a slow or locked database can delay the answer but never
make Slack show "dispatch_failed"; the answer follows through ``respond()``,
which stays valid for 30 minutes.

Answers are ephemeral. Their last message carries a "Share in channel" button;
pressing it posts the same query's answer in the channel (``in_channel``),
credits who shared it, and removes the private copy.

With replicas, each invocation is answered once: after the ack, the handler
claims the invocation's ``trigger_id`` in the shared database and answers only
if it was first.

``/meta-ai feeds`` lists the feeds for anyone; ``/meta-ai add`` and ``remove``
work for workspace admins and owners (``users.info``, scope ``users:read``) and
the user IDs in ``[adapters.slack] admin_users``; everyone else is told, kindly,
who can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.base import (
    ADMIN_ACTIONS,
    CHANGE_ACTIONS,
    COMMAND_NAME,
    ChatCommand,
    CommandHandler,
    Payload,
    feed_lines,
    first_to_answer,
    parse_command,
    run_change,
)
from bot.adapters.slack.render import (
    QUERY_LIMIT,
    SHARE_ACTION_ID,
    render_answer,
    render_help,
    render_text,
    share_query,
)

log = logging.getLogger(__name__)

SLASH_COMMAND = f"/{COMMAND_NAME}"
BUSY_TEXT = "The news database is busy right now; please try /meta-ai again in a minute."
FAILED_TEXT = "Sorry, the latest summary is not available right now; please try again later."
NOT_ADMIN_TEXT = (
    "Sorry, only workspace admins and owners (and the users the bot's config names) can "
    "add or remove feeds or change this channel's subscription. /meta-ai feeds shows the "
    "feeds and /meta-ai channel what this channel gets; ask an admin to change them."
)
CHANGE_FAILED_TEXT = "Sorry, that could not be done right now; please try again in a minute."
# Adding fetches the feed (bounded by [fetch] total_timeout_seconds per request, and a page
# may lead to a few candidates); response_url answers for 30 minutes.
CHANGE_TIMEOUT_SECONDS = 300.0


class InFlight:
    """The command tasks still running, so ``close()`` can stop them cleanly.

    Bolt runs each listener in a task of its own that nobody else keeps.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def cancel_all(self) -> None:
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SlashCommands:
    """Serves ``/meta-ai`` and its share button for one Bolt app."""

    def __init__(
        self,
        commands: CommandHandler,
        *,
        timeout: float,
        in_flight: InFlight,
        admin_users: frozenset[str] = frozenset(),
    ) -> None:
        self.commands = commands
        self.timeout = timeout
        self.in_flight = in_flight
        self.admin_users = admin_users

    def register(self, app: AsyncApp) -> None:
        app.command(SLASH_COMMAND)(self.on_command)
        app.action(SHARE_ACTION_ID)(self.on_share)

    async def on_command(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """``/meta-ai [words|help|feeds|add URL|remove NAME]``; Bolt passes arguments by
        parameter name."""
        await ack()  # first, before any database work: Slack's 3-second limit
        with self.in_flight.track():
            if not await self._first(command.get("trigger_id")):
                return
            request = parse_command(command.get("text"), max_query=QUERY_LIMIT)
            if request.action == "help":
                payloads = [render_help()]
            elif request.action == "feeds":
                payloads = await self._feeds()
            elif request.action in CHANGE_ACTIONS:
                payloads = await self._change(request, command, client)
            else:
                payloads = await self._answer(request.words, share=True, shared_by=None)
            await _respond_all(respond, payloads, response_type="ephemeral")

    async def _feeds(self) -> list[Payload]:
        try:
            async with asyncio.timeout(self.timeout):
                feeds = await self.commands.feeds()
        except TimeoutError:
            return render_text(BUSY_TEXT)
        except Exception:
            log.exception("/meta-ai feeds: the feed list could not be read")
            return render_text(FAILED_TEXT)
        lines = feed_lines(feeds, datetime.now(UTC))  # render_text escapes every line
        return render_text("\n".join(lines))

    async def _change(
        self, request: ChatCommand, command: dict[str, Any], client: AsyncWebClient
    ) -> list[Payload]:
        user = str(command.get("user_id") or "")
        if request.action in ADMIN_ACTIONS and not await self.is_admin(client, user):
            return render_text(NOT_ADMIN_TEXT)
        who = f"Slack user {user} ({command.get('user_name') or 'unknown'})"
        channel = f"slack:{command.get('channel_id') or ''}"
        try:
            async with asyncio.timeout(CHANGE_TIMEOUT_SECONDS):
                message = await run_change(self.commands, request, by=who, channel=channel)
        except Exception:
            log.exception("/meta-ai %s failed", request.action)
            return render_text(CHANGE_FAILED_TEXT)
        return render_text(message)  # render_text escapes it

    async def is_admin(self, client: AsyncWebClient, user: str) -> bool:
        """A configured admin, or a workspace admin or owner according to users.info."""
        if not user:
            return False
        if user in self.admin_users:
            return True
        from slack_sdk.errors import SlackApiError

        try:
            answer = await client.users_info(user=user)
        except SlackApiError as error:
            code = error.response.get("error") if error.response else None
            log.warning(
                "/meta-ai: cannot tell whether %s is an admin (users.info: %s); add the "
                "users:read scope, or list admins in [adapters.slack] admin_users",
                user,
                code,
            )
            return False
        except Exception as error:  # network trouble: refuse, the user can retry
            log.warning("/meta-ai: users.info failed (%s)", type(error).__name__)
            return False
        profile = answer.get("user") or {}
        return any(profile.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))

    async def on_share(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """The "Share in channel" button: the answer for everyone, the private copy removed."""
        await ack()
        with self.in_flight.track():
            if not await self._first(body.get("trigger_id")):
                return
            actions = body.get("actions") or [{}]
            query = share_query(str(actions[0].get("value", "")))
            user = str((body.get("user") or {}).get("id", "")) or None
            payloads = await self._answer(query, share=False, shared_by=user)
            if await _respond_all(respond, payloads, response_type="in_channel"):
                await _safe_respond(respond, {"text": "", "delete_original": True})

    async def _first(self, trigger_id: object) -> bool:
        """True when this replica answers: Slack's ``trigger_id`` names one invocation, and
        replicas sharing a database answer it once (a redelivered envelope, a retried
        request or a second connection that got it too is acknowledged, then dropped)."""
        key = f"slack:{trigger_id}" if trigger_id else None
        if await first_to_answer(self.commands, key, self.timeout):
            return True
        log.info("/meta-ai %s: another replica answers it", key)
        return False

    async def _answer(
        self, query: str | None, *, share: bool, shared_by: str | None
    ) -> list[Payload]:
        try:
            async with asyncio.timeout(self.timeout):
                digest = await self.commands.latest(query)
        except TimeoutError:
            log.warning("/meta-ai: no answer from the database within %.0f s", self.timeout)
            return render_text(BUSY_TEXT)
        except Exception:
            log.exception("/meta-ai: the latest summary could not be built")
            return render_text(FAILED_TEXT)
        return render_answer(digest, query, share=share, shared_by=shared_by)


async def _respond_all(
    respond: AsyncRespond, payloads: list[Payload], *, response_type: str
) -> bool:
    """Send every message in order; False when one could not be delivered."""
    for payload in payloads:
        message = {**payload, "response_type": response_type, "replace_original": False}
        if not await _safe_respond(respond, message):
            return False
    return True


async def _safe_respond(respond: AsyncRespond, message: dict[str, Any]) -> bool:
    """A response_url failure is logged; the user can simply run the command again."""
    try:
        response = await respond(message)
    except Exception as error:  # network errors of every kind from aiohttp
        log.warning("/meta-ai: the answer could not be sent (%s)", type(error).__name__)
        return False
    if response.status_code != 200:
        log.warning("/meta-ai: Slack refused the answer (HTTP %s)", response.status_code)
        return False
    return True
