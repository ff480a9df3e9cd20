"""Feed documents to clean entries.

The fast path (one strict lxml parse, bot/feeds/fastpath.py) parses the RSS and Atom
documents it gives feedparser's entries for; feedparser does all other RSS/RDF/Atom parsing
(charsets, xml:base, dates, bozo recovery). feedparser 6.0 has no JSON Feed support (it
exists only on its unreleased development branch), so JSON Feed 1.0/1.1 documents are
validated with a small pydantic model of the spec and mapped to the same entry type.

Every text field leaves this module cleaned (no HTML, no control characters)
and every link is an absolute http(s) URL or None. With ``defer_text`` the
summaries and contents leave it empty, their markup kept aside, and
:func:`finish_entry` cleans them later: a poll cleans only the entries it has not
stored before.
"""

from __future__ import annotations

import dataclasses
import email.utils
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.feeds.errors import FailureKind, ParseError
from bot.feeds.fastpath import parse_fast, struct_to_datetime
from bot.feeds.records import EntryMarkup, FeedEntry, ParsedFeed
from bot.feeds.text import clean_text
from bot.feeds.urls import safe_link

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
# feedparser flags these, but they only say the server's headers were vague.
BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
# Default ceiling on what declared XML entities may expand to (the fetch body cap).
DEFAULT_MAX_EXPANDED_BYTES = 5_000_000
# More declared entities than this is no feed, and counting their uses would be slow.
MAX_DECLARED_ENTITIES = 256


def looks_like_json(body: bytes) -> bool:
    """JSON Feed documents start with '{' after optional BOM and whitespace."""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_feed(
    body: bytes,
    headers: dict[str, Any] | None = None,
    *,
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES,
    defer_text: bool = False,
) -> ParsedFeed:
    """Parse any supported feed; raise ParseError (not-a-feed, malformed) if nothing usable.

    ``max_expanded_bytes`` bounds what XML entity declarations may expand to, so an
    entity-expansion bomb is refused before any parser expands it. ``defer_text`` leaves
    each entry's summary and content to :func:`finish_entry`.
    """
    if not body.strip():
        raise ParseError(FailureKind.NOT_A_FEED, "the response body is empty")
    if looks_like_json(body):
        parsed = parse_json_feed(body)
    else:
        parsed = parse_xml_feed(body, headers or {}, max_expanded_bytes=max_expanded_bytes)
    if not defer_text:
        parsed.entries, broken = finish_entries(parsed.entries)
        if broken:
            parsed.warning = broken_entries_warning(broken, parsed.warning)
    return parsed


def finish_entries(entries: list[FeedEntry]) -> tuple[list[FeedEntry], int]:
    """Each entry finished (see :func:`finish_entry`); one whose text cannot be cleaned is
    skipped and counted, never fatal, like an entry that cannot be read."""
    finished: list[FeedEntry] = []
    broken = 0
    for entry in entries:
        try:
            finished.append(finish_entry(entry))
        except Exception:
            broken += 1
    return finished, broken


def broken_entries_warning(broken: int, warning: str | None) -> str:
    return f"{broken} entries could not be read and were skipped; {warning or ''}".strip("; ")


def finish_entry(entry: FeedEntry) -> FeedEntry:
    """The entry with its summary and content cleaned from the markup the parser kept."""
    markup = entry.markup
    if markup is None:
        return entry
    content = "\n".join(clean_text(part, keep_paragraphs=True) for part in markup.content)
    content = content.strip() or clean_text(markup.content_fallback, keep_paragraphs=True)
    return dataclasses.replace(
        entry,
        summary=clean_text(markup.summary, keep_paragraphs=True),
        content=content,
        markup=None,
    )


def parser_gave_up(error: Exception) -> ParseError:
    """feedparser's own crash on a document, as that document's ParseError."""
    return ParseError(
        FailureKind.MALFORMED, f"the feed parser gave up: {type(error).__name__}: {error}"
    )


