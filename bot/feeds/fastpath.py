"""The fast path of feed parsing: one strict lxml parse, read with feedparser's rules, on
the documents it is claimed for.

feedparser spends about 20 ms on a typical document; one lxml parse a fraction of a
millisecond. The fast path is used only where it gives the same entries as feedparser
(tests/feeds/test_parser_sameness.py compares both, field by field, on the real, hostile
and fuzzed documents). :func:`claims` decides before parsing; :func:`parse_fast` returns
None wherever the result could differ, and the caller then parses with feedparser, the
universal parser.

Documents the fast path does not claim (feedparser parses them):

* a DOCTYPE or an entity declaration anywhere (feedparser's loose parser and the
  bot's entity-expansion count handle them; the fast path never sees one);
* a document in another encoding than UTF-8 that feedparser's charset rules cannot
  convert without a complaint beyond vague headers (other encodings, ISO-8859-1,
  windows-1251, GB2312, UTF-16..., are converted to UTF-8 by those rules first);
* a character U+0080-U+009F (feedparser turns it into the windows-1252 character
  it stands for in mislabelled text);
* a document that is not well-formed XML (control characters, undefined entities,
  truncation...), so feedparser reports what it forgave as before;
* an RSS 1.0 or 0.90 document with an item elsewhere than beside its channel, and any
  root but RSS's <rss>, RSS 1.0's and 0.90's <rdf:RDF> and Atom 1.0's <feed>;
* JSON (JSON Feed keeps the bot's own parser).

After parsing it declines (None) when no entry came out, or when an entry has what
feedparser reads its own way: a relative or empty RSS link, markup inside a text, several
titles, links or comments, an out-of-line Atom text (xhtml ones are
serialised by lxml, their wrapping div dropped as feedparser drops it), several summaries
or contents, an author element with child elements, a dc:title other than the title, an
rdf:about and a guid, an Atom link or a permalink guid without <link> in an RSS item, a
media:description beside other text, a media:title in an item without a title, a
dc:description, or a date element other than the ones feedparser's rules are copied for.
Every field comes from the strict lxml tree the claim check built, with feedparser's rules
(dates through feedparser's own date parser; permalink ids and Atom links resolved against
their xml:base and the feed's URL with feedparser's own URL functions, see :class:`Bases`).
fastfeedparser used to give the titles, RSS links and comments: it parsed every document a
second time (and its dates, never read) for three fields the tree holds, a tenth of a
parse; without it RSS 0.90, where it found no item, is claimed too.
"""

from __future__ import annotations

import calendar
import html
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse, urlunparse, uses_netloc, uses_relative

import feedparser
from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.encodings import convert_to_utf8
from feedparser.urls import _urifixer as URI_FIXER
from feedparser.urls import _urljoin as feedparser_urljoin
from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from bot.feeds.records import EntryMarkup, FeedEntry, ParsedFeed
from bot.feeds.text import clean_text
from bot.feeds.urls import safe_link

