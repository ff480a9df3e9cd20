"""Hostile feed documents for hypothesis: generated RSS, Atom and JSON feeds whose every field
is hostile text, and mutations of the real feeds of ../shared/corpus/feeds. Used by
test_fuzz_feeds.py (no exception escapes) and test_parser_sameness.py (both parsers agree)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from tests.helpers import FEED_CORPUS


def hostile_rss(*, bell: bytes, then: bytes) -> bytes:
    """An RSS feed whose first item attacks in every field (markup in the title, a
    ``javascript:`` link, ``data:`` comments, a ``file:`` thumbnail, a script and an
    ``onclick`` in the description, whose text ends "with<bell> bell."), then the items
    ``then``."""
    return (
        b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>
<item>
  <title>&lt;img src=x onerror=alert(1)&gt;Meta\xe2\x80\x8b AI &amp; Llama</title>
  <link>javascript:alert(document.cookie)</link>
  <guid isPermaLink="false">hostile-1</guid>
  <comments>data:text/html,boom</comments>
  <media:thumbnail url="file:///etc/passwd"/>
  <description><![CDATA[<p onclick="x()">Text <script>alert(1)</script>with"""
        + bell
        + b""" bell.</p>]]>
  </description>
</item>
"""
        + then
        + b"</channel></rss>"
    )


CORPUS_PREFIX_BYTES = 100_000  # long documents are cut: a cut is one of the mutations anyway
HOSTILE_SNIPPETS = [
    b"&",
    b"<",
    b"]]>",
    b"<![CDATA[",
    b"&#0;",
    b"&#x1F;",
    b"&nbsp;",
    b"&undefined;",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
    b"\x00",
    b"\xff\xfe",
    b"\xe2\x80\xae",  # right-to-left override
    b"<script>alert(1)</script>",
    b'<a href="javascript:alert(1)">x</a>',
    b"<link>file:///etc/passwd</link>",
    b"<pubDate>Mon, 99 Foo 99999 99:99:99 +9999</pubDate>",
    b"</channel></rss>",
    b"<item><title>",
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
]
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120
) | st.sampled_from(
    [
        "<b>bold</b> &amp; <i>it</i>",
        "Meta releases Llama 4 &mdash; open weights",
        "\u202eevil\u200b\u2066text",
        "<script>alert('x')</script>Meta AI",
        "&lt;img src=x onerror=alert(1)&gt;",
        "\x1b[31mred\x1b[0m",
        "Llama" * 200,
    ]
)
LINKS = st.sampled_from(
    [
        "https://news.example/a",
        "http://news.example/b?utm_source=x#frag",
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "file:///etc/passwd",
        "//protocol-relative.example/x",
        "/relative/path",
        "https://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "",
        "https://exa mple.com/space",
        "https://例え.jp/記事",
    ]
)
DATES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda moment: format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
) | st.sampled_from(["", "yesterday", "2025-13-45T99:99:99Z", "0", "Mon, 01 Jan 0001"])
ITEMS = st.lists(st.tuples(TEXT, LINKS, TEXT, DATES, TEXT), max_size=6)


def rss_document(items: list[tuple[str, str, str, str, str]], cdata: bool) -> bytes:
    def field(value: str) -> str:
        return f"<![CDATA[{value.replace(']]>', '')}]]>" if cdata else escape(value)

    body = "".join(
        f"<item><title>{field(title)}</title><link>{escape(link)}</link>"
        f"<description>{field(text)}</description><pubDate>{escape(date)}</pubDate>"
        f"<guid>{escape(guid)}</guid></item>"
        for title, link, text, date, guid in items
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
    xml = f"{head}{body}</channel></rss>"
    return xml.encode("utf-8", "surrogatepass")


def atom_document(items: list[tuple[str, str, str, str, str]], _cdata: bool) -> bytes:
    body = "".join(
        f'<entry><title type="html">{escape(title)}</title><link href="{escape(link)}"/>'
        f"<id>{escape(guid)}</id><updated>{escape(date)}</updated>"
        f'<content type="html">{escape(text)}</content></entry>'
        for title, link, text, date, guid in items
    )
    xml = f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>{body}</feed>'
    return xml.encode("utf-8", "surrogatepass")


def json_document(items: list[tuple[str, str, str, str, str]], _cdata: bool) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "F",
        "items": [
            {"id": guid, "url": link, "title": title, "content_html": text, "date_published": date}
            for title, link, text, date, guid in items
        ],
    }
    return json.dumps(document).encode("utf-8", "surrogatepass")


BUILDERS: list[Callable[[list[tuple[str, str, str, str, str]], bool], bytes]] = [
    rss_document,
    atom_document,
    json_document,
]


def corpus_documents() -> list[bytes]:
    if not FEED_CORPUS.is_dir():
        return []
    return [
        path.read_bytes()[:CORPUS_PREFIX_BYTES]
        for path in sorted(FEED_CORPUS.iterdir())
        if path.suffix in (".xml", ".json")
    ]


@st.composite
def mutated(draw: st.DrawFn, documents: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete", "splice"]))
        if action == "flip":
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.sampled_from(HOSTILE_SNIPPETS) | st.binary(max_size=16))
        elif action == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        else:
            other = draw(st.sampled_from(documents))
            start = draw(st.integers(0, max(0, len(other) - 1)))
            data[where:where] = other[start : start + draw(st.integers(1, 2000))]
    return bytes(data)
