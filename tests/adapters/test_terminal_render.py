"""The terminal's compact form: a line a story, the URL after it; the full form unchanged."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from bot.adapters.terminal import TEXT_WIDTH, TerminalAdapter, render_digest, render_text
from bot.digest.model import Digest, DigestSource, DigestStory, StoryUpdate

NOW = datetime(2025, 4, 5, 9, 0, tzinfo=UTC)


def story(index: int, **changes: Any) -> DigestStory:
    fields: dict[str, Any] = {
        "id": f"s{index}",
        "title": f"Meta releases Llama {index}",
        "url": f"https://ai.meta.com/blog/llama-{index}/",
        "published": NOW,
        "summary": ["Meta released a new model."],
        "sources": [
            DigestSource(title="a", url="https://theverge.com/a", feed="The Verge"),
            DigestSource(title="b", url="https://axios.com/b", feed="Axios"),
            DigestSource(title="c", url="https://theverge.com/c", feed="The Verge"),
        ],
    }
    fields.update(changes)
    return DigestStory(**fields)


def test_a_compact_digest_is_one_line_a_story_with_url_kind_and_outlets() -> None:
    stories = [story(1, kind="models"), story(2, sources=story(2).sources[:1])]
    text = render_text(Digest(generated_at=NOW, stories=stories, form="compact"))

    assert text.splitlines() == [
        "Meta AI digest — 2025-04-05 09:00 UTC",
        "",
        "• Meta releases Llama 1 (models · 2 outlets) https://ai.meta.com/blog/llama-1/",
        "• Meta releases Llama 2 (1 outlet) https://ai.meta.com/blog/llama-2/",
    ]
    assert "released" not in text  # no summary sentence


def test_a_long_compact_line_wraps_at_80_columns_and_keeps_its_url_whole() -> None:
    url = "https://ai.meta.com/blog/" + "a-very-long-path-" * 6
    title = "Meta releases Llama with a headline long enough to need a second line"
    text = render_text(
        Digest(generated_at=NOW, stories=[story(1, title=title, url=url)], form="compact")
    )

    lines = text.splitlines()[2:]
    assert lines[0].startswith("• Meta releases") and all(
        line.startswith("  ") for line in lines[1:]
    )
    assert all(len(line) <= TEXT_WIDTH for line in lines if url not in line)
    assert "  " + url in lines
    assert " ".join(line.strip() for line in lines) == f"• {title} (2 outlets) {url}"


def test_updates_follow_the_compact_lines_as_in_the_full_form() -> None:
    update = StoryUpdate(
        story=story(9), new_sources=story(9).sources[:1], new_sentences=["It is open."]
    )
    full = Digest(generated_at=NOW, stories=[story(1)], updates=[update])
    compact = full.model_copy(update={"form": "compact"})

    def tail(text: str) -> list[str]:
        lines = text.splitlines()
        return lines[lines.index("Updates of stories already posted:") :]

    assert tail(render_text(compact)) == tail(render_text(full))
    assert (
        tail(render_text(compact))[1]
        == "- Update on “Meta releases Llama 9”: +1 source (The Verge)"
    )


def test_an_empty_compact_digest_shows_the_empty_message() -> None:
    digest = Digest(generated_at=NOW, form="compact", empty_message="Nothing today.")
    assert render_text(digest) == "Meta AI digest — 2025-04-05 09:00 UTC\nNothing today."


async def test_control_characters_in_a_compact_title_are_spelled_out_when_printed() -> None:
    hostile = story(1, title="Llama \x1b[31mred\x1b]8;;https://evil.example\x07")
    adapter = TerminalAdapter(stream=io.StringIO())
    [payload] = adapter.render(Digest(generated_at=NOW, stories=[hostile], form="compact"))

    await adapter.send("stdout", payload, key="k")

    assert isinstance(adapter.stream, io.StringIO)
    printed = adapter.stream.getvalue()
    assert "\x1b" not in printed and "\x07" not in printed
    assert "• Llama \\x1b[31mred\\x1b]8;;https://evil.example\\x07 (2 outlets)" in printed


def test_json_carries_the_form_and_the_same_stories() -> None:
    full = Digest(generated_at=NOW, stories=[story(1, kind="deals")])
    compact = full.model_copy(update={"form": "compact"})

    as_full = json.loads(render_digest(full, "json"))
    as_compact = json.loads(render_digest(compact, "json"))

    assert (as_full["form"], as_compact["form"]) == ("full", "compact")
    assert as_compact["stories"] == as_full["stories"]
