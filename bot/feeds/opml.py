"""OPML 2.0 subscription lists, read and written with lxml, as feed readers exchange them.

Reading takes what Miniflux, Feedly, Inoreader, NetNewsWire and MonitoRSS export: feeds as
``<outline xmlUrl="..." htmlUrl="..." title="..." text="...">``, categories as outlines that
hold outlines (nested to any depth), or a ``category="/Tech/AI"`` attribute. Writing produces
the same shape, so a file exported here imports there and back unchanged.

An OPML file is untrusted input, and no feed reader writes entity declarations: a file that
declares any is refused before it is parsed (so "billion laughs" expands nothing), and the
parser loads no DTD, resolves no external entity and fetches nothing from the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

#: A category path is stored and shown joined with this (``Tech/AI``).
CATEGORY_SEPARATOR = "/"
ENTITY_DECLARATION = b"<!ENTITY"
ENTITY_DECLARATION_UTF16 = "<!ENTITY".encode("utf-16-le")
ENTITIES_REFUSED = "OPML files with entity declarations (<!ENTITY ...>) are refused"


@dataclass(frozen=True)
class OpmlFeed:
    """One subscription: its title, feed address, site address and category path."""

    title: str
    xml_url: str
    html_url: str | None = None
    category: tuple[str, ...] = ()

    @property
    def category_path(self) -> str | None:
        return CATEGORY_SEPARATOR.join(self.category) or None


class OpmlError(ValueError):
    """The file is not an OPML subscription list; the message says why."""


def read_opml(data: bytes) -> list[OpmlFeed]:
    """Every feed of an OPML document, in document order, with its category path."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    if ENTITY_DECLARATION in data.upper() or ENTITY_DECLARATION_UTF16 in data.upper():
        raise OpmlError(ENTITIES_REFUSED)
    try:
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"not an OPML file: the XML is broken ({error})") from None
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise OpmlError(ENTITIES_REFUSED)  # declared in an encoding the check above missed
    root = tree.getroot()
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise OpmlError("not an OPML file: its root element is not <opml>")
    body = next((child for child in root if _name(child) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML file: it has no <body>")
    return list(_walk(body, ()))


def _name(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _attribute(element: Any, name: str) -> str:
    """An attribute whatever its case (``xmlUrl``, ``xmlurl``), stripped."""
    for key, value in element.attrib.items():
        if key.lower() == name.lower():
            return str(value).strip()
    return ""


def _walk(parent: Any, category: tuple[str, ...]) -> Iterator[OpmlFeed]:
    for outline in parent:
        if _name(outline) != "outline":
            continue
        label = _attribute(outline, "text") or _attribute(outline, "title")
        xml_url = _attribute(outline, "xmlUrl")
        if xml_url:
            own = category or _category_attribute(outline)
            yield OpmlFeed(
                title=_attribute(outline, "title") or _attribute(outline, "text"),
                xml_url=xml_url,
                html_url=_attribute(outline, "htmlUrl") or None,
                category=own,
            )
        yield from _walk(outline, (*category, label) if label and not xml_url else category)


def _category_attribute(outline: Any) -> tuple[str, ...]:
    """The first path of a ``category="/Tech/AI,/News"`` attribute."""
    first = _attribute(outline, "category").split(",")[0]
    return tuple(part.strip() for part in first.split("/") if part.strip())


def write_opml(feeds: Sequence[OpmlFeed], *, title: str, created: datetime) -> bytes:
    """An OPML 2.0 document: feeds without a category first, then one outline per category
    holding its feeds (nested for a path such as ``Tech/AI``)."""
    from lxml import etree

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(created, usegmt=True)
    body = etree.SubElement(root, "body")
    groups: dict[tuple[str, ...], Any] = {(): body}

    def group(path: tuple[str, ...]) -> Any:
        if path not in groups:
            groups[path] = etree.SubElement(group(path[:-1]), "outline", text=path[-1])
            groups[path].set("title", path[-1])
        return groups[path]

    for feed in sorted(feeds, key=lambda feed: (feed.category, feed.title.lower())):
        outline = etree.SubElement(group(feed.category), "outline", type="rss")
        outline.set("text", feed.title)
        outline.set("title", feed.title)
        outline.set("xmlUrl", feed.xml_url)
        if feed.html_url:
            outline.set("htmlUrl", feed.html_url)
    document: bytes = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return document
