"""The terminal adapter: digests on standard output, as text or JSON.

It is what the bot uses when no chat platform is configured, so a fresh
install shows its work at once. Registered through the same entry-point group
as every other adapter.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.adapters.base import (
    ChatAdapter,
    Payload,
    compact_line,
    escape_controls,
    utc_minute,
    validation_problems,
)
from bot.digest.model import Digest, DigestStory, Notice

STDOUT = "stdout"


class TerminalOptions(BaseModel):
    """The ``[adapters.terminal]`` table."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["text", "json"] = "text"


def parse_options(options: Mapping[str, Any]) -> TerminalOptions:
    """``[adapters.terminal]``, or a ValueError naming each bad key."""
    try:
        return TerminalOptions.model_validate(dict(options))
    except ValidationError as error:
        problems = "; ".join(validation_problems(error, whole="(table)", model=TerminalOptions))
        raise ValueError(f"[adapters.terminal] {problems}") from None


# Text digests read at 80 columns: every line wraps there, continuation lines indented.
TEXT_WIDTH = 80
INDENT = "   "


def wrapped(text: str, first: str = INDENT, rest: str = INDENT) -> list[str]:
    """``text`` as lines of at most TEXT_WIDTH columns (a longer word, a URL, stays whole)."""
    return textwrap.wrap(
        text,
        width=TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def render_story_text(number: int, story: DigestStory) -> list[str]:
    when = utc_minute(story.published, missing="undated")
    names = story.source_names()
    via = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
    lines = [*wrapped(story.title, f"{number}. "), f"{INDENT}{story.url}"]
    if story.new_sources:
        plural = "s" if story.new_sources != 1 else ""
        lines.append(f"{INDENT}(already posted; +{story.new_sources} more source{plural})")
    for sentence in story.summary:
        lines.extend(wrapped(sentence))
    if story.summary_note:
        lines.extend(wrapped(f"[{story.summary_note}]"))
    kind = f"{story.kind} · " if story.kind else ""
    lines.extend(wrapped(f"{kind}via {via} · {when}"))
    return lines


def render_compact_story(story: DigestStory) -> list[str]:
    """One story of a compact digest: a terminal cannot link, so the URL ends the line.

    Wrapped at TEXT_WIDTH like every text line; the URL is never broken, so it stays
    clickable.
    """
    return wrapped(f"{compact_line(story, title=story.title)} {story.url}", "", "  ")


def render_text(digest: Digest) -> str:
    title = digest.title
    header = f"{title} — {utc_minute(digest.generated_at)}"
    if not digest.stories and not digest.updates:
        return f"{header}\n{digest.empty_message or 'Nothing new.'}"
    lines = [header, ""]
    if digest.form == "compact":
        for story in digest.stories:
            lines.extend(render_compact_story(story))
        if digest.stories:
            lines.append("")
    else:
        for number, story in enumerate(digest.stories, start=1):
            lines.extend(render_story_text(number, story))
            lines.append("")
    if digest.updates:
        lines.append("Updates of stories already posted:")
        for update in digest.updates:
            first, *rest = update.text().splitlines()
            lines.extend(wrapped(first, "- ", INDENT))
            for sentence in rest:
                lines.extend(wrapped(sentence))
        lines.append("")
    return "\n".join(lines).rstrip()


def render_digest(digest: Digest, output_format: str) -> str:
    """The digest as the terminal shows it; JSON is the documented `--format json` shape."""
    if output_format == "json":
        return json.dumps(digest.to_json_dict(), ensure_ascii=False, indent=2)
    return render_text(digest)


class TerminalAdapter(ChatAdapter):
    """Prints digests; it has no channels and serves no commands."""

    name: ClassVar[str] = "terminal"

    def __init__(self, output_format: str = "text", stream: TextIO | None = None) -> None:
        self.output_format = output_format
        self.stream = stream

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str], options: Mapping[str, Any]
    ) -> TerminalAdapter:
        return cls(parse_options(options).format)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        parse_options(options)

    def destinations(self) -> list[str]:
        return [STDOUT]

    def admin_destinations(self) -> list[str]:
        return [STDOUT]

    def render(self, digest: Digest) -> list[Payload]:
        return [{"text": render_digest(digest, self.output_format)}]

    def separate_updates(self, destination: str) -> bool:
        """Updates are part of the digest here: `digest --format json` stays one document."""
        return False

    def render_notice(self, notice: Notice) -> list[Payload]:
        if self.output_format == "json":
            return [
                {
                    "text": json.dumps(
                        {"notice": notice.text, "generated_at": notice.generated_at.isoformat()}
                    )
                }
            ]
        return [{"text": f"NOTICE: {notice.text}"}]

    async def send(self, destination: str, payload: Payload, *, key: str) -> str | None:
        stream = self.stream or sys.stdout
        # Feed text is cleaned when stored; a notice quotes a server's error as it came.
        text = escape_controls(str(payload.get("text", "")), keep_newlines=True)
        stream.write(text + "\n")
        stream.flush()
        return key
