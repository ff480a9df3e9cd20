"""Discord rendering: every digest fits Discord's limits and never carries a live mention.

The limit checks below are written from Discord's documentation, independently
of the renderer's own budget arithmetic, so a budget mistake shows up here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.discord.render import render_digest, render_notice
from bot.adapters.discord.text import neutralise_mentions, truncate
from bot.digest.model import Digest, DigestSource, DigestStory, Notice

# What Discord turns into a mention (matched case-insensitively to be strict).
LIVE_MENTION = re.compile(
    r"@(everyone|here)|<@[!&]?\d+>|<#\d+>|</[^:>]+:\d+>|<t:-?\d+(:[tTdDfFR])?>"
    r"|<a?:\w+:\d+>|<id:\w+>",
    re.IGNORECASE,
)
MARKDOWN_LINK_TARGET = re.compile(r"\]\(([^)]*)\)")
# A masked link Discord would render: "[label](target)" whose "[" is not escaped.
LIVE_MASKED_LINK = re.compile(r"(?<!\\)\[[^\[\]]*\]\(([^)]*)\)")
NOW = datetime(2025, 4, 5, 9, 0, tzinfo=UTC)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def text_parts(message: dict[str, Any]) -> list[str]:
    """Every string Discord shows from a message: content and the embeds' texts."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [(embed.get("footer") or {}).get("text") or ""]
        parts += [(embed.get("author") or {}).get("name") or ""]
        for field in embed.get("fields") or []:
            parts += [field["name"], field["value"]]
    return parts


def limit_violations(message: dict[str, Any]) -> list[str]:
    """Discord's documented message and embed limits, checked in code points and UTF-16."""
    problems: list[str] = []

    def check(label: str, text: str, limit: int) -> None:
        if max(len(text), utf16(text)) > limit:
            problems.append(f"{label} is {utf16(text)} > {limit}")

    content = message.get("content") or ""
    embeds = message.get("embeds") or []
    check("content", content, 2000)
    if not content.strip() and not embeds:
        problems.append("empty message")
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds > 10")
    total = 0
    for index, embed in enumerate(embeds):
        check(f"embed {index} title", embed.get("title") or "", 256)
        check(f"embed {index} description", embed.get("description") or "", 4096)
        check(f"embed {index} footer", (embed.get("footer") or {}).get("text") or "", 2048)
        check(f"embed {index} author", (embed.get("author") or {}).get("name") or "", 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"embed {index} has {len(fields)} fields > 25")
        for field in fields:
            check(f"embed {index} field name", field["name"], 256)
            check(f"embed {index} field value", field["value"], 1024)
            if not field["name"].strip() or not field["value"].strip():
                problems.append(f"embed {index} has a blank field")
        texts = [embed.get("title") or "", embed.get("description") or ""]
        texts += [(embed.get("footer") or {}).get("text") or ""]
        texts += [(embed.get("author") or {}).get("name") or ""]
        texts += [f["name"] + f["value"] for f in fields]
        total += sum(utf16(t) for t in texts)
    if total > 6000:
        problems.append(f"embeds total {total} > 6000")
    return problems


def links(message: dict[str, Any]) -> list[str]:
    """Every URL a reader could follow: embed links, thumbnails and markdown link targets."""
    found: list[str] = []
    for embed in message.get("embeds") or []:
        found += [u for u in (embed.get("url"), (embed.get("thumbnail") or {}).get("url")) if u]
        for field in embed.get("fields") or []:
            found += MARKDOWN_LINK_TARGET.findall(field["value"])
    return found


def story(index: int = 0, **changes: Any) -> DigestStory:
    values: dict[str, Any] = {
        "id": f"s{index}",
        "title": f"Meta releases Llama {index}",
        "url": f"https://ai.meta.com/blog/llama-{index}/",
        "published": NOW - timedelta(hours=index),
        "summary": ["Meta released a new model.", "It is open weights."],
        "sources": [
            DigestSource(title="Meta blog", url=f"https://ai.meta.com/b/{index}", feed="Meta AI"),
            DigestSource(title="Verge", url=f"https://theverge.com/{index}", feed="The Verge"),
        ],
    }
    values.update(changes)
    return DigestStory(**values)