# A DOCTYPE or entity declaration, a CDATA-free marker any XML parser would read.
DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# U+0080-U+009F, as UTF-8 or a character reference: feedparser turns them into the
# windows-1252 characters they stand for in mislabelled text.
# Two patterns, each with a literal start the regex engine scans for quickly (one
# alternation of both scanned every byte: 0.2 ms of a 1.6 ms document).
C1_CONTROL_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
C1_CONTROL_REFERENCE = re.compile(rb"&#(?:0*(?:12[89]|1[3-5][0-9])|[xX]0*[89][0-9a-fA-F]);")
XML_DECLARATION_ENCODING = re.compile(
    rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.IGNORECASE
)
CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
UTF8_NAMES = frozenset({"utf-8", "utf8"})
# As bot.feeds.parser.BENIGN_BOZO: the server's headers were only vague.
BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
TTL = re.compile(rb"<ttl>\s*(\d{1,9})\s*</ttl>")
# Any attribute named base, in any case and namespace (an xml:base, or what feedparser
# reads as "base"): where none is, every element at one depth has the same base. XPath
# walks the tree in C (a case-insensitive regex over the bytes scanned each one slowly).
BASE_ATTRIBUTE = etree.XPath("boolean(//@*[translate(local-name(), 'BASE', 'base') = 'base'])")
XML_NAMESPACE = "{http://www.w3.org/XML/1998/namespace}"
# An absolute URI (a scheme): feedparser resolves any other link against the base.
ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
ATOM = "{http://www.w3.org/2005/Atom}"
XHTML = "{http://www.w3.org/1999/xhtml}"
# RSS 1.0: an rdf:RDF root, items beside the channel, RSS's element names in this namespace
# (feedparser reads them as RSS's own), each item's id in its rdf:about.
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
# RSS 0.90's namespace, which feedparser reads as RSS's own too (as RSS 1.0's).
RSS090 = "{http://my.netscape.com/rdf/simple/0.9/}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
# Elements of an RSS item whose text feedparser also reads as the summary or content.
MEDIA = "{http://search.yahoo.com/mrss/}"
RSS_TEXT_ELSEWHERE = frozenset(
    {
        "summary",
        "content",
        "body",
        "fullitem",
        ATOM + "summary",
        ATOM + "content",
        "{http://www.w3.org/1999/xhtml}body",
        "{http://www.itunes.com/dtds/podcast-1.0.dtd}summary",
        "{http://purl.org/dc/elements/1.1/}description",
    }
)
RSS_AUTHORS = (
    "author",
    "{http://purl.org/dc/elements/1.1/}creator",
    "{http://purl.org/dc/elements/1.1/}author",
    "{http://www.itunes.com/dtds/podcast-1.0.dtd}author",
    ATOM + "author",
)
DC = "{http://purl.org/dc/elements/1.1/}"
DCTERMS = "{http://purl.org/dc/terms/}"
# The date elements feedparser reads as an entry's published or updated date.
DATE_ELEMENTS_RSS = {
    "pubDate": "published",
    ATOM + "published": "published",
    DCTERMS + "issued": "published",
    DC + "date": "updated",  # feedparser reads dc:date as the updated date
    DCTERMS + "modified": "updated",
    ATOM + "updated": "updated",
    "modified": "updated",  # feedparser's _start_modified is its _start_updated
}
DATE_ELEMENTS_ATOM = {
    ATOM + "published": "published",
    ATOM + "issued": "published",
    DCTERMS + "issued": "published",
    ATOM + "updated": "updated",
    ATOM + "modified": "updated",
    DC + "date": "updated",
    DCTERMS + "modified": "updated",
}
# Any other element of these names may be a date feedparser reads: left to feedparser.
DATE_NAMES = frozenset(
    {"date", "pubdate", "published", "updated", "issued", "created", "modified", "expirationdate"}
)
ATOM_TEXT_TYPES = frozenset({None, "text", "html", "text/html", "text/plain"})


class WellFormedParser(threading.local):
    """A strict parser that never resolves entities, reads no DTD and opens no network:
    it only says whether the document is well-formed, and builds the tree the fields are
    read from.
    One per thread: lxml holds a parser's lock for a whole parse, and a poll without
    worker processes parses in several threads."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            recover=False,
            collect_ids=False,
        )


_WELL_FORMED = WellFormedParser()


def header(headers: dict[str, Any], name: str) -> str:
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return ""


def utf8_document(body: bytes, headers: dict[str, Any]) -> bytes | None:
    """The document as UTF-8: as it is when it is UTF-8 (declared or not) and the
    Content-Type says no other charset, else as feedparser converts it (its own charset
    rules: Content-Type, XML declaration, byte-order mark, then its guesses), or None when
    feedparser's conversion reports more than a vague header."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    charset = CHARSET.search(header(headers, "content-type"))
    declared = XML_DECLARATION_ENCODING.match(body)
    if (not charset or charset.group(1).lower() in UTF8_NAMES) and (
        not declared or declared.group(1).decode("ascii").lower() in UTF8_NAMES
    ):
        try:
            body.decode("utf-8")
            return body
        except UnicodeDecodeError:
            pass
    result = feedparser.FeedParserDict()
    try:
        converted = convert_to_utf8(dict(headers), body, result)
    except Exception:
        return None
    if result.get("bozo") and not isinstance(result.get("bozo_exception"), BENIGN_BOZO):
        return None
    return bytes(converted).lstrip(b" \t\r\n")


