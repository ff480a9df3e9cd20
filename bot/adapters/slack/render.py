"""Digests as Slack Block Kit messages, always within Slack's limits.

Blocks are built with slack_sdk's Block Kit models, whose ``to_dict`` refuses
an over-long header, section or context: a rendering bug fails loudly here
instead of as an ``invalid_blocks`` error at 9 a.m. On top of the per-block
limits this module enforces the per-message ones (50 blocks, a text budget) by
splitting a long digest into several messages at story boundaries, and inside
a story only between whole sentences. A compact digest (``Digest.form``) is one
line a story, in sections split between lines and packed the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.adapters.base import COMMAND_HELP, Payload, compact_line, utf16_length
from bot.adapters.slack.mrkdwn import (
    ELLIPSIS,
    date_token,
    escape,
    link,
    one_line,
    shorten,
)
from bot.digest.model import Digest, DigestStory, Notice

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_VALUE = 2000

# Our own, stricter budgets: far from Slack's 40,000-character message limit
# and short enough to read on a phone.
MESSAGE_TEXT_BUDGET = 12_000
FALLBACK_BUDGET = 600
TITLE_LIMIT = 300
SOURCE_NAME_LIMIT = 80
NOTE_LIMIT = 300
SOURCES_SHOWN = 2
QUERY_LIMIT = 500

SHARE_ACTION_ID = "meta_ai_share"
# Only a real user ID may become a mention: "Shared by <@U123>".
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
DEFAULT_EMPTY_MESSAGE = "No Meta AI stories to show yet. Check back after the next poll."


def render_digest(digest: Digest) -> list[Payload]:
    """A scheduled digest (or a ``latest`` digest) as messages in posting order."""
    return _render(digest, query=None, share=False, shared_by=None)


def render_answer(
    digest: Digest, query: str | None, *, share: bool, shared_by: str | None = None
) -> list[Payload]:
    """A ``/meta-ai`` answer.

    With ``share`` the last message offers "Share in channel"; ``shared_by`` (a
    Slack user ID; anything else is ignored) credits whoever shared it.
    """
    return _render(digest, query=query, share=share, shared_by=shared_by)


def render_help() -> Payload:
    """``/meta-ai help``: the shared help text, escaped (it contains ``<words>``)."""
    return _payload(_text_blocks(COMMAND_HELP), fallback=escape(COMMAND_HELP.splitlines()[0]))


def render_text(text: str) -> list[Payload]:
    """Any plain text (an admin notice, an error answer) as safe messages."""
    fallback = shorten(one_line(text), FALLBACK_BUDGET) or "(no text)"
    messages = [_Message()]
    for block in _text_blocks(text):
        current = messages[-1] if messages[-1].fits([block]) else _new_message(messages)
        current.add(block)
    return [_payload(message.blocks, fallback=fallback) for message in messages]


def render_notice(notice: Notice) -> list[Payload]:
    """An operational notice for the admin channel."""
    return render_text(notice.text)


def share_query(payload_value: str) -> str | None:
    """The query a "Share in channel" button carries back (empty means the plain latest)."""
    return payload_value.strip() or None


# --- digest rendering ------------------------------------------------------


def _render(
    digest: Digest, *, query: str | None, share: bool, shared_by: str | None
) -> list[Payload]:
    header = _header_text(digest)
    intro: list[Block] = [HeaderBlock(text=PlainTextObject(text=header, emoji=False))]
    notes: list[str] = []
    if query:
        notes.append(f"Stories matching “{shorten(one_line(query), QUERY_LIMIT)}”")
    if shared_by and _USER_ID.match(shared_by):
        notes.append(f"Shared by <@{shared_by}>")
    if notes:
        intro.append(ContextBlock(elements=[_mrkdwn(note) for note in notes]))
    groups = _story_groups(digest)
    if not groups:
        empty = one_line(digest.empty_message or "") or DEFAULT_EMPTY_MESSAGE
        groups = [[_section(shorten(one_line(empty), MAX_SECTION_TEXT))]]
    trailer = [_share_block(query)] if share and digest.stories else []
    messages = _pack(intro, groups, trailer)
    fallbacks = _fallbacks(header, digest, len(messages))
    return [
        _payload(blocks, fallback) for blocks, fallback in zip(messages, fallbacks, strict=True)
    ]


def _header_text(digest: Digest) -> str:
    when = digest.generated_at
    date = f"{when.day} {when:%B %Y}"
    title = digest.title
    return f"{title} · {date}"[:MAX_HEADER_TEXT]


def _story_groups(digest: Digest) -> list[list[Block]]:
    """The stories as groups of blocks that :func:`_pack` keeps together where it can.

    Full form: a group a story, divided from the next. Compact form: all the lines in one
    group of sections, so no divider falls between one-line stories.
    """
    if digest.form == "compact":
        lines = [
            compact_line(story, title=_title_link(story), kind=_kind_text)
            for story in digest.stories
        ]
        return [[_section(text) for text in _line_sections(lines)]] if lines else []
    return [story_blocks(story) for story in digest.stories]


def story_blocks(story: DigestStory) -> list[Block]:
    """One story: its linked title and summary sentences, then a context line."""
    blocks: list[Block] = [_section(text) for text in _story_sections(story)]
    context = _story_context(story)
    if context:
        blocks.append(ContextBlock(elements=[_mrkdwn(text) for text in context]))
    return blocks


def _story_sections(story: DigestStory) -> list[str]:
    """The title line and the sentences, split into section texts between sentences."""
    sections: list[str] = []
    current = f"*{_title_link(story)}*"
    separator = "\n"
    for sentence in story.summary:
        text = shorten(one_line(sentence), MAX_SECTION_TEXT)
        if not text:
            continue
        if utf16_length(current) + utf16_length(separator) + utf16_length(text) > MAX_SECTION_TEXT:
            sections.append(current)
            current, separator = text, " "
            continue
        current, separator = current + separator + text, " "
    sections.append(current)
    return sections


def _title_link(story: DigestStory) -> str:
    """The story's title, escaped and bounded, as a link to the story when the link is safe."""
    title = shorten(one_line(story.title) or one_line(story.url) or "Untitled story", TITLE_LIMIT)
    return link(story.url, title)