def entity_expansion(body: bytes, headers: dict[str, Any]) -> int:
    """Bytes the document's declared XML entities would expand to, counted before any parser.

    Both of feedparser's parsers expand entities: its loose parser those it keeps from
    the DOCTYPE, and expat (the strict parser) every internal entity of a DOCTYPE that
    feedparser's own rewriting missed, such as one declared on the DOCTYPE's line
    (``<?xml ...?><!DOCTYPE rss [<!ENTITY a "...">]>``): expat only stops an expansion
    past 8 MiB, so a 41 kB document made an 8-million-character title. So every
    declaration is found wherever it is (see :func:`declared_entities`), nested
    references are followed, and the references are counted in the whole document,
    on the same UTF-8 text feedparser parses. Over-counting is possible (a reference
    inside a declaration counts too); under-counting is what this must never do.
    """
    if b"ENTITY" not in body.upper() and b"\x00" not in body[:4]:  # UTF-16/32 hide the ASCII
        return 0
    try:
        data = convert_to_utf8(dict(headers), body, feedparser.FeedParserDict())
    except Exception as error:  # an unreadable encoding declaration; feedparser.parse too
        raise parser_gave_up(error) from error
    if b"<!ENTITY" not in data.upper():
        return 0
    entities = declared_entities(data.decode("utf-8", "replace"))
    sizes: dict[str, int] = {}
    total = 0
    for name in entities:
        if name.startswith("%"):
            continue  # parameter entities expand to declarations, counted as such
        references = data.count(b"&" + name.encode("utf-8") + b";")
        if references:
            total += references * expanded_size(name, entities, sizes, ())
    return total


# <!ENTITY [%] name "value" | 'value'>, anywhere (an overlapping scan also finds one
# written inside another's value, which a parameter entity can bring to life).
ENTITY_DECLARATION = re.compile(
    r"<!ENTITY\s+(%\s+)?([^\s%&;<>\"']+)\s+(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE
)
ENTITY_REFERENCE = re.compile(r"([&%])([^\s&%;#<>\"']+);")
CHARACTER_REFERENCE = re.compile(r"&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));")


def declared_entities(text: str) -> dict[str, str]:
    """Every internal entity declared anywhere in ``text`` (parameter ones as ``%name``).

    Values come back with character references decoded, as an XML parser stores them
    (``&#38;b;`` is a reference to ``b`` once expanded); declarations written inside a
    parameter entity's value are found too. For a name declared twice the longer
    value is kept.
    """
    entities: dict[str, str] = {}
    pending = [text]
    while pending:
        source = pending.pop()
        positions = [m.start() for m in re.finditer("<!ENTITY", source, re.IGNORECASE)]
        if len(positions) > MAX_DECLARED_ENTITIES:  # also bounds the scanning below
            raise ParseError(
                FailureKind.MALFORMED, f"more than {MAX_DECLARED_ENTITIES} XML entity declarations"
            )
        for position in positions:
            found = ENTITY_DECLARATION.match(source, position)
            if found is None:
                continue
            parameter, name, double, single = found.groups()
            key = f"%{name}" if parameter else name
            value = decode_character_references(double if double is not None else single)
            if len(value) > len(entities.get(key, "")) or key not in entities:
                entities[key] = value
                if parameter:
                    pending.append(value)
            if len(entities) > MAX_DECLARED_ENTITIES:
                raise ParseError(
                    FailureKind.MALFORMED,
                    f"more than {MAX_DECLARED_ENTITIES} XML entity declarations",
                )
    return entities


def decode_character_references(value: str) -> str:
    def character(match: re.Match[str]) -> str:
        hexadecimal, decimal = match.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        return chr(code) if 0 < code <= 0x10FFFF else ""

    return CHARACTER_REFERENCE.sub(character, value)


def expanded_size(
    name: str, entities: dict[str, str], sizes: dict[str, int], chain: tuple[str, ...]
) -> int:
    """UTF-8 bytes ``name`` expands to, nested references followed (memoized in ``sizes``)."""
    if name in sizes:
        return sizes[name]
    if name in chain:
        raise ParseError(FailureKind.MALFORMED, f"XML entity {name!r} refers to itself")
    value = entities.get(name, "")
    size = len(value.encode("utf-8"))
    for kind, reference in ENTITY_REFERENCE.findall(value):
        key = f"%{reference}" if kind == "%" else reference
        if key in entities:
            size += expanded_size(key, entities, sizes, (*chain, name))
    sizes[name] = size
    return size


