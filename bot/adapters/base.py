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
:class:`RedactingFilter`, :func:`utf16_length`, :func:`escape_controls`,
:func:`validation_problems`) are
defined once in :mod:`bot.common` and offered here, so that an adapter, built-in or
third-party, still imports nothing else from the bot.

An adapter's class is loaded in every run (to ask :meth:`ChatAdapter.from_environment`
whether its platform is configured), so its module should import the platform's SDK
only where the SDK is used: a run without that platform then never pays for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from bot.common.redaction import REDACTED, RedactingFilter, Redactor
from bot.common.retry import parse_retry_after
from bot.common.text import escape_controls, utf16_length
from bot.common.validation import validation_problems
from bot.digest.model import Digest, Notice

__all__ = [
    "COMMAND_HELP",
    "COMMAND_NAME",
    "REDACTED",
    "ChatAdapter",
    "CommandHandler",
    "DeliveryError",
    "Payload",
    "PermanentDeliveryError",
    "RedactingFilter",
    "Redactor",
    "TransientDeliveryError",
    "escape_controls",
    "parse_retry_after",
    "utf16_length",
    "validation_problems",
]

COMMAND_NAME = "meta-ai"

COMMAND_HELP = (
    "/meta-ai: the latest summary of Meta AI news (stories of the last 24 hours).\n"
    "/meta-ai <words>: the latest stories that match the words, e.g. /meta-ai llama license.\n"
    "/meta-ai help: this help.\n"
    "Answers are visible only to you; use the share option to post one in the channel."
)

Payload = dict[str, Any]


class DeliveryError(Exception):
    """A message could not be delivered. Subclasses say whether a retry can help."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (invalid token, unknown channel, missing permission).

    The outbox keeps the message pending and ``meta-ai-digest status`` shows the
    reason until an admin fixes the cause.
    """


class TransientDeliveryError(DeliveryError):
    """Retrying later can help (429, 5xx, network). ``retry_after`` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CommandHandler(Protocol):
    """What an adapter may ask the core while serving ``/meta-ai``."""

    async def latest(self, query: str | None = None) -> Digest:
        """The latest summary, or the latest stories matching ``query``."""
        ...


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

    @abstractmethod
    def render(self, digest: Digest) -> list[Payload]:
        """The digest as the platform's messages, in posting order, each within limits.

        Payloads must be JSON-serialisable: the outbox stores them before sending.
        """

    def render_notice(self, notice: Notice) -> list[Payload]:
        """An admin notice as messages; adapters override when plain text is not enough."""
        return [{"text": notice.text}]

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