def _kind_text(kind: str) -> str:
    """The story's kind in bold ("*deals*"), or nothing when it is blank."""
    text = shorten(one_line(kind), SOURCE_NAME_LIMIT)
    return f"*{text}*" if text else ""


def _story_context(story: DigestStory) -> list[str]:
    """Context elements: kind, sources, time, sources gained since posting, a summary note."""
    elements: list[str] = []
    kind = _kind_text(story.kind or "")
    if kind:
        elements.append(kind)
    sources = _sources_line(story)
    if sources:
        elements.append(sources)
    if story.published is not None:
        elements.append(_time_text(story.published))
    if story.new_sources > 0:
        plural = "s" if story.new_sources != 1 else ""
        elements.append(f"+{story.new_sources} more source{plural} since first posted")
    note = shorten(one_line(story.summary_note or ""), NOTE_LIMIT)
    if note:
        elements.append(f"_{note}_")
    return elements[:MAX_CONTEXT_ELEMENTS]


def _sources_line(story: DigestStory) -> str:
    """ "via The Verge, Axios +2": the first outlets linked to their article."""
    first_url: dict[str, str] = {}
    for source in story.sources:
        first_url.setdefault(source.feed, source.url)
    names = story.source_names()
    shown = [
        link(first_url[name], shorten(one_line(name), SOURCE_NAME_LIMIT), max_url=1000)
        for name in names[:SOURCES_SHOWN]
        if one_line(name)
    ]
    if not shown:
        return ""
    hidden = len(names) - SOURCES_SHOWN
    more = f" +{hidden}" if hidden > 0 else ""
    return "via " + ", ".join(shown) + more


def _time_text(published: datetime) -> str:
    aware = published if published.tzinfo is not None else published.replace(tzinfo=UTC)
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    epoch = int(aware.timestamp())
    # Slack's date token takes a Unix time; before 1970 show the plain date.
    return date_token(epoch, fallback) if epoch >= 0 else escape(fallback)


