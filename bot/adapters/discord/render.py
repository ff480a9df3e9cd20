"""Digests and notices as Discord messages: one embed per story, every limit respected.

Pure functions from the digest model to JSON-serialisable message payloads
``{"content": str | None, "embeds": [embed dict, ...]}``; the core stores them
in its outbox before :meth:`DiscordAdapter.send` posts them, so a payload must
be complete and within Discord's limits on its own.

Embeds are built with :class:`discord.Embed` (the same class the sender turns
them back into), so the JSON is exactly what discord.py would send.

A compact digest (``Digest.form``) is one line a story in embed descriptions, not
in the message content: links in content would unfurl into a preview each, and the
embeds keep the header, the colour and the packing of the full form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import discord

from bot.adapters.base import compact_line, utf16_length
from bot.adapters.discord.text import (
    clean_text,
    link_label,
    markdown_text,
    masked_link,
    neutralise_mentions,
    plain_text,
    truncate,
    web_url,
)
from bot.digest.model import Digest, DigestStory, Notice

# Discord's message limits (https://discord.com/developers/docs/resources/message).
MAX_CONTENT = 2000
MAX_EMBEDS_PER_MESSAGE = 10
MAX_EMBED_TOTAL_PER_MESSAGE = 6000
MAX_FIELDS = 25
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256

# Our own, tighter per-part budgets: they add up to less than the 6,000
# characters a message's embeds may hold, so any single story embed fits.
FOOTER_BUDGET = 512
KIND_LIMIT = FOOTER_BUDGET // 4
SOURCES_FIELD_NAME = "Sources"
STORY_EMBED_BUDGET = (
    MAX_TITLE + MAX_DESCRIPTION + len(SOURCES_FIELD_NAME) + MAX_FIELD_VALUE + FOOTER_BUDGET
)
assert STORY_EMBED_BUDGET <= MAX_EMBED_TOTAL_PER_MESSAGE

# Meta's blue, so digests are recognisable in a busy channel.
EMBED_COLOUR = 0x0866FF
SOURCE_SEPARATOR = " · "
UNTITLED = "Untitled story"
DEFAULT_EMPTY_MESSAGE = "No Meta AI news right now."

Payload = dict[str, Any]


def render_digest(digest: Digest) -> list[Payload]:
    """The digest as messages in posting order: a header, then up to 10 story embeds each."""
    if not digest.stories:
        text = plain_text(digest.empty_message or "", MAX_CONTENT).strip()
        return [{"content": text or DEFAULT_EMPTY_MESSAGE, "embeds": []}]
    if digest.form == "compact":
        embeds = compact_embeds(digest.stories)
    else:
        embeds = [story_embed(story) for story in digest.stories]
    batches = pack_embeds(embeds)
    header = digest_header(digest)
    messages: list[Payload] = []
    for number, batch in enumerate(batches, start=1):
        part = f" ({number}/{len(batches)})" if len(batches) > 1 else ""
        messages.append({"content": truncate(header + part, MAX_CONTENT), "embeds": batch})
    return messages


def render_notice(notice: Notice) -> list[Payload]:
    """An admin notice as plain messages, split at line breaks to stay under 2,000 characters."""
    chunks = split_text(neutralise_mentions(clean_text(notice.text)), MAX_CONTENT)
    return [{"content": chunk, "embeds": []} for chunk in chunks or ["(empty notice)"]]


def digest_header(digest: Digest) -> str:
    """The message content above the embeds: what this is and how many stories."""
    count = len(digest.stories)
    stories = f"{count} {'story' if count == 1 else 'stories'}"
    if digest.kind == "latest":
        return f"**{digest.title}** · {stories}"
    day = (_as_utc(digest.generated_at) or digest.generated_at).date().isoformat()
    return f"**{digest.title}** · {day} · {stories}"


def story_embed(story: DigestStory) -> Payload:
    """One story as an embed dict within :data:`STORY_EMBED_BUDGET` characters."""
    embed = discord.Embed(
        title=markdown_text(story.title, MAX_TITLE).strip() or UNTITLED,
        url=web_url(story.url),
        description=_description(story),
        colour=EMBED_COLOUR,
        timestamp=_as_utc(story.published) if story.published else None,
    )
    links = _source_links(story)
    if links:
        embed.add_field(name=SOURCES_FIELD_NAME, value=links, inline=False)
    footer = _footer(story)
    if footer:
        embed.set_footer(text=footer)
    thumbnail = web_url(story.image)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return cast(Payload, embed.to_dict())


def compact_embeds(stories: Sequence[DigestStory]) -> list[Payload]:
    """A compact digest: a line a story, as many whole lines an embed description holds.

    A line is at most a title label, a URL and a kind (about 2,500 characters), so the
    description limit never cuts one; :func:`pack_embeds` then makes the messages.
    """
    lines = [
        compact_line(
            story,
            title=masked_link(link_label(story.title, MAX_TITLE) or UNTITLED, web_url(story.url)),
            kind=_markdown_kind,
        )
        for story in stories
    ]
    return [
        cast(Payload, discord.Embed(description=chunk, colour=EMBED_COLOUR).to_dict())
        for chunk in split_text("\n".join(lines), MAX_DESCRIPTION)
    ]


def pack_embeds(embeds: list[Payload]) -> list[list[Payload]]:
    """Embeds grouped into messages in order: at most 10 and 6,000 characters per message."""
    batches: list[list[Payload]] = []
    current: list[Payload] = []
    used = 0
    for embed in embeds:
        size = embed_length(embed)
        full = len(current) >= MAX_EMBEDS_PER_MESSAGE
        if current and (full or used + size > MAX_EMBED_TOTAL_PER_MESSAGE):
            batches.append(current)
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        batches.append(current)
    return batches


def embed_length(embed: Payload) -> int:
    """The characters Discord counts towards a message's 6,000: titles, texts, names."""
    parts: list[str] = [embed.get("title") or "", embed.get("description") or ""]
    parts += [(embed.get("footer") or {}).get("text") or ""]
    parts += [(embed.get("author") or {}).get("name") or ""]
    for field in embed.get("fields") or []:
        parts += [field.get("name") or "", field.get("value") or ""]
    return sum(utf16_length(part) for part in parts)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in non-blank chunks of at most ``limit`` units, cut at line breaks if possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if utf16_length(current + line) > limit:
            chunks.append(current)
            current = ""
        while utf16_length(line) > limit:
            head = _longest_prefix(line, limit)
            chunks.append(head)
            line = line[len(head) :]
        current += line
    chunks.append(current)
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