def claimed_document(body: bytes, headers: dict[str, Any]) -> tuple[bytes, Any] | None:
    """The document as UTF-8 and its root element if the fast path claims it, else None.

    ``body`` has its leading whitespace stripped (as feedparser gets it).
    """
    document = utf8_document(body, headers)
    if document is None or not document.startswith(b"<"):
        return None
    if (
        DECLARATION.search(document)
        or C1_CONTROL_UTF8.search(document)
        or C1_CONTROL_REFERENCE.search(document)
    ):
        return None
    try:
        root = etree.fromstring(document, parser=_WELL_FORMED.parser)
    except etree.XMLSyntaxError:
        return None
    return (document, root) if root is not None else None


def claims(body: bytes, headers: dict[str, Any]) -> bool:
    """Whether the fast path may parse ``body`` (before its entries are compared)."""
    claimed = claimed_document(body, headers)
    return claimed is not None and feed_items(claimed[1]) is not None


def feed_items(root: Any) -> list[Any] | None:
    """RSS 0.9x/1.0/2.0 items or Atom 1.0 entries, in document order; None for other kinds.

    An RSS 1.0 (or 0.90) document's elements of the RSS 1.0 (0.90) namespace lose it
    (feedparser reads them as RSS 2.0's), so the RSS rules below read it; its items must
    all be the root's children (feedparser would count one anywhere)."""
    if root.tag == "rss":
        channel = root.find("channel")
        return None if channel is None else channel.findall("item")
    if root.tag == ATOM + "feed":
        return list(root.iterchildren(ATOM + "entry"))
    if root.tag == RDF + "RDF":
        for element in root.iter(RSS1 + "*", RSS090 + "*"):
            element.tag = element.tag.partition("}")[2]
        items = list(root.iter("item"))
        if any(item.getparent() is not root for item in items) or root.find("channel") is None:
            return None
        return items
    return None


def parse_fast(body: bytes, headers: dict[str, Any]) -> ParsedFeed | None:
    """``body`` parsed by the fast path, or None where feedparser must parse it."""
    claimed = claimed_document(body, headers)
    if claimed is None:
        return None
    body, root = claimed
    items = feed_items(root)
    if not items:
        return None
    atom = root.tag == ATOM + "feed"
    entries: list[FeedEntry] = []
    try:
        bases = Bases(root, headers)
        for item in items:
            entry = entry_from_fast(item, atom=atom, bases=bases)
            if entry is not None:
                entries.append(entry)
        link = atom_feed_link(root, bases) if atom else rss_feed_link(root.find("channel"))
        title = clean_text(single_text(root if atom else root.find("channel"), atom=atom))
    except Unmappable:
        return None
    except Exception:
        return None
    if not entries:
        return None
    return ParsedFeed(
        entries=entries,
        title=title,
        warning=None,
        ttl_minutes=channel_ttl(body),
        link=link,
    )


class Unmappable(Exception):
    """An entry the fast parser read differently from feedparser: parse with feedparser."""


def channel_ttl(body: bytes) -> int | None:
    """RSS <ttl> of the channel (before its first item), in minutes."""
    item = body.find(b"<item")
    found = TTL.search(body, 0, item if item >= 0 else len(body))
    if found is None:
        return None
    minutes = int(found.group(1))
    return minutes if minutes > 0 else None


