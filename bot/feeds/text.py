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

from bot.common.text import INVISIBLE

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
LIST_ITEM = "- "
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
    for element in root.iter("li"):
        # A list item says so, as trafilatura writes it: the summarizer never takes one for
        # a sentence of the story.
        element.text = LIST_ITEM + strip_control_characters(element.text or "")
    for element in root.iter(*BLOCK_TAGS):
        # The parser decodes references such as &#x1F; into the tail, and lxml refuses to
        # store a control character back: they go now rather than after.
        element.tail = "\n" + strip_control_characters(element.tail or "")
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