def _longest_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` units (whole code points)."""
    used = 0
    for index, char in enumerate(text):
        used += utf16_length(char)
        if used > limit:
            return text[:index]
    return text


def _description(story: DigestStory) -> str | None:
    """The summary sentences as one paragraph, or None when there is no summary."""
    sentences = " ".join(s.strip() for s in story.summary if s.strip())
    return markdown_text(sentences, MAX_DESCRIPTION).strip() or None


def _source_links(story: DigestStory) -> str:
    """Masked links to each article, as many as fit in one field value, then "+N more"."""
    targets = [(s, url) for s in story.sources if (url := web_url(s.url)) is not None]
    links: list[str] = []
    used = 0
    for index, (source, url) in enumerate(targets):
        label = link_label(source.feed, 100) or link_label(source.title, 100) or "link"
        link = masked_link(label, url)
        extra = utf16_length(link) + (utf16_length(SOURCE_SEPARATOR) if links else 0)
        if used + extra > MAX_FIELD_VALUE - _MORE_LINKS_ROOM:
            links.append(f"+{len(targets) - index} more")
            break
        links.append(link)
        used += extra
    return SOURCE_SEPARATOR.join(links)


# Room kept in the sources field for the " · +N more" tail.
_MORE_LINKS_ROOM = 24


def _footer(story: DigestStory) -> str:
    """Source names, then new sources since the first post and the summary's provenance.

    The names give way first when the footer budget runs out, so the notes survive.
    """
    notes: list[str] = []
    kind = _kind_text(story.kind or "")
    if story.new_sources > 0:
        plural = "source" if story.new_sources == 1 else "sources"
        notes.append(f"+{story.new_sources} more {plural}")
    note = plain_text((story.summary_note or "").strip(), FOOTER_BUDGET // 2).strip()
    if note:
        notes.append(note)
    tail = SOURCE_SEPARATOR.join(notes)
    names = [name for name in (clean_text(n).strip() for n in story.source_names()) if name]
    lead = f"{kind}{SOURCE_SEPARATOR}" if kind else ""
    if not names:
        return lead + tail if tail else kind
    room = (
        FOOTER_BUDGET - utf16_length(lead) - (utf16_length(SOURCE_SEPARATOR + tail) if tail else 0)
    )
    head = lead + plain_text("Sources: " + ", ".join(names), room)
    return head + SOURCE_SEPARATOR + tail if tail else head


def _kind_text(kind: str, text: Callable[[str, int], str] = plain_text) -> str:
    """The story's kind on one line and bounded: verbatim text where Discord shows text
    verbatim (the footer), escaped ``text`` where it renders markdown."""
    return text(" ".join(kind.split()), KIND_LIMIT).strip()


def _markdown_kind(kind: str) -> str:
    """The kind inside a compact line, which Discord renders as markdown."""
    return _kind_text(kind, markdown_text)


def _as_utc(moment: datetime) -> datetime | None:
    """The moment in UTC (naive means UTC already); None when UTC cannot hold it."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None  # e.g. year 1 at UTC+5 is before datetime.min in UTC