def absolute_link(value: Any) -> str | None:
    """safe_link of an absolute link; a relative one (feedparser would resolve it) declines."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unmappable("a link that is not text")
    if not ABSOLUTE.match(value.strip()):
        raise Unmappable(f"a relative link {value[:80]!r}")
    return safe_link(value)


class Bases:
    """The base URI feedparser resolves an element's links and ids against.

    feedparser starts from the Content-Location header (the bot passes the feed's final
    URL) and, at every start tag, joins the element's xml:base (or a "base" attribute)
    onto it, as its own code does (make_safe_absolute_uri, _urljoin); an end tag restores
    the parent's base, unless that is empty. A document without any base attribute has
    one base for every element at a given depth; otherwise every element's is tracked in
    document order, as feedparser meets them. Only a value whose resolution depends on
    the base (a relative one, mostly) makes it look."""

    def __init__(self, root: Any, headers: dict[str, Any]) -> None:
        self.root = root
        self.initial = str(headers.get("content-location", "") or "")
        self.tracked: dict[Any, str] | None = None
        self.walked = False
        self.by_depth: dict[int, str] = {}
        # (base, declared) -> the base inside: most elements declare none, so the same pair.
        self.joined: dict[tuple[str, str], str] = {}

    def enter(self, current: str, element: Any) -> str:
        declared = element_base(element) or current
        key = (current, declared)
        if key not in self.joined:
            if current:
                self.joined[key] = str(make_safe_absolute_uri(current, declared) or current)
            else:
                self.joined[key] = str(feedparser_urljoin(current, declared))
        return self.joined[key]

    def walk(self) -> dict[Any, str] | None:
        """Every element's base in document order, or None when no element declares one."""
        if not BASE_ATTRIBUTE(self.root):
            return None
        current, stack, bases = self.initial, [], {}
        for event, element in etree.iterwalk(self.root, events=("start", "end")):
            if not isinstance(element.tag, str):
                continue
            if event == "start":
                current = self.enter(current, element)
                stack.append(current)
                bases[element] = current
            else:
                stack.pop()
                if stack and stack[-1]:
                    current = stack[-1]
        return bases

    def of(self, element: Any) -> str:
        if not self.walked:
            self.tracked, self.walked = self.walk(), True
        if self.tracked is not None:
            return self.tracked[element]
        depth = sum(1 for _ in element.iterancestors())
        if depth not in self.by_depth:
            current = self.initial
            for _ in range(depth + 1):
                current = self.enter(current, element)  # no base attribute: only the depth
            self.by_depth[depth] = current
        return self.by_depth[depth]

    def resolve(self, element: Any, value: str) -> str:
        """``value`` (an element's text or attribute) as feedparser's resolve_uri leaves it
        (``_urljoin(base, value)``). An absolute value that urljoin hands back whatever the
        base (another scheme than http's kind, or a URL already in urlunparse's form) needs
        no base."""
        # feedparser's _urifixer ("http:///x" -> "http://x") without re.sub's template.
        fixer = URI_FIXER.match(value)
        fixed = value if fixer is None else fixer.group(1) + value[fixer.end(2) :]
        try:
            parts = urlparse(fixed)
        except ValueError:
            parts = None
        if parts is not None and parts.scheme:
            if parts.scheme not in uses_relative:
                return fixed
            if parts.scheme in uses_netloc and parts.netloc and urlunparse(parts) == fixed:
                return fixed
        return str(feedparser_urljoin(self.of(element) or "", value))


def element_base(element: Any) -> str | None:
    """The element's xml:base, else its "base" attribute, as feedparser's attribute names
    give them (lowercased; an attribute of an unknown namespace loses it): declined where
    that reading is not certain."""
    declared: str | None = None
    plain: str | None = None
    for name, value in element.attrib.items():
        if name.rpartition("}")[2].lower() != "base":
            continue
        if name.startswith(XML_NAMESPACE):
            declared = value
        elif name.startswith("{") or plain is not None:
            raise Unmappable("a base attribute feedparser may read its own way")
        else:
            plain = value
    return declared if declared is not None else plain