def _share_block(query: str | None) -> Block:
    value = (query or "")[:MAX_BUTTON_VALUE]
    button = ButtonElement(
        text=PlainTextObject(text="Share in channel", emoji=False),
        action_id=SHARE_ACTION_ID,
        value=value,
    )
    return ActionsBlock(elements=[button])


# --- splitting into messages -----------------------------------------------


@dataclass
class _Message:
    blocks: list[Block] = field(default_factory=list)
    text_size: int = 0
    has_story: bool = False

    def fits(self, extra: Sequence[Block]) -> bool:
        count_ok = len(self.blocks) + len(extra) <= MAX_BLOCKS
        return count_ok and self.text_size + _text_size(extra) <= MESSAGE_TEXT_BUDGET

    def add(self, block: Block) -> None:
        self.blocks.append(block)
        self.text_size += _text_size([block])


def _pack(intro: list[Block], groups: list[list[Block]], trailer: list[Block]) -> list[list[Block]]:
    """Stories into messages: whole stories where possible, never over a limit."""
    messages = [_Message()]
    for block in intro:
        messages[0].add(block)
    for group in groups:
        current = messages[-1]
        with_divider = [DividerBlock(), *group] if current.has_story else group
        if current.has_story and not current.fits(with_divider):
            current = _new_message(messages)
            with_divider = group
        for block in with_divider:
            if not current.fits([block]):
                current = _new_message(messages)
            current.add(block)
        current.has_story = True
    for block in trailer:
        current = messages[-1] if messages[-1].fits([block]) else _new_message(messages)
        current.add(block)
    return [message.blocks for message in messages]


def _new_message(messages: list[_Message]) -> _Message:
    messages.append(_Message())
    return messages[-1]


def _text_size(blocks: Iterable[Block]) -> int:
    size = 0
    for block in blocks:
        if isinstance(block, SectionBlock) and block.text is not None:
            size += utf16_length(block.text.text)
        elif isinstance(block, ContextBlock):
            size += sum(utf16_length(getattr(element, "text", "")) for element in block.elements)
        elif isinstance(block, HeaderBlock) and block.text is not None:
            size += utf16_length(block.text.text)
    return size


def _fallbacks(header: str, digest: Digest, count: int) -> list[str]:
    """The notification text of each message: titles first, then "part i of n"."""
    first = escape(header)
    if not digest.stories:
        empty = one_line(digest.empty_message or "") or DEFAULT_EMPTY_MESSAGE
        return [f"{first}: {shorten(one_line(empty), FALLBACK_BUDGET)}"]
    titles: list[str] = []
    used = utf16_length(first)
    for story in digest.stories:
        title = shorten(one_line(story.title), 150)
        if used + utf16_length(title) + 2 > FALLBACK_BUDGET:
            titles.append(ELLIPSIS)
            break
        titles.append(title)
        used += utf16_length(title) + 2
    if titles:
        first = f"{first}: " + "; ".join(titles)
    return [first] + [
        f"{escape(header)} (part {index} of {count})" for index in range(2, count + 1)
    ]


# --- small builders ------------------------------------------------------------


def _mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not turn bare words like "@here" or "#general" from a
    # feed into mentions or channel links; our explicit <url|label> links still work.
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))


def _text_blocks(text: str) -> list[Block]:
    """Plain text as sections, split between lines (or words for a giant line)."""
    lines = text.splitlines() or [""]
    pieces = [shorten(line.strip(), MAX_SECTION_TEXT) if line.strip() else "" for line in lines]
    return [_section(section) for section in _line_sections(pieces)]


def _line_sections(pieces: Iterable[str]) -> list[str]:
    """Lines of mrkdwn (each already safe and within a section) joined into as few section
    texts as fit, split only between lines."""
    sections: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n{piece}" if current else piece
        if utf16_length(joined) <= MAX_SECTION_TEXT:
            current = joined
            continue
        sections.append(current)
        current = piece
    if current or not sections:
        sections.append(current or "(no text)")
    return sections


def _payload(blocks: Sequence[Block], fallback: str) -> Payload:
    return {
        "text": fallback,
        "blocks": [block.to_dict() for block in blocks],
        "unfurl_links": False,
        "unfurl_media": False,
    }
