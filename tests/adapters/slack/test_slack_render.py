"""Slack rendering: Block Kit within Slack's limits, feed text inert, nothing cut in half."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.base import COMMAND_HELP, utf16_length
from bot.adapters.slack.mrkdwn import escape, safe_url, shorten
from bot.adapters.slack.render import (
    SHARE_ACTION_ID,
    render_answer,
    render_digest,
    render_help,
    render_notice,
)
from bot.digest.model import Digest, DigestSource, DigestStory, Notice

NOW = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)

# --- an independent oracle of what Slack accepts and what it would parse ----------

# What our own markup may look like: a link to http(s), or a date token.
_LINK = re.compile(r"^https?://[^\s<>|]+\|[^<>]*$")
_DATE = re.compile(r"^!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>]*$")
_MENTION_OF_SHARER = re.compile(r"^@U[A-Z0-9]+$")
_ANGLE = re.compile(r"<([^<>]*)>")
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def control_sequence_problems(text: str, *, allow_sharer: bool = False) -> list[str]:
    """Every <...> must be a link or date token we made; no raw < > or bare &."""
    problems = []
    for inner in _ANGLE.findall(text):
        allowed = _LINK.match(inner) or _DATE.match(inner)
        if not allowed and not (allow_sharer and _MENTION_OF_SHARER.match(inner)):
            problems.append(f"unexpected control sequence <{inner}>")
    outside = _ANGLE.sub("", text)
    if "<" in outside or ">" in outside:
        problems.append(f"raw angle bracket in {outside[:80]!r}")
    if _BARE_AMPERSAND.search(text):
        problems.append("unescaped &")
    return problems


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts.extend(element["text"] for element in block["elements"])
    return texts


def limit_problems(payload: dict[str, Any]) -> list[str]:
    problems = []
    blocks = payload["blocks"]
    if not 0 < len(blocks) <= 50:
        problems.append(f"{len(blocks)} blocks")
    if not payload["text"] or utf16_length(payload["text"]) > 4000:
        problems.append("fallback text empty or too long")
    if payload.get("unfurl_links") is not False or payload.get("unfurl_media") is not False:
        problems.append("unfurling not disabled")
    for block in blocks:
        kind = block["type"]
        if kind == "header" and utf16_length(block["text"]["text"]) > 150:
            problems.append("header over 150")
        if kind == "section":
            text = block["text"]["text"]
            if not text.strip() or utf16_length(text) > 3000:
                problems.append(f"section of {utf16_length(text)} characters")
        if kind == "context":
            elements = block["elements"]
            if not 0 < len(elements) <= 10:
                problems.append(f"context with {len(elements)} elements")
            problems += [
                "context element over 3000"
                for element in elements
                if utf16_length(element["text"]) > 3000
            ]
        if kind == "actions":
            for element in block["elements"]:
                if (
                    utf16_length(element["text"]["text"]) > 75
                    or len(element.get("value", "")) > 2000
                ):
                    problems.append("button over its limits")
    return problems


def story(index: int, **changes: Any) -> DigestStory:
    fields: dict[str, Any] = {
        "id": f"s{index}",
        "title": f"Meta ships Llama update {index}",
        "url": f"https://ai.meta.com/blog/update-{index}",
        "published": NOW - timedelta(hours=1),
        "summary": [f"Meta announced update {index} today.", "It is faster and cheaper."],
        "sources": [
            DigestSource(title="a", url="https://www.theverge.com/a", feed="The Verge"),
            DigestSource(title="b", url="https://www.axios.com/b", feed="Axios"),
            DigestSource(title="c", url="https://techcrunch.com/c", feed="TechCrunch"),
            DigestSource(title="d", url="https://arstechnica.com/d", feed="Ars Technica"),
        ],
    }
    fields.update(changes)
    return DigestStory(**fields)


def all_text(payloads: list[dict[str, Any]]) -> str:
    return "\n".join(text for payload in payloads for text in mrkdwn_texts(payload))


# --- escaping ---------------------------------------------------------------------


def test_mentions_and_broadcasts_from_feeds_become_plain_text() -> None:
    hostile = "Breaking <!channel> <!here> <@U123> <#C999> <https://evil.example|click> & co"
    escaped = escape(hostile)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.count("&amp;") == 1
    assert unescape(escaped) == hostile


def test_only_http_and_https_links_survive() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:text/html,<b>x</b>") is None
    assert safe_url("mailto:a@b.c") is None
    assert safe_url("https://") is None
    assert safe_url("https://example.com/a b|c>d?x=1&y=2") == (
        "https://example.com/a%20b%7Cc%3Ed?x=1&amp;y=2"
    )


def test_shorten_cuts_between_words_and_never_inside_an_entity() -> None:
    text = "&&& " * 400
    cut = shorten(text, 100)
    assert utf16_length(cut) <= 100
    assert cut.endswith("…")
    assert not _BARE_AMPERSAND.search(cut)
    assert cut[:-1].rstrip().endswith("&amp;&amp;&amp;")


@given(st.text())
def test_escaping_round_trips_and_leaves_no_control_character(text: str) -> None:
    escaped = escape(text)
    assert unescape(escaped) == text
    assert control_sequence_problems(escaped) == []


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_shorten_respects_its_limit(text: str, limit: int) -> None:
    cut = shorten(text, limit)
    assert utf16_length(cut) <= max(limit, 1)
    assert control_sequence_problems(cut) == []


# --- digests ------------------------------------------------------------------------


def test_a_story_renders_title_link_summary_sources_and_time() -> None:
    digest = Digest(generated_at=NOW, stories=[story(1)])
    [payload] = render_digest(digest)
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Meta AI digest · 31 January 2025", "emoji": False},
    }
    assert section["text"]["text"] == (
        "*<https://ai.meta.com/blog/update-1|Meta ships Llama update 1>*\n"
        "Meta announced update 1 today. It is faster and cheaper."
    )
    assert section["text"]["verbatim"] is True
    elements = [element["text"] for element in context["elements"]]
    assert elements[0] == (
        "via <https://www.theverge.com/a|The Verge>, <https://www.axios.com/b|Axios> +2"
    )
    epoch = int((NOW - timedelta(hours=1)).timestamp())
    assert elements[1] == f"<!date^{epoch}^{{date_short_pretty}} {{time}}|2025-01-31 08:00 UTC>"
    assert payload["text"] == "Meta AI digest · 31 January 2025: Meta ships Llama update 1"
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False


def test_new_sources_and_summary_note_appear_in_the_context_line() -> None:
    digest = Digest(
        generated_at=NOW,
        stories=[story(1, new_sources=2, summary_note="Summary from the feed snippet.")],
    )
    context = render_digest(digest)[0]["blocks"][2]
    texts = [element["text"] for element in context["elements"]]
    assert "+2 more sources since first posted" in texts
    assert "_Summary from the feed snippet._" in texts


def test_a_storys_kind_opens_the_context_line() -> None:
    digest = Digest(generated_at=NOW, stories=[story(1, kind="deals")])
    context = render_digest(digest)[0]["blocks"][2]
    texts = [element["text"] for element in context["elements"]]
    assert texts[0] == "*deals*"
    assert texts[1].startswith("via ")


def test_hostile_story_pings_nobody_and_keeps_its_text() -> None:
    hostile = story(
        1,
        title="<!channel> Llama <@U123> & <!here>",
        url="javascript:alert(1)",
        summary=["Read <https://evil.example|this> now <!everyone>."],
        sources=[DigestSource(title="x", url="https://ok.example/x", feed="<!here> News")],
    )
    payloads = render_digest(Digest(generated_at=NOW, stories=[hostile]))
    for payload in payloads:
        for text in mrkdwn_texts(payload):
            assert control_sequence_problems(text) == [], text
    text = all_text(payloads)
    assert "javascript" not in text  # the unsafe link is dropped, the title stays as text
    assert "*&lt;!channel&gt; Llama &lt;@U123&gt; &amp; &lt;!here&gt;*" in text
    assert "&lt;!everyone&gt;" in text and "&lt;!here&gt; News" in text


def test_a_long_digest_splits_into_messages_with_every_story_whole_and_in_order() -> None:
    stories = [story(index) for index in range(60)]
    payloads = render_digest(Digest(generated_at=NOW, stories=stories))
    assert len(payloads) > 1
    for payload in payloads:
        assert limit_problems(payload) == []
    titles = re.findall(r"\|(Meta ships Llama update \d+)>", all_text(payloads))
    assert titles == [f"Meta ships Llama update {index}" for index in range(60)]
    assert payloads[0]["blocks"][0]["type"] == "header"
    assert payloads[1]["text"].endswith(f"(part 2 of {len(payloads)})")
    # No message ends between a story's title section and its context line.
    for payload in payloads:
        kinds = [block["type"] for block in payload["blocks"]]
        assert kinds[-1] == "context"


def test_an_overlong_summary_splits_between_sentences_only() -> None:
    sentences = [f"Sentence {index} says {'very ' * 60}much." for index in range(30)]
    payloads = render_digest(Digest(generated_at=NOW, stories=[story(1, summary=sentences)]))
    sections = [
        block["text"]["text"]
        for payload in payloads
        for block in payload["blocks"]
        if block["type"] == "section"
    ]
    assert len(sections) > 1
    for text in sections:
        assert utf16_length(text) <= 3000
    for sentence in sentences:
        assert sum(sentence in text for text in sections) == 1


def test_an_empty_digest_shows_the_friendly_message() -> None:
    digest = Digest(
        generated_at=NOW, kind="latest", empty_message="No Meta AI news in the last 24 hours."
    )
    [payload] = render_answer(digest, None, share=True)
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "section"]  # no share button for nothing
    assert payload["blocks"][1]["text"]["text"] == "No Meta AI news in the last 24 hours."
    assert payload["blocks"][0]["text"]["text"].startswith("Latest Meta AI news")


def test_an_answer_offers_sharing_and_names_the_query_safely() -> None:
    digest = Digest(generated_at=NOW, kind="latest", stories=[story(1)])
    [payload] = render_answer(digest, "llama <!here>", share=True)
    actions = payload["blocks"][-1]
    assert actions["type"] == "actions"
    button = actions["elements"][0]
    assert button["action_id"] == SHARE_ACTION_ID and button["value"] == "llama <!here>"
    query_line = payload["blocks"][1]["elements"][0]["text"]
    assert query_line == "Stories matching “llama &lt;!here&gt;”"


def test_shared_answers_credit_a_real_user_id_only() -> None:
    digest = Digest(generated_at=NOW, kind="latest", stories=[story(1)])
    [shared] = render_answer(digest, None, share=False, shared_by="U0USER001")
    assert shared["blocks"][1]["elements"][0]["text"] == "Shared by <@U0USER001>"
    [forged] = render_answer(digest, None, share=False, shared_by="<!channel>")
    assert "Shared by" not in all_text([forged])
    assert all(block["type"] != "actions" for block in shared["blocks"])


def test_help_is_escaped() -> None:
    payload = render_help()
    text = payload["blocks"][0]["text"]["text"]
    assert unescape(text) == COMMAND_HELP
    assert control_sequence_problems(text) == []


def test_a_long_notice_is_split_within_limits() -> None:
    lines = (f"Feed <{index}> & friends was disabled after 10 failures." for index in range(400))
    text = "\n".join(lines)
    payloads = render_notice(Notice(generated_at=NOW, text=text))
    assert len(payloads) > 1
    for payload in payloads:
        assert limit_problems(payload) == []
        assert sum(utf16_length(text) for text in mrkdwn_texts(payload)) <= 13_000
        for mrkdwn in mrkdwn_texts(payload):
            assert control_sequence_problems(mrkdwn) == []
    assert unescape(all_text(payloads)).count("was disabled") >= 400


# --- the compact form ----------------------------------------------------------------


def test_a_compact_digest_is_one_line_a_story_with_link_kind_and_outlets() -> None:
    stories = [story(1, kind="models"), story(2, sources=story(2).sources[:1])]
    digest = Digest(generated_at=NOW, stories=stories, form="compact")
    [payload] = render_digest(digest)
    header, section = payload["blocks"]
    assert header["text"]["text"] == "Meta AI digest · 31 January 2025"
    assert section["text"]["text"] == (
        "• <https://ai.meta.com/blog/update-1|Meta ships Llama update 1> (*models* · 4 outlets)\n"
        "• <https://ai.meta.com/blog/update-2|Meta ships Llama update 2> (1 outlet)"
    )
    assert section["text"]["verbatim"] is True
    assert "announced" not in all_text([payload])  # no summary sentence
    assert payload["text"] == (
        "Meta AI digest · 31 January 2025: Meta ships Llama update 1; Meta ships Llama update 2"
    )


def test_a_compact_line_counts_outlets_not_articles() -> None:
    sources = [
        DigestSource(title=name, url=f"https://{name}.example/{n}", feed=name)
        for n, name in enumerate(["A", "B", "A", "C", "B"])
    ]
    digest = Digest(generated_at=NOW, stories=[story(1, sources=sources)], form="compact")
    assert render_digest(digest)[0]["blocks"][1]["text"]["text"].endswith("(3 outlets)")


def test_hostile_titles_stay_escaped_in_compact_form() -> None:
    hostile = story(
        1,
        title="<!channel> Llama <@U123> & <!here> <https://evil.example|click>",
        kind="<!everyone>",
    )
    unsafe = story(2, title="Unsafe link", url="javascript:alert(1)")
    digest = Digest(generated_at=NOW, stories=[hostile, unsafe], form="compact")
    payloads = render_digest(digest)
    for payload in payloads:
        assert limit_problems(payload) == []
        for text in mrkdwn_texts(payload):
            assert control_sequence_problems(text) == [], text
    text = all_text(payloads)
    assert "&lt;!channel&gt; Llama &lt;@U123&gt; &amp; &lt;!here&gt;" in text
    assert "(*&lt;!everyone&gt;* · 4 outlets)" in text
    assert "javascript" not in text and "• Unsafe link (4 outlets)" in text


def test_a_compact_digest_of_many_stories_splits_within_limits_in_order() -> None:
    long_title = "Meta ships Llama update {} " + "with a long headline " * 12
    stories = [story(index, title=long_title.format(index), kind="models") for index in range(200)]
    payloads = render_digest(Digest(generated_at=NOW, stories=stories, form="compact"))
    assert len(payloads) > 1
    for payload in payloads:
        assert limit_problems(payload) == []
        assert sum(utf16_length(text) for text in mrkdwn_texts(payload)) <= 13_000
    lines = [line for line in all_text(payloads).splitlines() if line.startswith("• ")]
    assert len(lines) == 200
    titles = re.findall(r"\|(Meta ships Llama update \d+) ", "\n".join(lines))
    assert titles == [f"Meta ships Llama update {index}" for index in range(200)]
    assert payloads[0]["blocks"][0]["type"] == "header"
    assert payloads[-1]["text"].endswith(f"(part {len(payloads)} of {len(payloads)})")
    assert all(block["type"] != "divider" for p in payloads for block in p["blocks"])


def test_an_empty_compact_digest_shows_the_friendly_message() -> None:
    digest = Digest(generated_at=NOW, form="compact", empty_message="Nothing today.")
    [payload] = render_digest(digest)
    assert [block["type"] for block in payload["blocks"]] == ["header", "section"]
    assert payload["blocks"][1]["text"]["text"] == "Nothing today."


def test_a_compact_answer_still_offers_sharing() -> None:
    digest = Digest(generated_at=NOW, kind="latest", stories=[story(1)], form="compact")
    [payload] = render_answer(digest, "llama", share=True)
    assert [block["type"] for block in payload["blocks"]] == [
        "header",
        "context",
        "section",
        "actions",
    ]


# --- properties: any digest, however strange --------------------------------------

_strange = st.lists(
    st.one_of(
        st.sampled_from([*"<>&|*_~`!@#^ \n\t", "<!channel>", "<@U1>", "&amp;", "😀"]),
        st.characters(),
    ),
    max_size=200,
).map("".join)
# Long texts are built by repetition: cheap to generate and to shrink.
_long = st.one_of(
    _strange,
    st.builds(lambda word, count: (word + " ") * count, _strange, st.integers(0, 600)),
    st.integers(1000, 3500).map(lambda count: "<&>" * count),  # one giant "word"
)
_url = st.one_of(
    st.sampled_from(
        [
            "https://ai.meta.com/blog/x",
            "http://example.com/a|b>c<d e",
            "javascript:alert(1)",
            "",
            "https://" + "a" * 3000 + ".com/",
        ]
    ),
    _strange,
)
_source = st.builds(DigestSource, title=_strange, url=_url, feed=_strange)
_story = st.builds(
    DigestStory,
    id=st.text(max_size=5),
    title=st.one_of(_strange, _long),
    url=_url,
    published=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    summary=st.lists(_long, max_size=6),
    sources=st.lists(_source, max_size=6),
    new_sources=st.integers(min_value=0, max_value=50),
    summary_note=st.one_of(st.none(), _strange),
    kind=st.one_of(st.none(), _strange),
)
_digest = st.builds(
    Digest,
    generated_at=st.just(NOW),
    stories=st.lists(_story, max_size=20),
    kind=st.sampled_from(["digest", "latest"]),
    empty_message=st.one_of(st.none(), _strange),
    form=st.sampled_from(["full", "compact"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_digest, st.one_of(st.none(), _strange), st.booleans())
def test_no_digest_renders_over_a_limit_or_with_live_markup(
    digest: Digest, query: str | None, share: bool
) -> None:
    for payloads in (render_digest(digest), render_answer(digest, query, share=share)):
        for payload in payloads:
            assert limit_problems(payload) == []
            for text in mrkdwn_texts(payload):
                assert control_sequence_problems(text) == [], text[:200]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_story, min_size=1, max_size=20))
def test_every_sentence_that_fits_a_section_arrives_whole(stories: list[DigestStory]) -> None:
    text = all_text(render_digest(Digest(generated_at=NOW, stories=stories)))
    for item in stories:
        for sentence in item.summary:
            words = " ".join(sentence.split())
            if words and utf16_length(escape(words)) <= 3000:
                assert escape(words) in text