def is_permalink(guid: Any) -> bool:
    """feedparser's guidislink: the (lowercased) isPermaLink attribute absent or "true"."""
    value = "true"
    for name, given in guid.attrib.items():
        if name.rpartition("}")[2].lower() == "ispermalink":
            if name.startswith("{"):
                raise Unmappable("a namespaced isPermaLink")
            value = given
    return value == "true"


def entry_id(item: Any, *, atom: bool, bases: Bases | None = None) -> str | None:
    """feedparser's id: an RSS <guid> (an Atom <id>); the caller falls back to the link.
    A permalink guid and an Atom id are resolved against their base, as feedparser
    resolves them (a relative id becomes a URL under the feed's).

    An RSS item with a permalink guid and no <link> is left to feedparser (it makes the
    guid the link), as is one with an Atom link."""
    ids = list(item.iterchildren(ATOM + "id") if atom else item.iterchildren("guid", ATOM + "id"))
    if len(ids) > 1:
        raise Unmappable("several ids")
    about = item.get(RDF + "about")
    if about is not None:
        # feedparser's id of an RSS 1.0 item (of any item with the attribute), unless a
        # <guid> follows; an Atom entry's, unless an <id> does.
        if ids or item.find("link") is None:
            raise Unmappable("an rdf:about and an id, or no link")
        return str(about).strip()
    if not atom:
        if next(item.iterchildren(ATOM + "link"), None) is not None:
            raise Unmappable("an Atom link in an RSS item")
        if ids and is_permalink(ids[0]) and item.find("link") is None:
            raise Unmappable("a permalink guid and no link")
    if not ids:
        return None
    text = only_text(ids[0]).strip()
    if text and bases is not None and is_permalink(ids[0]):
        return bases.resolve(ids[0], text).strip()
    return text


def entry_date(item: Any, *, atom: bool) -> datetime | None:
    """feedparser's date of the entry (published, else updated), read by feedparser's own
    date parser from the element feedparser reads (fastfeedparser's parser was laxer: it
    read "yesterday" as a date)."""
    published: list[str] = []
    updated: list[str] = []
    for child in item.iterchildren(tag=etree.Element):
        kind = DATE_ELEMENTS_ATOM.get(child.tag) if atom else DATE_ELEMENTS_RSS.get(child.tag)
        if kind is None:
            if child.tag.rpartition("}")[2].lower() in DATE_NAMES:
                raise Unmappable(f"a date in <{child.tag}>")
            continue
        (published if kind == "published" else updated).append(only_text(child))
    # feedparser keeps the last of each kind, even one it cannot read.
    for texts in (published, updated):
        if texts and (moment := struct_to_datetime(feedparser_date(texts[-1].strip()))):
            return moment
    return None


def struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time to an aware datetime; None if absent or absurd (both
    parse paths read dates through it)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def single_text(parent: Any, *, atom: bool, name: str = "title") -> str:
    """The text of ``parent``'s one child ``name`` (an Atom text in Atom), "" when it has
    none; several are left to feedparser."""
    found = list(parent.iterchildren(ATOM + name if atom else name))
    if len(found) > 1:
        raise Unmappable(f"several <{name}>")
    if not found:
        return ""
    return atom_text(found[0]) if atom else only_text(found[0])