# --- examples -----------------------------------------------------------------------------


def test_a_story_is_one_embed_with_linked_title_summary_sources_time_and_thumbnail() -> None:
    digest = Digest(
        generated_at=NOW,
        stories=[story(image="https://cdn.example.com/llama.png", new_sources=2)],
    )

    [message] = render_digest(digest)

    assert message["content"] == "**Meta AI digest** · 2025-04-05 · 1 story"
    [embed] = message["embeds"]
    assert embed["title"] == "Meta releases Llama 0"
    assert embed["url"] == "https://ai.meta.com/blog/llama-0/"
    assert embed["description"] == "Meta released a new model. It is open weights."
    assert embed["timestamp"] == "2025-04-05T09:00:00+00:00"
    assert embed["thumbnail"] == {"url": "https://cdn.example.com/llama.png"}
    assert embed["footer"]["text"] == "Sources: Meta AI, The Verge · +2 more sources"
    assert embed["fields"] == [
        {
            "name": "Sources",
            "value": "[Meta AI](https://ai.meta.com/b/0) · [The Verge](https://theverge.com/0)",
            "inline": False,
        }
    ]


def test_a_storys_kind_opens_the_footer() -> None:
    [message] = render_digest(Digest(generated_at=NOW, stories=[story(kind="models")]))
    [embed] = message["embeds"]
    assert embed["footer"]["text"] == "models · Sources: Meta AI, The Verge"


def test_story_times_are_sent_in_utc_and_naive_times_are_taken_as_utc() -> None:
    paris = timezone(timedelta(hours=2))
    aware = story(published=datetime(2025, 4, 5, 11, 0, tzinfo=paris))
    naive = story(1, published=datetime(2025, 4, 5, 9, 0))

    [message] = render_digest(Digest(generated_at=NOW, stories=[aware, naive]))

    assert [e["timestamp"] for e in message["embeds"]] == ["2025-04-05T09:00:00+00:00"] * 2


def test_latest_answers_say_so_and_a_summary_note_reaches_the_footer() -> None:
    note = "Summarised from the feed's snippet."
    digest = Digest(generated_at=NOW, kind="latest", stories=[story(summary_note=note)])

    [message] = render_digest(digest)

    assert message["content"] == "**Latest Meta AI news** · 1 story"
    assert message["embeds"][0]["footer"]["text"].endswith(" · " + note)


def test_an_empty_digest_is_the_friendly_line_without_embeds() -> None:
    digest = Digest(generated_at=NOW, kind="latest", empty_message="No Meta AI news yet: @here")

    assert render_digest(digest) == [{"content": "No Meta AI news yet: @\u200bhere", "embeds": []}]


def test_twenty_five_stories_become_three_messages_in_order() -> None:
    digest = Digest(generated_at=NOW, stories=[story(i) for i in range(25)])

    messages = render_digest(digest)

    assert [len(m["embeds"]) for m in messages] == [10, 10, 5]
    assert [m["content"][-5:] for m in messages] == ["(1/3)", "(2/3)", "(3/3)"]
    urls = [e["url"] for m in messages for e in m["embeds"]]
    assert urls == [f"https://ai.meta.com/blog/llama-{i}/" for i in range(25)]


def test_long_summaries_are_cut_and_split_by_the_6000_character_budget() -> None:
    sentence = "Meta's Llama team published a very detailed technical report today. "
    stories = [story(i, summary=[sentence * 100]) for i in range(4)]

    messages = render_digest(Digest(generated_at=NOW, stories=stories))

    assert all(not limit_violations(m) for m in messages)
    assert [len(m["embeds"]) for m in messages] == [1, 1, 1, 1]
    assert all(e["description"].endswith("…") for m in messages for e in m["embeds"])


def test_feed_markdown_is_escaped_and_mentions_are_dead() -> None:
    hostile = story(
        title="**Llama** @everyone <@&123456789012345678>",
        summary=["Ping <@!123456789012345678> and @here, _now_."],
        sources=[DigestSource(title="x", url="https://e.com/@everyone", feed="<@42> Feed")],
    )

    [message] = render_digest(Digest(generated_at=NOW, stories=[hostile]))

    embed = message["embeds"][0]
    assert embed["title"] == "\\*\\*Llama\\*\\* @\u200beveryone <@\u200b&123456789012345678>"
    assert embed["description"] == "Ping <@\u200b!123456789012345678> and @\u200bhere, \\_now\\_."
    assert embed["fields"][0]["value"] == "[<@\u200b42> Feed](https://e.com/%40everyone)"
    assert not any(LIVE_MENTION.search(part) for part in text_parts(message))