def parse_xml_feed(
    body: bytes,
    headers: dict[str, Any],
    *,
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES,
    fast: bool = True,
) -> ParsedFeed:
    """RSS 0.9x/1.0/2.0 and Atom, keeping bozo feeds' good entries: through the fast
    parser where it claims the document (``fast``), else through feedparser."""
    # Whitespace before the XML declaration (common in real feeds) sends feedparser
    # to its loose parser; stripping it keeps the strict, more faithful one.
    body = body.lstrip(b" \t\r\n")
    expansion = entity_expansion(body, headers)
    if expansion > max_expanded_bytes:
        raise ParseError(
            FailureKind.MALFORMED,
            f"XML entity-expansion bomb refused: its entities would expand to {expansion:,} "
            f"bytes (cap {max_expanded_bytes:,})",
        )
    # The fast parser where it gives feedparser's entries (bot/feeds/fastpath.py says
    # which documents it claims): after the entity count above, never before it.
    if fast and (claimed := parse_fast(body, headers)) is not None:
        return claimed
    # A file object, never bytes: feedparser tries open() on a bytes argument, so a
    # body of b"/dev/zero" or b"/etc/passwd" would make it read a local file.
    # feedparser's HTML sanitizer and relative-URI rewriting are off: every text goes
    # through clean_text, which keeps plain text only (script, style and the like dropped
    # with their content) and keeps no markup, so they would be half of the parse time
    # for nothing (the 61 real documents of the shared corpus parse to the same entries).
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as error:  # feedparser's loose parser has crash bugs (KeyError...)
        raise parser_gave_up(error) from error
    version = parsed.get("version") or ""
    warning = None
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), BENIGN_BOZO):
        warning = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    # No RSS/RDF/Atom root means no feed, even if loose parsing found item-like tags
    # (a truncated body, an HTML page quoting <item>).
    if not version:
        if looks_like_html(body):
            raise ParseError(FailureKind.NOT_A_FEED, "the URL returned an HTML page, not a feed")
        raise ParseError(
            FailureKind.MALFORMED, f"no feed found in the document ({warning or 'unknown format'})"
        )
    feed_info = parsed.get("feed", {})
    entries, broken = entries_from_feedparser(parsed.entries)
    if broken:
        warning = broken_entries_warning(broken, warning)
    return ParsedFeed(
        entries=entries,
        title=clean_text(feed_info.get("title")),
        warning=warning,
        ttl_minutes=parse_ttl(feed_info.get("ttl")),
        link=safe_link(feed_info.get("link")),
    )


def entries_from_feedparser(raw_entries: list[Any]) -> tuple[list[FeedEntry], int]:
    """Map every entry; one that cannot be mapped is skipped and counted, never fatal."""
    entries: list[FeedEntry] = []
    broken = 0
    for raw in raw_entries:
        try:
            entry = entry_from_feedparser(raw)
        except Exception:  # a malformed entry (odd types in feedparser's dict) costs only itself
            broken += 1
            continue
        if entry is not None:
            entries.append(entry)
    return entries, broken