def entry_from_fast(item: Any, *, atom: bool, bases: Bases | None = None) -> FeedEntry | None:
    # An RSS link is an element's text, which feedparser repairs; an Atom one an attribute,
    # chosen and resolved against its base as feedparser does.
    if atom:
        link = atom_entry_link(item, bases or Bases(item.getroottree().getroot(), {}))
    else:
        link = absolute_link(single_text(item, atom=False, name="link"))
    title = clean_text(single_text(item, atom=atom))
    summary, content = atom_texts(item) if atom else rss_texts(item)
    guid = str(entry_id(item, atom=atom, bases=bases) or link or "").strip()
    if not guid and not title:
        return None
    published = entry_date(item, atom=atom)
    check_links(item, atom=atom)
    check_dc_title(item, atom=atom)
    return FeedEntry(
        guid=guid or f"title:{title}",
        link=link,
        # As bot.feeds.parser.fallback_title: the title, the link, the id cleaned.
        title=title or link or clean_text(guid) or "(untitled)",
        summary="",
        content="",
        markup=EntryMarkup(summary=summary, content=content),
        published=published,
        image=entry_image(item, atom=atom),
        # feedparser reads an Atom entry's <comments> as an RSS item's.
        comments=absolute_link(single_text(item, atom=atom, name="comments")),
        author=clean_text(atom_author(item) if atom else rss_author(item)) or None,
    )


# feedparser's map_content_type and html_types: the link types it takes for the entry's.
HTML_LINK_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
LINK_ATTRIBUTES = frozenset({"rel", "type", "href", "url", "uri"})


def atom_link_attributes(link: Any) -> dict[str, str]:
    """An Atom <link>'s attributes as feedparser's strict parser hands them on: names
    lowercased, rel and type values too, then its defaults and its href rule (a url or
    uri attribute wins over href). One in another namespace that feedparser may read as
    its own is declined."""
    attributes: dict[str, str] = {}
    for name, value in link.attrib.items():
        if name.startswith("{"):
            if name.rpartition("}")[2].lower() in LINK_ATTRIBUTES:
                raise Unmappable("a namespaced link attribute")
            continue
        key = name.lower()
        attributes[key] = (value.lower() or value) if key in ("rel", "type") else value
    rel = attributes.setdefault("rel", "alternate")
    attributes.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
    href = attributes.get("url", attributes.get("uri", attributes.get("href")))
    if href:
        attributes["href"] = href
    return attributes


def atom_entry_link(entry: Any, bases: Bases) -> str | None:
    """The link parse_feed gives an Atom entry through feedparser: the last alternate link
    of an HTML type, else the entry's permalink id (feedparser saves it as the link), each
    resolved against its base; where that is no safe link, the first safe alternate link
    of any type (bot.feeds.parser.first_alternate_link)."""
    chosen, alternates = atom_links(entry, bases)
    return safe_link(chosen) or next(
        (href for href in map(safe_link, alternates) if href is not None), None
    )


def atom_feed_link(feed: Any, bases: Bases) -> str | None:
    """The feed's link as parse_feed takes it from feedparser (no fallback at this level)."""
    return safe_link(atom_links(feed, bases)[0])


def atom_links(entry: Any, bases: Bases) -> tuple[str | None, list[str]]:
    """feedparser's link of an Atom entry or feed (see :func:`atom_entry_link`), and its
    alternate links in order, resolved."""
    chosen: str | None = None
    alternates: list[str] = []
    for link in entry.iterchildren(ATOM + "link"):
        attributes = atom_link_attributes(link)
        if "href" not in attributes:
            raise Unmappable("an Atom link without href (feedparser reads its text)")
        if attributes["rel"] == "alternate":
            # Only alternate links are ever read: resolving the others (replies, edit,
            # self: five of six links of a Blogger entry) was a tenth of a parse.
            href = bases.resolve(link, attributes["href"])
            alternates.append(href)
            if attributes["type"] in HTML_LINK_TYPES:
                chosen = href
    if chosen is None:
        ids = list(entry.iterchildren(ATOM + "id"))
        if ids and is_permalink(ids[0]) and (text := only_text(ids[0]).strip()):
            chosen = bases.resolve(ids[0], text)
    return chosen, alternates