def test_channel_command_and_timestamp_mentions_are_dead() -> None:
    hostile = story(
        title="Join <#123456789012345678> and run </meta-ai:987654321098765432>",
        summary=[
            "Out <t:1700000000:R>, see <t:1700000000> and </ban user:42> <:llama:1234> <id:browse>"
        ],
        sources=[DigestSource(title="x", url="https://e.com/a", feed="<#42> <t:1:F> Feed")],
    )

    [message] = render_digest(Digest(generated_at=NOW, stories=[hostile]))

    embed = message["embeds"][0]
    z = "\u200b"
    assert embed["title"] == (
        f"Join <{z}#123456789012345678> and run <{z}/meta-ai:987654321098765432>"
    )
    assert embed["description"] == (
        f"Out <{z}t:1700000000:R>, see <{z}t:1700000000> and <{z}/ban user:42> "
        f"<{z}:llama:1234> <{z}id:browse>"
    )
    assert embed["fields"][0]["value"] == f"[<{z}#42> <{z}t:1:F> Feed](https://e.com/a)"
    assert not any(LIVE_MENTION.search(part) for part in text_parts(message))
    notice = render_notice(Notice(generated_at=NOW, text="see <#1> at <t:2:R> via </x:3>"))
    assert notice[0]["content"] == f"see <{z}#1> at <{z}t:2:R> via <{z}/x:3>"


def test_only_http_and_https_links_survive() -> None:
    risky = story(
        url="javascript:alert(1)",
        image="data:image/png;base64,AAAA",
        sources=[
            DigestSource(title="a", url="ftp://files.example.com/x", feed="FTP"),
            DigestSource(title="b", url="https://ok.example.com/a (b)", feed="Spaces"),
            DigestSource(title="c", url="https://ok.example.com/(c)", feed="Parens"),
        ],
    )

    [message] = render_digest(Digest(generated_at=NOW, stories=[risky]))

    embed = message["embeds"][0]
    assert "url" not in embed
    assert "thumbnail" not in embed
    assert embed["fields"][0]["value"] == "[Parens](https://ok.example.com/%28c%29)"


def test_a_story_with_hundreds_of_sources_keeps_its_links_field_in_bounds() -> None:
    many = [
        DigestSource(title=f"t{i}", url=f"https://news{i}.example.com/story", feed=f"Outlet {i}")
        for i in range(300)
    ]

    [message] = render_digest(Digest(generated_at=NOW, stories=[story(sources=many)]))

    assert limit_violations(message) == []
    value = message["embeds"][0]["fields"][0]["value"]
    assert re.search(r"\+\d+ more$", value)
    shown = value.count("](")
    assert value.endswith(f"+{300 - shown} more")


def test_long_notices_are_split_at_line_breaks_under_2000_characters() -> None:
    lines = [f"Feed {i} was disabled after 10 failures: @everyone look" for i in range(100)]

    messages = render_notice(Notice(generated_at=NOW, text="\n".join(lines)))

    assert len(messages) > 1
    assert all(not limit_violations(m) and m["embeds"] == [] for m in messages)
    rejoined = "\n".join(m["content"] for m in messages)
    assert rejoined == neutralise_mentions("\n".join(lines))


def test_truncation_never_splits_a_surrogate_pair_or_leaves_a_dangling_escape() -> None:
    assert truncate("🦙" * 10, 7) == "🦙🦙🦙…"
    assert truncate("abc\\*def", 5) == "abc…"


# --- the compact form ----------------------------------------------------------------------


def compact_lines(messages: list[dict[str, Any]]) -> list[str]:
    """Every line of the compact embeds' descriptions, in posting order."""
    return [
        line
        for message in messages
        for embed in message["embeds"]
        for line in embed["description"].split("\n")
    ]