def looks_like_html(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<html" in head or b"<!doctype html" in head


def parse_ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


def entry_from_feedparser(raw: Any) -> FeedEntry | None:
    """Map one feedparser entry; entries with neither link nor id nor title are skipped."""
    link = safe_link(raw.get("link")) or first_alternate_link(raw)
    title = clean_text(raw.get("title"))
    markup = EntryMarkup(
        summary=markup_text(raw.get("summary")),
        content=tuple(markup_text(part.get("value")) for part in raw.get("content", []) or []),
    )
    guid = str(raw.get("id") or link or "").strip()
    if not guid and not title:
        return None
    published = struct_to_datetime(raw.get("published_parsed") or raw.get("updated_parsed"))
    return FeedEntry(
        guid=guid or f"title:{title}",
        link=link,
        title=fallback_title(title, link, guid),
        summary="",
        content="",
        markup=markup,
        published=published,
        image=entry_image(raw),
        comments=safe_link(raw.get("comments")),
        author=clean_text(raw.get("author")) or None,
    )


def markup_text(value: Any) -> str | None:
    """A text field kept for :func:`finish_entry`; an odd type makes the entry unreadable
    here, where it is skipped and counted, not later when it is cleaned."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"a text field holds {type(value).__name__}")


def fallback_title(title: str, link: str | None, guid: str) -> str:
    """The title, else the link, else the id cleaned like any feed text (an id is untrusted)."""
    return title or link or clean_text(guid) or "(untitled)"


def first_alternate_link(raw: Any) -> str | None:
    for link in raw.get("links", []) or []:
        if link.get("rel", "alternate") == "alternate" and (href := safe_link(link.get("href"))):
            return href
    return None


def entry_image(raw: Any) -> str | None:
    """A thumbnail from media:thumbnail, media:content or an image enclosure."""
    for thumb in raw.get("media_thumbnail", []) or []:
        if url := safe_link(thumb.get("url")):
            return url
    for media in raw.get("media_content", []) or []:
        if str(media.get("medium", "image")) == "image" and (url := safe_link(media.get("url"))):
            return url
    for enclosure in raw.get("enclosures", []) or []:
        if str(enclosure.get("type", "")).startswith("image/") and (
            url := safe_link(enclosure.get("href"))
        ):
            return url
    return None


class JsonFeedAuthor(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None


class JsonFeedItem(BaseModel):
    """The fields of a JSON Feed item the bot uses (spec 1.0 and 1.1)."""

    model_config = ConfigDict(extra="allow")
    # Required by the spec, missing in real feeds: the url or title stands in.
    id: str | int | float | None = None
    url: str | None = None
    external_url: str | None = None
    title: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    summary: str | None = None
    image: str | None = None
    banner_image: str | None = None
    date_published: str | None = None
    date_modified: str | None = None
    author: JsonFeedAuthor | None = None
    authors: list[JsonFeedAuthor] | None = None


class JsonFeed(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: str
    title: str | None = None
    home_page_url: str | None = None
    items: list[dict[str, Any]]


def parse_json_feed(body: bytes) -> ParsedFeed:
    """JSON Feed 1.0/1.1; invalid items are skipped with a warning, like feedparser's bozo."""
    try:
        document = JsonFeed.model_validate(json.loads(body.decode("utf-8-sig")))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ParseError(FailureKind.MALFORMED, f"invalid JSON: {error}") from error
    except RecursionError as error:
        raise ParseError(FailureKind.MALFORMED, "JSON nested too deeply") from error
    except ValidationError as error:
        raise ParseError(
            FailureKind.NOT_A_FEED, f"JSON but not a JSON Feed: {error.error_count()} problems"
        ) from error
    if not document.version.startswith(JSON_FEED_VERSION_PREFIX):
        raise ParseError(FailureKind.NOT_A_FEED, f"unknown JSON Feed version {document.version!r}")
    entries: list[FeedEntry] = []
    skipped = 0
    for raw in document.items:
        try:
            entry = entry_from_json_item(JsonFeedItem.model_validate(raw))
        except ValidationError:
            entry = None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    warning = f"{skipped} JSON Feed items were invalid and skipped" if skipped else None
    return ParsedFeed(
        entries=entries,
        title=clean_text(document.title),
        warning=warning,
        link=safe_link(document.home_page_url),
    )


def parse_json_date(value: str | None) -> datetime | None:
    """RFC 3339 as the spec says, or the RFC 822 dates some publishers send instead."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entry_from_json_item(item: JsonFeedItem) -> FeedEntry | None:
    link = safe_link(item.url) or safe_link(item.external_url)
    guid = str(item.id) if item.id is not None else (item.url or item.title or "")
    if not guid:
        return None
    authors = item.authors or ([item.author] if item.author else [])
    title = clean_text(item.title)
    return FeedEntry(
        guid=guid,
        link=link,
        title=fallback_title(title, link, guid),
        summary="",
        content="",
        markup=EntryMarkup(
            summary=item.summary,
            content=(item.content_html,),
            content_fallback=item.content_text,
        ),
        published=parse_json_date(item.date_published) or parse_json_date(item.date_modified),
        image=safe_link(item.image) or safe_link(item.banner_image),
        author=", ".join(a.name for a in authors if a.name) or None,
    )