def check_links(item: Any, *, atom: bool) -> None:
    """Every link of an RSS item absolute (feedparser resolves a relative or empty one
    against the document's base, which the fast path does not for RSS)."""
    if atom:
        return
    else:
        for link in item.iterchildren("link", "comments"):
            if not ABSOLUTE.match(only_text(link).strip()):
                raise Unmappable("a relative RSS link")


def check_dc_title(item: Any, *, atom: bool) -> None:
    """A <dc:title> is the entry's title to feedparser too (the first of the two wins): only
    one that repeats the item's one <title> is read here (RSS 1.0 feeds such as Science's
    carry both). A <media:title> becomes the title only of an item without one of its own
    (feedparser never lets it keep the title's place): such an item is declined."""
    titles = list(item.iterchildren(ATOM + "title" if atom else "title"))
    if not titles and next(item.iter(MEDIA + "title"), None) is not None:
        raise Unmappable("a media:title and no title")
    dc_titles = list(item.iterchildren(DC + "title"))
    if not dc_titles:
        return
    if len(titles) != 1 or any(only_text(dc) != only_text(titles[0]) for dc in dc_titles):
        raise Unmappable("a dc:title that is not the item's title")


def only_text(element: Any) -> str:
    """An element's text as feedparser hands it on (stripped, :func:`undo_double_utf8`);
    one with child elements (inline markup) or base64 content is left to feedparser."""
    if len(element) or element.get("mode") == "base64":
        raise Unmappable(f"markup or base64 inside <{element.tag}>")
    return undo_double_utf8(str(element.text or "").strip())


def undo_double_utf8(text: str) -> str:
    """feedparser's repair of UTF-8 read as ISO-8859-1 ("CafÃ©"), on every element's
    text: a text of code points below 256 whose bytes are valid UTF-8 is decoded again."""
    if text.isascii():
        return text
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def media_summary(item: Any) -> str | None:
    """feedparser's summary of an item whose only text is one <media:description> (in a
    media:group, as YouTube writes it): feedparser reads it as a description. None when
    it has none; declined when there are several, or other texts it would compete with."""
    descriptions = list(item.iter(MEDIA + "description"))
    if not descriptions:
        return None
    if len(descriptions) > 1:
        raise Unmappable("several media:description")
    return only_text(descriptions[0])


def rss_texts(item: Any) -> tuple[str | None, tuple[str | None, ...]]:
    """feedparser's summary and content of an RSS item: <description>, else the content
    (feedparser copies it into the summary), and <content:encoded>; else a lone
    media:description (see :func:`media_summary`)."""
    descriptions: list[Any] = []
    contents: list[Any] = []
    for child in item.iterchildren(tag=etree.Element):
        if child.tag == "description":
            descriptions.append(child)
        elif child.tag == CONTENT_ENCODED:
            contents.append(child)
        elif child.tag in RSS_TEXT_ELSEWHERE:
            raise Unmappable(f"text in <{child.tag}>")
        elif child.tag == "og":
            # An Open Graph card (Google's blogs): feedparser takes its <description> as
            # the item's content.
            contents.extend(child.iterchildren("description"))
    if len(descriptions) > 1 or len(contents) > 1:
        raise Unmappable("several descriptions or contents")
    media = media_summary(item)
    if media is not None:
        if descriptions or contents:
            raise Unmappable("a media:description beside the item's own text")
        return media, ()
    content = tuple(only_text(element) for element in contents)
    if descriptions:
        return only_text(descriptions[0]), content
    return (content[0] if content else None), content


def atom_text(element: Any) -> str:
    if element.get("src") is None and element.get("type") == "xhtml":
        return xhtml_markup(element)
    if element.get("src") is not None or element.get("type") not in ATOM_TEXT_TYPES:
        raise Unmappable(f"an Atom text of type {element.get('type')!r}")
    return only_text(element)