def test_a_compact_digest_is_one_line_a_story_with_link_kind_and_outlets() -> None:
    one_outlet = story(1, sources=story(1).sources[:1])
    digest = Digest(generated_at=NOW, stories=[story(kind="models"), one_outlet], form="compact")

    [message] = render_digest(digest)

    assert message["content"] == "**Meta AI digest** · 2025-04-05 · 2 stories"
    [embed] = message["embeds"]
    assert embed["description"] == (
        "• [Meta releases Llama 0](https://ai.meta.com/blog/llama-0/) (models · 2 outlets)\n"
        "• [Meta releases Llama 1](https://ai.meta.com/blog/llama-1/) (1 outlet)"
    )
    assert embed["color"] == 0x0866FF
    assert "released" not in json.dumps(message)  # no summary sentence
    assert "fields" not in embed and "title" not in embed


def test_hostile_titles_stay_escaped_in_compact_form() -> None:
    hostile = story(
        title="**Llama** @everyone <@&123456789012345678> [click](https://evil.example) <t:1:R>",
        kind="_<#42>_",
    )
    unsafe = story(1, title="Unsafe", url="javascript:alert(1)")
    parens = story(2, title="Parens", url="https://ok.example.com/(c) @here")

    [message] = render_digest(
        Digest(generated_at=NOW, stories=[hostile, unsafe, parens], form="compact")
    )

    assert limit_violations(message) == []
    first, second, third = compact_lines([message])
    z = "\u200b"
    assert first == (
        f"• [\\*\\*Llama\\*\\* @{z}everyone <@{z}&123456789012345678> (click)"
        f"(https://evil.example) <{z}t:1:R>](https://ai.meta.com/blog/llama-0/) "
        f"(\\_<{z}#42>\\_ · 2 outlets)"
    )
    assert second == "• Unsafe (2 outlets)"
    assert third == "• Parens (2 outlets)"  # a URL with a space is no web link
    assert not any(LIVE_MENTION.search(part) for part in text_parts(message))
    assert LIVE_MASKED_LINK.findall(first) == ["https://ai.meta.com/blog/llama-0/"]


def test_a_compact_link_too_long_once_escaped_becomes_its_label() -> None:
    url = "https://example.com/" + "()" * 1000  # 2,020 characters, 6,020 escaped
    [message] = render_digest(
        Digest(generated_at=NOW, stories=[story(title="Long", url=url)], form="compact")
    )
    assert compact_lines([message]) == ["• Long (2 outlets)"]


def test_a_compact_digest_of_many_stories_splits_within_limits_in_order() -> None:
    title = "Meta releases Llama {} " + "with a long headline " * 10
    stories = [story(i, title=title.format(i), kind="models") for i in range(200)]

    messages = render_digest(Digest(generated_at=NOW, stories=stories, form="compact"))

    assert len(messages) > 1
    assert all(limit_violations(m) == [] for m in messages)
    count = len(messages)
    assert [m["content"] for m in messages] == [
        f"**Meta AI digest** · 2025-04-05 · 200 stories ({n}/{count})" for n in range(1, count + 1)
    ]
    lines = compact_lines(messages)
    assert [re.findall(r"Llama (\d+) ", line) for line in lines] == [[str(i)] for i in range(200)]
    assert all(line.endswith("(models · 2 outlets)") for line in lines)


def test_an_empty_compact_digest_is_the_friendly_line() -> None:
    digest = Digest(generated_at=NOW, empty_message="Nothing today.", form="compact")

    assert render_digest(digest) == [{"content": "Nothing today.", "embeds": []}]


# --- properties -----------------------------------------------------------------------------

TRICKY = [
    "@everyone",
    "@here",
    "@Everyone",
    "@HERE",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "<@1>",
    "<#123456789012345678>",
    "</meta-ai:123456789012345678>",
    "</ban user:42>",
    "<t:1700000000>",
    "<t:1700000000:R>",
    "<:llama:123>",
    "<a:llama:123>",
    "<id:browse>",
    "#1>",
    "t:1>",
    "@",
    "<",
    "&",
    "*",
    "_",
    "~",
    "`",
    "|",
    "\\",
    "[",
    "]",
    "(",
    ")",
    "> ",
    "# ",
    "\n",
    "🦙",
    "\u200b",
    "https://",
    " ",
    "\ud800",
    "\udd99",
    "\ud83e",
    "\x00",
    "\x1b[31m",
    "\r\n",
]

