"""Text from feeds leaves the feeds stage as plain, visible text with web links only:
HTML stripped, entities decoded, control and invisible characters removed."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.common.text import escape_controls
from bot.feeds.parser import parse_feed
from bot.feeds.text import INVISIBLE, clean_text, strip_control_characters
from bot.feeds.urls import safe_link
from tests.fakes.feed_server import FeedServer
from tests.fakes.misbehaving_server import MisbehavingServer
from tests.feeds.hostile_feeds import hostile_rss
from tests.harness import clean_env, run_bot
from tests.helpers import write_config

REMOVED_CATEGORIES = {"Cc", "Cf", "Cs", "Co"}
KEPT_CATEGORIES = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No"}
KEPT_CATEGORIES |= {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs"}
# Default-ignorable letters that render as nothing: removed on purpose.
INVISIBLE_LETTERS = {0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, 0x034F}
INVISIBLE_LETTERS |= set(range(0x180B, 0x1810))


def every_code_point() -> list[str]:
    return [chr(point) for point in range(sys.maxunicode + 1)]


def test_every_control_format_surrogate_and_private_character_is_removed() -> None:
    hidden = "".join(
        ch for ch in every_code_point() if unicodedata.category(ch) in REMOVED_CATEGORIES
    )
    assert len(hidden) > 130_000
    left = strip_control_characters(hidden)
    assert set(left) <= {"\t", "\n"}  # tab and line breaks are all that survive


def test_no_visible_character_is_removed() -> None:
    visible = "".join(
        ch
        for ch in every_code_point()
        if unicodedata.category(ch) in KEPT_CATEGORIES and ord(ch) not in INVISIBLE_LETTERS
    )
    assert strip_control_characters(visible) == visible
    assert all(INVISIBLE.search(chr(point)) for point in INVISIBLE_LETTERS)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>Meta <b>releases</b> Llama&nbsp;4</p>", "Meta releases Llama 4"),
        ("AT&amp;T &lt;3 &#8220;Llama&#8221; &#x2014; ok", "AT&T <3 “Llama” — ok"),
        ("<script>steal()</script><style>p{}</style>Visible", "Visible"),
        ("<iframe src=x></iframe><svg><text>no</text></svg>Kept", "Kept"),
        ("Zero\u200bwidth\u200d joined\ufeff", "Zerowidth joined"),
        ("\u202eevil\u202c \u2066isolated\u2069", "evil isolated"),
        ("tag\U000e0041\U000e0042 chars", "tag chars"),  # invisible "tag" letters
        ("NUL\x00 BEL\x07 ESC\x1b[31m red", "NUL BEL ESC[31m red"),
        ("soft\u00adhyphen", "softhyphen"),
        ("&#8203;entity-encoded&#x200E; invisibles", "entity-encoded invisibles"),
        ("&lt;b&gt;escaped markup&lt;/b&gt;", "<b>escaped markup</b>"),
        ("  many \n\n spaces\t here ", "many spaces here"),
        ("unclosed <b>bold and <i>italic", "unclosed bold and italic"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_paragraphs_survive_when_asked() -> None:
    text = clean_text("<p>First.</p><p>Second.</p>Third\r\nFourth\u2028Fifth", keep_paragraphs=True)
    assert text.splitlines() == ["First.", "Second.", "Third", "Fourth", "Fifth"]


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "mailto:someone@example.com",
        "/relative/path",
        "//example.com/protocol-relative",
        "https://exa mple.com/",
        'https://example.com/"onmouseover="x',
        "https://example.com/<script>",
        "http:///no-host",
        # Found by the mutated-feeds fuzz test: a control character in the host became the
        # fallback title. Every control, invisible or blank character is refused.
        "https://\x01ww.example.com/",
        "https://example.com/a\x7fb",
        "https://example.com/a\u200bb",
        "https://example.com/a\u202eb",
        "https://example.com/a\u00a0b",
        "",
        None,
    ],
)
def test_only_absolute_web_links_are_kept(link: str | None) -> None:
    assert safe_link(link) is None


@pytest.mark.parametrize("link", ["https://ai.meta.com/blog/", "http://example.com/a?b=c#d"])
def test_web_links_are_kept(link: str) -> None:
    assert safe_link(link) == link


def test_a_hostile_feed_comes_out_clean() -> None:
    relative_item = b"<item><title>Relative</title><link>/story</link></item>\n"
    document = hostile_rss(bell=b"\x07", then=relative_item)
    entries = parse_feed(document, {"content-location": "https://site.example/feed"}).entries
    hostile, relative = entries
    assert hostile.title == "Meta AI & Llama"
    assert hostile.link is None and hostile.comments is None and hostile.image is None
    assert hostile.summary == "Text with bell."
    assert relative.link == "https://site.example/story"  # resolved against the feed's address


@pytest.mark.parametrize("reference", ["&#x1F;", "&#1;", "&#x7F;", "&#xFFFE;"])
def test_a_control_character_written_as_a_reference_after_a_block_is_removed(
    reference: str,
) -> None:
    """Found by the mutated-feeds fuzz test: lxml decodes the reference into a block's tail
    and refused to store the line break added there (ValueError), which lost the entry."""
    markup = f"<p>Meta ships Llama.</p>{reference} More <p>Details.</p>"
    assert clean_text(markup, keep_paragraphs=True) == "Meta ships Llama.\nMore Details."


# --- what the terminal shows: server and feed text as plain text ---------------------------

HOSTILE_REASON = (
    "\x1b[31mRED\x1b[0m [link=http://evil.example]click[/link] [red]alert[/red] :fire: "
    "\x1b]8;;http://evil.example\x1b\\osc\x1b]8;;\x1b\\ \x9b2J"
)
HOSTILE_TITLE = "[link=http://evil.example]Meta AI[/link] [red]Llama :fire: \x1b[2J release"


def test_escape_controls_spells_out_every_terminal_control() -> None:
    assert escape_controls("a\x1b[31mb\x9bc\u202ed\x7f\re\tf\ng") == (
        "a\\x1b[31mb\\x9bc\\u202ed\\x7f\\x0de\tf\\ng"
    )
    assert escape_controls("one\ntwo", keep_newlines=True) == "one\ntwo"


def test_server_and_feed_text_is_printed_as_plain_text(
    misbehaving_server: MisbehavingServer, feed_server: FeedServer, tmp_path: Path
) -> None:
    """A reason phrase and a title carrying rich markup, emoji codes and escape sequences
    appear literally in every command's output, with control characters spelled out,
    even with colours forced on: no colour, no OSC 8 link, no screen clearing."""
    failing = misbehaving_server.url("/reason/" + quote(HOSTILE_REASON, safe=""))
    published = format_datetime(datetime.now(UTC), usegmt=True)
    hostile = feed_server.serve(
        "/hostile.xml",
        f'<rss version="2.0"><channel><title>H</title><item><title>{HOSTILE_TITLE}</title>'
        f"<link>https://news.example/hostile</link><pubDate>{published}</pubDate>"
        "<description>Meta released Llama.</description></item></channel></rss>",
    )
    config = write_config(
        tmp_path / "config.toml",
        [("failing", failing), ("hostile", hostile)],
        tmp_path / "bot.db",
    )
    env = clean_env({"COLUMNS": "1000", "FORCE_COLOR": "1"})
    env.pop("NO_COLOR", None)
    outputs = {}
    for command in (
        ["poll"],
        ["feeds", "check"],
        ["feeds", "list"],
        ["status"],
        ["explain", "https://news.example/hostile"],
    ):
        result = run_bot(["--config", str(config), *command], env=env, inherit=False)
        assert result.returncode in (0, 1), result.stderr
        outputs[" ".join(command[:2]) if command[0] == "feeds" else command[0]] = (
            result.stdout + result.stderr
        )
    assert "\x1b[1m" in outputs["poll"]  # colours really are on (the table's own header)
    shown_reason = (
        "\\x1b[31mRED\\x1b[0m [link=http://evil.example]click[/link] [red]alert[/red] :fire: "
        "\\x1b]8;;http://evil.example\\x1b\\osc\\x1b]8;;\\x1b\\ \\x9b2J"
    )
    for command in ("poll", "feeds check", "feeds list", "status"):
        assert shown_reason in outputs[command], (command, outputs[command])
    assert "[link=http://evil.example]Meta AI[/link] [red]Llama :fire:" in outputs["explain"]
    for command, output in outputs.items():
        assert "\x1b]8;" not in output, command  # no terminal hyperlink
        assert "\x1b[31m" not in output and "\x1b[2J" not in output, command
        assert "\x9b" not in output, command
        assert "\U0001f525" not in output, command  # :fire: stayed text
