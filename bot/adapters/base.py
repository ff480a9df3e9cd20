"""The chat adapter interface: the one contract between the core and a chat platform.

A third-party package adds a platform by subclassing :class:`ChatAdapter` and
registering the class under the ``meta_ai_digest.adapters`` entry-point group,
exactly as the built-in adapters do in this project's ``pyproject.toml``::

    [project.entry-points."meta_ai_digest.adapters"]
    matrix = "my_package.matrix:MatrixAdapter"

An adapter imports only :mod:`bot.digest.model` and this module. It never
touches the database: the core renders a digest through :meth:`ChatAdapter.render`,
stores the rendered payloads in its outbox, then hands them one by one to
:meth:`ChatAdapter.send`. That split is what makes delivery crash-safe.

The helpers every platform needs (:func:`parse_retry_after`, :class:`Redactor` and
:class:`RedactingFilter`, :func:`utf16_length`, :func:`escape_controls`, :func:`plural`,
:func:`validation_problems`) are
defined once in :mod:`bot.common` and offered here, so that an adapter, built-in or
third-party, still imports nothing else from the bot.

An adapter's class is loaded in every run (to ask :meth:`ChatAdapter.from_environment`
whether its platform is configured), so its module should import the platform's SDK
only where the SDK is used: a run without that platform then never pays for it.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

from bot.common.redaction import REDACTED, RedactingFilter, Redactor
from bot.common.retry import parse_retry_after
from bot.common.text import escape_controls, plural, utf16_length
from bot.common.times import ago_words, utc_minute
from bot.common.validation import validation_problems
from bot.digest.model import (
    CommandReply,
    Digest,
    DigestStory,
    FeedChange,
    FeedInfo,
    Notice,
    StoryUpdate,
)

__all__ = [
    "ADMIN_ACTIONS",
    "CHANGE_ACTIONS",
    "COMMAND_HELP",
    "COMMAND_NAME",
    "REDACTED",
    "ChatAdapter",
    "ChatCommand",
    "CommandHandler",
    "DeliveryError",
    "Payload",
    "PermanentDeliveryError",
    "RedactingFilter",
    "Redactor",
    "TransientDeliveryError",
    "compact_line",
    "escape_controls",
    "feed_lines",
    "first_to_answer",
    "parse_command",
    "parse_retry_after",
    "plural",
    "run_change",
    "utc_minute",
    "utf16_length",
    "validation_problems",
]

log = logging.getLogger(__name__)

COMMAND_NAME = "meta-ai"

# What a search matches is decided in bot/store/search.py; tests/store/test_search.py keeps
# this in step.
COMMAND_HELP = (
    "/meta-ai: the latest summary of Meta AI news (stories of the last 24 hours).\n"
    "/meta-ai <words>: the newest stories of the last 30 days with every word in their title, "
    "summary or a source's title, e.g. /meta-ai llama license.\n"
    "Searches match whole words in any form: llama also finds Llamas, release finds released, "
    'ai never matches said. "open source" in quotes is a phrase; '
    "common words such as the, and, or, not are ignored.\n"
    "/meta-ai feeds: the feeds the bot reads, and how each is doing.\n"
    "/meta-ai add <address> [name]: add a feed, from its address or its site's (admins).\n"
    "/meta-ai remove <name>: remove a feed added here or with `feeds add` (admins).\n"
    "/meta-ai channel: what this channel gets and when it next posts.\n"
    "/meta-ai subscribe [kinds] [schedule] [compact] [alerts] [3+] [tz=Zone] [words]: this "
    "channel gets only those stories, e.g. /meta-ai subscribe research weekly compact "
    "(admins; kinds: models, research, products, people, infrastructure, policy, deals; "
    "schedules: instant, hourly, daily, weekdays, weekly or a quoted cron expression).\n"
    "/meta-ai unsubscribe: this channel gets the default digest again (admins).\n"
    "/meta-ai help: this help.\n"
    "Answers are visible only to you; use the share option to post one in the channel."
)

#: The first words of ``/meta-ai`` that are commands, not a search.
HELP_WORDS = frozenset({"help", "?", "-h", "--help"})
FEEDS_WORD, ADD_WORD, REMOVE_WORD = "feeds", "add", "remove"
SUBSCRIBE_WORD, UNSUBSCRIBE_WORD, CHANNEL_WORD = "subscribe", "unsubscribe", "channel"
#: The commands that change what the bot does: only admins may run them.
ADMIN_ACTIONS = frozenset({"add", "remove", "subscribe", "unsubscribe"})
#: The commands answered with one sentence from the core (:func:`run_change`).
CHANGE_ACTIONS = ADMIN_ACTIONS | {"channel"}

Payload = dict[str, Any]

#: ChatAdapter.send_timeout_seconds of an adapter that does not say.
DEFAULT_SEND_TIMEOUT_SECONDS = 120.0


class DeliveryError(Exception):
    """A message could not be delivered. Subclasses say whether a retry can help."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (invalid token, unknown channel, missing permission).

    The outbox keeps the message pending and ``meta-ai-digest status`` shows the
    reason until an admin fixes the cause.
    """


class TransientDeliveryError(DeliveryError):
    """Retrying later can help (429, 5xx, network). ``retry_after`` in seconds if known.

    ``maybe_delivered`` says the platform may have posted the message although no answer
    came (the request was sent, then timed out): the outbox does not send it again in the
    same delivery run, nor before its lease would have expired.
    """

    def __init__(
        self, message: str, retry_after: float | None = None, *, maybe_delivered: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class CommandHandler(Protocol):
    """What an adapter may ask the core while serving ``/meta-ai``.

    The adapter decides who may change the feed list (the platform knows who is an admin);
    the core adds or removes, tells the admin channels, and answers in a sentence.
    """

    async def latest(self, query: str | None = None) -> Digest:
        """The latest summary, or the latest stories matching ``query``."""
        ...

    async def claim(self, key: str) -> bool:
        """True when this process is the first to take ``key``; False when another took it.

        Several replicas of the bot may receive one command (two gateway connections,
        a redelivered event). Claim the platform's id of the invocation (prefixed with
        the adapter's name, e.g. ``"discord:<interaction id>"``) before answering, and
        answer only when this returns True: :func:`first_to_answer` does it.
        """
        ...

    async def feeds(self) -> list[FeedInfo]:
        """Every feed the bot reads, with its health (``/meta-ai feeds``)."""
        ...

    async def add_feed(self, url: str, *, by: str, name: str | None = None) -> FeedChange:
        """Add the feed at ``url`` (or the one a site's page links to); ``by`` names the
        admin for the admin channels (``"Slack user U0123 (ada)"``)."""
        ...

    async def remove_feed(self, name: str, *, by: str) -> FeedChange:
        """Remove a feed added at run time."""
        ...

    async def subscribe(self, channel: str, words: str, *, by: str) -> CommandReply:
        """Give ``channel`` (``"<adapter name>:<channel id>"``) the subscription ``words``
        describe (``/meta-ai subscribe``); the core reads the words."""
        ...

    async def unsubscribe(self, channel: str, *, by: str) -> CommandReply:
        """Remove ``channel``'s subscription: it gets the default digest again."""
        ...

    async def describe_channel(self, channel: str) -> CommandReply:
        """What ``channel`` gets and when it next posts (``/meta-ai channel``)."""
        ...


async def run_change(
    commands: CommandHandler, request: ChatCommand, *, by: str, channel: str
) -> str:
    """The core's sentence for a command of :data:`CHANGE_ACTIONS`, asked by ``by`` in
    ``channel``; the adapter has checked that ``by`` is an admin for :data:`ADMIN_ACTIONS`.
    Errors propagate: the adapter answers them with its own "failed" sentence."""
    if request.action == "add":
        assert request.url is not None
        return (await commands.add_feed(request.url, by=by, name=request.words)).message
    if request.action == "remove":
        return (await commands.remove_feed(request.words or "", by=by)).message
    if request.action == "subscribe":
        return (await commands.subscribe(channel, request.words or "", by=by)).message
    if request.action == "unsubscribe":
        return (await commands.unsubscribe(channel, by=by)).message
    return (await commands.describe_channel(channel)).message


async def first_to_answer(commands: CommandHandler, key: str | None, timeout: float) -> bool:
    """Claim ``key`` for this process; True when it should answer the command.

    Without a key (the platform sent no id) every receiver answers. When the claim cannot
    be made within ``timeout`` seconds (the database is locked or down) this answers
    True too: a rare double answer is better than none.
    """
    if not key:
        return True
    try:
        async with asyncio.timeout(timeout):
            return await commands.claim(key)
    except TimeoutError:
        log.warning("could not claim %s within %.1f s; answering anyway", key, timeout)
    except Exception as error:
        log.warning("could not claim %s (%s); answering anyway", key, type(error).__name__)
    return True


def _same(value: str) -> str:
    return value


@dataclass(frozen=True)
class ChatCommand:
    """What the words after ``/meta-ai`` ask for."""

    action: Literal[
        "latest", "help", "feeds", "add", "remove", "subscribe", "unsubscribe", "channel"
    ]
    #: The search words (``latest``), the feed's name (``remove``, or ``add`` after the URL).
    words: str | None = None
    #: ``add``: the address to add.
    url: str | None = None


def parse_command(text: str | None, *, max_query: int = 500) -> ChatCommand:
    """``/meta-ai [words | help | feeds | add URL [NAME] | remove NAME | channel |
    subscribe [WORDS] | unsubscribe]``.

    The first word decides; anything else is a search. ``add`` and ``remove`` without
    their argument are help (a search for "add" would find nothing useful).
    """
    words = " ".join((text or "").split())
    first, _, rest = words.partition(" ")
    keyword = first.lower()
    if keyword in HELP_WORDS:
        return ChatCommand("help")
    if keyword == FEEDS_WORD and not rest:
        return ChatCommand("feeds")
    if keyword == ADD_WORD:
        url, _, name = rest.partition(" ")
        return ChatCommand("add", words=name or None, url=url) if url else ChatCommand("help")
    if keyword == REMOVE_WORD:
        return ChatCommand("remove", words=rest) if rest else ChatCommand("help")
    if keyword == SUBSCRIBE_WORD:
        return ChatCommand("subscribe", words=rest[:max_query])
    if keyword in (UNSUBSCRIBE_WORD, CHANNEL_WORD) and not rest:
        return ChatCommand("unsubscribe" if keyword == UNSUBSCRIBE_WORD else "channel")
    return ChatCommand("latest", words=words[:max_query] or None)


def feed_lines(
    feeds: Sequence[FeedInfo],
    now: datetime,
    *,
    text: Callable[[str], str] = _same,
    link: Callable[[str], str] = _same,
) -> list[str]:
    """``/meta-ai feeds`` as lines: each adapter passes how to make feed ``text`` (names,
    errors) inert in its markup, and how to show a ``link``."""
    if not feeds:
        return ["No feeds yet. An admin can add one: /meta-ai add, then the feed's address."]
    failing = sum(1 for feed in feeds if feed.state in ("failing", "disabled"))
    lines = [f"{plural(len(feeds), 'feed')}, {failing} with problems:"]
    for feed in feeds:
        state = {
            "ok": f"ok, last success {ago_words(feed.last_success, now)}",
            "not polled yet": "not polled yet",
            "failing": f"failing ({feed.failures}×): {text(feed.error or 'unknown error')}",
            "disabled": f"DISABLED after {feed.failures} failures: {text(feed.error or '')}",
            "off": "off in the config",
        }[feed.state]
        origin = "" if feed.source == "config" else ", added"
        lines.append(f"• {text(feed.name)} ({link(feed.url)}{origin}): {state}")
    return lines


#: Between the details of a compact line: "(models · 3 outlets)".
COMPACT_SEPARATOR = " · "


def compact_line(story: DigestStory, *, title: str, kind: Callable[[str], str] = _same) -> str:
    """One story of a compact digest (``Digest.form``): "• Title (models · 3 outlets)".

    The wording is the same on every platform, so it lives here; each adapter passes the
    ``title`` already made safe in its markup (a link where it can link) and how to show the
    ``kind`` the way its full form shows it. A detail that renders empty is left out.
    """
    details = [kind(story.kind)] if story.kind else []
    outlets = len(story.source_names())
    if outlets:
        details.append(plural(outlets, "outlet"))
    shown = COMPACT_SEPARATOR.join(detail for detail in details if detail)
    return f"• {title} ({shown})" if shown else f"• {title}"


class ChatAdapter(ABC):
    """A chat platform: renders digests, sends rendered messages, serves /meta-ai."""

    #: The entry-point name, used in config (``[adapters.<name>]``) and in the outbox.
    name: ClassVar[str]
    #: True when :meth:`start` serves the ``/meta-ai`` command.
    supports_commands: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_environment(
        cls, env: Mapping[str, str], options: Mapping[str, Any]
    ) -> ChatAdapter | None:
        """Build the adapter, or return None when the platform is not configured.

        ``env`` holds the process environment: secrets come only from there.
        ``options`` is the ``[adapters.<name>]`` table of the config file (never
        secrets); the adapter validates it itself. Raise ``ValueError`` with a
        clear message when the configuration is present but wrong.
        """

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the key and the fix when ``[adapters.<name>]`` is wrong.

        Every command calls it for every table in the config file, whether the platform's
        environment is set or not, so a typo fails the same way everywhere. The default
        accepts anything; an adapter with options overrides it.
        """
        return None

    @abstractmethod
    def destinations(self) -> list[str]:
        """Where digests go (channel ids, or one fixed name for a webhook)."""

    def admin_destinations(self) -> list[str]:
        """Where operational notices go; none unless the adapter is told."""
        return []

    @property
    def send_timeout_seconds(self) -> float:
        """The longest one :meth:`send` may take, the adapter's own retries and waits included.

        The outbox leases a message to one process for this plus a margin (no other
        replica sends it meanwhile) and stops waiting for :meth:`send` after it, counting
        the message as possibly delivered. Derive it from your client's own timeouts, so
        the two agree; the default suits a client that gives up within two minutes.
        """
        return DEFAULT_SEND_TIMEOUT_SECONDS

    @abstractmethod
    def render(self, digest: Digest) -> list[Payload]:
        """The digest as the platform's messages, in posting order, each within limits.

        Payloads must be JSON-serialisable: the outbox stores them before sending.
        """

    def render_notice(self, notice: Notice) -> list[Payload]:
        """An admin notice as messages; adapters override when plain text is not enough."""
        return [{"text": notice.text}]

    def separate_updates(self, destination: str) -> bool:
        """True: a posted story's update goes as a message of its own (:meth:`render_update`,
        a reply under the story's post where the platform threads). False: updates are part
        of the digest (``Digest.updates``), which :meth:`render` then shows."""
        return True

    def render_update(self, update: StoryUpdate, thread: str | None) -> list[Payload]:
        """A posted story's update; ``thread`` is the platform id of the message that
        carried the story to this destination, when known. Adapters that can reply in a
        thread override this; the default is the update as one short notice."""
        return self.render_notice(Notice(generated_at=datetime.now(UTC), text=update.text()))

    @abstractmethod
    async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
        """Deliver one rendered message; return the platform's message id if any.

        ``key`` is stable across retries of the same outbox message, so platforms
        with idempotency support (Discord's ``nonce``) can drop duplicates.
        Raise :class:`PermanentDeliveryError` or :class:`TransientDeliveryError`.
        """

    async def start(self, commands: CommandHandler) -> None:
        """Open connections and start serving ``/meta-ai`` in the background.

        Returns once serving has started. Adapters without commands do nothing.
        """
        return None

    async def close(self) -> None:
        """Release connections; called once on shutdown."""
        return None