fragments = st.one_of(st.text(max_size=20), st.sampled_from(TRICKY))
feed_text = st.lists(fragments, max_size=6).map("".join)
# Cheap to draw, long to render: a short piece repeated up to 2,000 times.
long_text = st.builds(lambda piece, n: piece * n, feed_text, st.integers(1, 2000))
any_text = st.one_of(feed_text, long_text)
urls = st.one_of(
    st.sampled_from(
        [
            "https://ai.meta.com/blog/llama/",
            "http://example.com/a_(b)",
            "https://mastodon.social/@everyone",
            "https://x.com/<@123456789012345678>",
            "javascript:alert(1)",
            "ftp://example.com/file",
            "https://",
            "",
            "https://example.com/" + "a" * 3000,
        ]
    ),
    st.builds(lambda path: "https://example.com/" + path, feed_text),
)
offsets = st.one_of(
    st.none(),
    st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    ),
)
sources = st.builds(DigestSource, title=any_text, url=urls, feed=any_text)
stories = st.builds(
    DigestStory,
    id=st.text(min_size=1, max_size=5),
    title=any_text,
    url=urls,
    published=st.one_of(st.none(), st.datetimes(timezones=offsets)),
    summary=st.lists(any_text, max_size=4),
    sources=st.lists(sources, max_size=5),
    image=st.one_of(st.none(), urls),
    new_sources=st.integers(0, 10_000),
    summary_note=st.one_of(st.none(), any_text),
    kind=st.one_of(st.none(), feed_text),
)
digests = st.builds(
    Digest,
    generated_at=st.datetimes(timezones=offsets),
    stories=st.lists(stories, max_size=12),
    kind=st.sampled_from(["digest", "latest"]),
    empty_message=st.one_of(st.none(), any_text),
)

PROPERTY_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(digests)
def test_no_digest_renders_over_a_limit_or_with_a_live_mention_or_a_non_web_link(
    digest: Digest,
) -> None:
    messages = render_digest(digest)

    assert messages
    assert sum(len(m["embeds"]) for m in messages) == len(digest.stories)
    for message in messages:
        assert limit_violations(message) == []
        # Sendable as UTF-8 JSON: no lone surrogate survives.
        json.dumps(message, ensure_ascii=False).encode("utf-8")
        for part in text_parts(message):
            assert not LIVE_MENTION.search(part), part
        for url in links(message):
            assert urlsplit(url).scheme in ("http", "https"), url
            assert not any(c.isspace() for c in url), url


@PROPERTY_SETTINGS
@given(digests)
def test_no_compact_digest_renders_over_a_limit_or_with_a_live_mention_or_a_non_web_link(
    digest: Digest,
) -> None:
    messages = render_digest(digest.model_copy(update={"form": "compact"}))

    assert messages
    if digest.stories:
        assert len(compact_lines(messages)) == len(digest.stories)
    for message in messages:
        assert limit_violations(message) == []
        json.dumps(message, ensure_ascii=False).encode("utf-8")
        for part in text_parts(message):
            assert not LIVE_MENTION.search(part), part
        for embed in message["embeds"]:
            for url in LIVE_MASKED_LINK.findall(embed["description"]):
                assert urlsplit(url).scheme in ("http", "https"), url
                assert not any(c.isspace() for c in url), url


@PROPERTY_SETTINGS
@given(st.builds(Notice, generated_at=st.just(NOW), text=any_text))
def test_no_notice_renders_over_the_limit_or_with_a_live_mention(notice: Notice) -> None:
    for message in render_notice(notice):
        assert limit_violations(message) == []
        json.dumps(message, ensure_ascii=False).encode("utf-8")
        assert not LIVE_MENTION.search(message["content"])


@given(any_text, st.integers(1, 5000))
def test_truncate_respects_the_limit_in_utf16_units(text: str, limit: int) -> None:
    cut = truncate(text, limit)

    assert utf16(cut) <= limit
    assert cut == text or cut.endswith("…")
