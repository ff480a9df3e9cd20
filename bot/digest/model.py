"""The platform-neutral digest model.

Adapters import this module (and the command interface) and nothing else of the
pipeline: everything a chat platform needs to render a digest is here, already
cleaned (no HTML, no control characters, links only http/https). Escaping for a
platform's markup is the adapter's job, because only it knows the markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DigestSource(BaseModel):
    """One article that covers a story, as one outlet published it."""

    title: str
    url: str
    feed: str
    published: datetime | None = None


class DigestStory(BaseModel):
    """One story: several outlets' articles about the same event."""

    id: str
    title: str
    url: str
    published: datetime | None = None
    summary: list[str] = Field(default_factory=list)
    sources: list[DigestSource] = Field(default_factory=list)
    image: str | None = None
    # Sources that joined after the story was first posted ("+2 more sources").
    new_sources: int = 0
    # Set when the summary was made from a feed snippet instead of the full text.
    summary_note: str | None = None
    # What kind of news it is: a [kinds] name ("models", "deals"...), None before it is known.
    kind: str | None = None

    def source_names(self) -> list[str]:
        """Distinct outlet names in the order the sources arrived."""
        seen: dict[str, None] = {}
        for source in self.sources:
            seen.setdefault(source.feed, None)
        return list(seen)


class StoryUpdate(BaseModel):
    """What is new in a story already posted: the outlets that joined it and the key
    sentences its summary gained. Posted in the thread of the story's post where the
    platform threads (Slack, a Discord bot), as a short line elsewhere."""

    story: DigestStory
    new_sources: list[DigestSource] = Field(default_factory=list)
    new_sentences: list[str] = Field(default_factory=list)

    def text(self) -> str:
        """The update in plain words: which outlets joined, then the new sentences."""
        outlets = list(dict.fromkeys(source.feed for source in self.new_sources))
        count = len(self.new_sources)
        joined = f"+{count} source{'s' if count != 1 else ''}"
        lines = [f"Update on “{self.story.title}”: {joined} ({', '.join(outlets)})"]
        lines += self.new_sentences
        return "\n".join(lines)


# The title of each kind of message (`alert`: breaking news posted between digests).
DIGEST_TITLES = {
    "digest": "Meta AI digest",
    "latest": "Latest Meta AI news",
    "alert": "Breaking Meta AI news",
}


class Digest(BaseModel):
    """What one post (or one /meta-ai answer) carries."""

    generated_at: datetime
    stories: list[DigestStory] = Field(default_factory=list)
    # "digest" for a scheduled post, "latest" for a /meta-ai answer, "alert" for breaking news.
    kind: str = "digest"
    # A friendly line shown when there are no stories (empty database, no match).
    empty_message: str | None = None
    # Posted stories' updates. Adapters that reply under a story's post send them apart
    # (``ChatAdapter.separate_updates``); the others show them in the digest.
    updates: list[StoryUpdate] = Field(default_factory=list)
    # "full": each story's summary and sources; "compact": one line a story (a channel's
    # subscription chooses, docs/channels.md).
    form: Literal["full", "compact"] = "full"

    @property
    def title(self) -> str:
        """What every adapter calls this message: a digest, an answer, or an alert."""
        return DIGEST_TITLES.get(self.kind, DIGEST_TITLES["latest"])

    def to_json_dict(self) -> dict[str, object]:
        """The documented JSON shape of ``digest --format json`` and ``latest``."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "form": self.form,
            "stories": [
                {
                    "id": story.id,
                    "title": story.title,
                    "url": story.url,
                    "published": story.published.isoformat() if story.published else None,
                    "summary": list(story.summary),
                    "sources": [
                        {"title": s.title, "url": s.url, "feed": s.feed} for s in story.sources
                    ],
                    "new_sources": story.new_sources,
                    "summary_note": story.summary_note,
                    "kind": story.kind,
                }
                for story in self.stories
            ],
            "updates": [
                {
                    "id": update.story.id,
                    "title": update.story.title,
                    "url": update.story.url,
                    "new_sources": [
                        {"title": s.title, "url": s.url, "feed": s.feed} for s in update.new_sources
                    ],
                    "new_sentences": list(update.new_sentences),
                }
                for update in self.updates
            ],
        }


class Notice(BaseModel):
    """A short operational message for an admin channel (a feed was disabled...)."""

    generated_at: datetime
    text: str


class FeedInfo(BaseModel):
    """One feed and its health, as `feeds list` and ``/meta-ai feeds`` show it."""

    name: str
    url: str
    #: "config": the config file lists it; "added": added at run time (CLI, OPML, chat).
    source: Literal["config", "added"]
    #: "ok", "not polled yet", "failing", "disabled" (after repeated failures), "off"
    #: (``enabled = false`` in the config).
    state: Literal["ok", "not polled yet", "failing", "disabled", "off"]
    #: The last error, which starts with its kind ("dns: name lookup failed ...").
    error: str | None = None
    failures: int = 0
    last_success: datetime | None = None
    next_poll: datetime | None = None
    added_by: str | None = None


class FeedChange(BaseModel):
    """What ``/meta-ai add`` or ``/meta-ai remove`` did, for the admin who asked."""

    ok: bool
    #: A sentence for the one who asked: what was done, or why not and what to do.
    message: str
    name: str | None = None
    url: str | None = None


class CommandReply(BaseModel):
    """What ``/meta-ai subscribe``, ``unsubscribe`` and ``channel`` answer: a sentence for
    the one who asked (what was done, or why not and what to do)."""

    ok: bool
    message: str
