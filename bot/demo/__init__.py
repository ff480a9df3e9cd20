"""Sample feeds for `meta-ai-digest demo`: a first run that shows a real digest, offline.

Three small feeds ship with the package (``bot/demo/feeds/``): RSS with full content, RSS
with snippets, Atom. Their stories are made up. Two outlets cover one release (the digest
shows it once, with both sources); some items are not about Meta's AI work and are dropped
by the topic rules. The feeds give the full text of every item they keep, so the demo
fetches no article page and touches no network.

:func:`write_sample_feeds` copies them into a directory with their dates moved so the
newest item is an hour old: the digest reads as today's news, and every item falls inside
the first poll's backfill window. Standard library only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from importlib import resources
from pathlib import Path

#: (feed name, file) in the order the demo polls them.
SAMPLE_FEEDS = (
    ("Sample Newsroom", "newsroom.xml"),
    ("Sample Tech Outlet", "tech-outlet.xml"),
    ("Sample Research Blog", "research-blog.atom"),
)
# The newest sample item is this old when the demo runs.
NEWEST_AGE = timedelta(hours=1)
_RFC822 = re.compile(r"<pubDate>([^<]+)</pubDate>")
_RFC3339 = re.compile(r"<(published|updated)>([^<]+)</\1>")


def sample_text(file: str) -> str:
    return resources.files("bot.demo").joinpath("feeds", file).read_text(encoding="utf-8")


def _dates(text: str) -> list[datetime]:
    found = [parsedate_to_datetime(value) for value in _RFC822.findall(text)]
    found += [datetime.fromisoformat(value) for _tag, value in _RFC3339.findall(text)]
    return found


def write_sample_feeds(directory: Path, now: datetime | None = None) -> list[tuple[str, Path]]:
    """The sample feeds written to ``directory``, dated as of ``now``; (name, path) pairs."""
    moment = now or datetime.now(UTC)
    texts = {file: sample_text(file) for _name, file in SAMPLE_FEEDS}
    newest = max(date for text in texts.values() for date in _dates(text))
    shift = moment - NEWEST_AGE - newest

    def rfc822(match: re.Match[str]) -> str:
        moved = parsedate_to_datetime(match.group(1)) + shift
        return f"<pubDate>{format_datetime(moved.astimezone(UTC), usegmt=True)}</pubDate>"

    def rfc3339(match: re.Match[str]) -> str:
        moved = datetime.fromisoformat(match.group(2)) + shift
        tag = match.group(1)
        return f"<{tag}>{moved.astimezone(UTC).isoformat(timespec='seconds')}</{tag}>"

    written = []
    for name, file in SAMPLE_FEEDS:
        path = directory / file
        path.write_text(_RFC3339.sub(rfc3339, _RFC822.sub(rfc822, texts[file])), encoding="utf-8")
        written.append((name, path))
    return written