def xhtml_markup(element: Any) -> str:
    """An Atom text of type xhtml as markup for clean_text, as feedparser hands it on: what
    its one wrapping <div> holds (feedparser drops that div), serialised by lxml."""
    children = list(element)
    if (
        len(children) == 1
        and children[0].tag == XHTML + "div"
        and not (element.text or "").strip()
        and not (children[0].tail or "").strip()
    ):
        element = children[0]
    text = html.escape(element.text or "", quote=False)
    return text + "".join(
        etree.tostring(child, encoding="unicode", with_tail=True) for child in element
    )


def atom_texts(entry: Any) -> tuple[str | None, tuple[str | None, ...]]:
    """feedparser's summary and content of an Atom entry (text and html types only)."""
    summaries = entry.findall(ATOM + "summary")
    contents = entry.findall(ATOM + "content")
    if len(summaries) > 1 or len(contents) > 1 or entry.find(ATOM + "source") is not None:
        raise Unmappable("several summaries or contents, or a source")
    media = media_summary(entry)
    if media is not None:
        if summaries or contents:
            raise Unmappable("a media:description beside the entry's own text")
        return media, ()
    content = tuple(atom_text(element) for element in contents)
    if summaries:
        return atom_text(summaries[0]), content
    return (content[0] if content else None), content


def atom_author(entry: Any) -> str | None:
    """feedparser's author of an Atom entry: its first author's name, "name (email)"."""
    author = entry.find(ATOM + "author")
    if author is None:
        return None
    name = author.find(ATOM + "name")
    email = author.find(ATOM + "email")
    name_text = only_text(name).strip() if name is not None else ""
    email_text = only_text(email).strip() if email is not None else ""
    if name_text and email_text:
        return f"{name_text} ({email_text})"
    return name_text or email_text or None


def rss_author(item: Any) -> str | None:
    """An RSS item's author: the last author element's text, as feedparser lets the last,
    even an empty one, win; an Atom-style person inside <author> (<name>, <email>) reads
    as feedparser reads it; other child elements are left to feedparser."""
    texts = [author_text(child) for child in item.iterchildren(*RSS_AUTHORS)]
    return texts[-1] if texts else None


def author_text(element: Any) -> str:
    """One author element's text; a person element ("Name (email)", as feedparser joins
    them) when it holds <name> or <email> children (Google's blog feeds do)."""
    if not len(element) or element.tag != "author":
        return only_text(element).strip()
    name = element.find("name")
    email = element.find("email")
    if name is None and email is None:
        raise Unmappable("markup inside <author>")
    name_text = only_text(name) if name is not None else ""
    email_text = only_text(email) if email is not None else ""
    if name_text and email_text:
        return f"{name_text} ({email_text})"
    return name_text or email_text


def rss_feed_link(channel: Any) -> str | None:
    link = channel.find("link")
    if link is not None:
        return absolute_link(only_text(link).strip())
    return alternate_link(channel)


def alternate_link(parent: Any) -> str | None:
    for link in parent.iterchildren(ATOM + "link"):
        if link.get("rel", "alternate") == "alternate" and (
            href := absolute_link(link.get("href"))
        ):
            return href
    return None


def entry_image(item: Any, *, atom: bool) -> str | None:
    """As bot.feeds.parser.entry_image on feedparser's lists: the first media:thumbnail,
    else the first media:content of medium image (the default), else an image enclosure."""
    for thumb in item.iter(MEDIA + "thumbnail"):
        if url := absolute_link(thumb.get("url")):
            return url
    for media in item.iter(MEDIA + "content"):
        if (media.get("medium") or "image") == "image" and (url := absolute_link(media.get("url"))):
            return url
    if atom:
        enclosures = [
            (link.get("type") or "", link.get("href"))
            for link in item.iterchildren(ATOM + "link")
            if link.get("rel") == "enclosure"
        ]
    else:
        enclosures = [
            (enclosure.get("type") or "", enclosure.get("url"))
            for enclosure in item.iterchildren("enclosure")
        ]
    for kind, url in enclosures:
        if kind.startswith("image/") and (href := absolute_link(url)):
            return href
    return None
