"""A stored message payload turned back into discord.py call arguments.

Payloads come out of the outbox, possibly written by an older version, so they
are validated again here instead of trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: No @everyone, @here, user, role or reply pings, ever: digests and answers are
#: feed text, and feed text must not be able to ping a channel.
NO_MENTIONS = discord.AllowedMentions.none()


class OutgoingMessage(BaseModel):
    """One rendered message: optional content above up to ten embeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str | None = None
    embeds: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    #: The id of the message this one replies to (a story's update under its post).
    reply_to: str | None = Field(default=None, pattern=r"^\d{1,20}$")

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> OutgoingMessage:
        """The payload validated; ValueError (without the payload's text) when malformed."""
        try:
            message = cls.model_validate(dict(payload))
        except ValidationError as error:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
            raise ValueError(f"not a Discord message payload (bad fields: {fields})") from None
        if not message.content and not message.embeds:
            raise ValueError("not a Discord message payload: no content and no embeds")
        return message

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by Messageable.send, Webhook.send and interaction replies."""
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.content:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = [discord.Embed.from_dict(embed) for embed in self.embeds]
        return kwargs
