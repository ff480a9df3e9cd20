"""Cleaning of text that comes from feeds: HTML stripped, entities decoded,
control and zero-width characters removed, whitespace collapsed.

Feed text is untrusted. Everything downstream (topic rules, clustering, the
summarizer, every chat adapter) receives only the output of :func:`clean_text`.
"""

from __future__ import annotations

import html
import re
import unicodedata

import lxml.html
from lxml import etree

# Characters that carry no visible text but can hide, reorder or smuggle it:
# C0/C1 controls (tab and newline are kept), every format character (Cf: zero-width
# spaces and joiners, bidirectional overrides, the soft hyphen, BOM, invisible Unicode
# "tag" characters), surrogates, private-use characters, noncharacters and the other
# default-ignorable fillers (Hangul fillers, combining grapheme joiner, Mongolian
# variation selectors). Variation selectors that choose a glyph (U+FE00-FE0F for emoji,
# U+E0100-E01EF for CJK ideographs) stay. The Cf ranges
# are Unicode 14's; tests/test_security_text.py checks them against unicodedata.
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\U000e0080-\U000e00ff\U000e01f0-\U000e0fff"
    "\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff"
    "\ufdd0-\ufdef\ufffe\uffff]"
)
# Line breaks in all their spellings become "\n" before controls are removed, so
# "end.\rNext" keeps its break instead of gluing two sentences together.
LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
WHITESPACE = re.compile(r"\s+")
BLOCK_TAGS = (
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "tr",
    "table",
    "section",
    "article",
    "figure",
    "figcaption",
    "pre",
)
DROPPED_TAGS = ("script", "style", "noscript", "iframe", "object", "embed", "template", "svg")


# The only characters of ASCII text that either pattern above touches.
ASCII_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def strip_control_characters(text: str) -> str:
    """Normalise line breaks, then remove controls and invisible characters (see INVISIBLE)."""
    if text.isascii() and ASCII_SPECIAL.search(text) is None:
        return text  # most feed text: nothing to do, and two full scans saved
    return INVISIBLE.sub("", LINE_BREAKS.sub("\n", text))


def html_to_text(markup: str) -> str:
    """Text content of an HTML fragment, with block elements as line breaks."""
    if "<" not in markup:
        return html.unescape(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    for element in list(root.iter(*DROPPED_TAGS)):
        element.drop_tree()
    for element in root.iter(*BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return str(root.text_content())


def clean_text(raw: str | None, *, keep_paragraphs: bool = False) -> str:
    """Plain, safe text from a feed field that may hold HTML and entities.

    ``keep_paragraphs`` keeps line breaks between blocks (useful to the
    summarizer's sentence splitter); otherwise all whitespace collapses.
    """
    if not raw:
        return ""
    # Before parsing (lxml refuses NUL and most controls) and after (entities such
    # as &#8203; only become characters in the parser).
    text = html_to_text(strip_control_characters(raw))
    text = unicodedata.normalize("NFC", strip_control_characters(text))
    if not keep_paragraphs:
        return WHITESPACE.sub(" ", text).strip()
    lines = (WHITESPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
