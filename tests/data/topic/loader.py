"""Load the topic labelled set, resolving the items that only reference the shared feed corpus.

Why references: 112 items are real entries of ``../shared/corpus/feeds``, whose
SOURCES.md allows the files as local test data but forbids republishing them.
Copying an entry's headline and summary into this repository would republish it,
so ``labelled.jsonl`` keeps only the label, the reason and a reference (corpus
file name + the entry's guid as :func:`bot.feeds.parser.parse_feed` reports it).
This module puts the text back at load time by parsing the corpus file with the
bot's own parser: the title, and the first 30 words of the feed's summary (its
content when it has no summary), " …" marking a cut.

On a fresh clone without ``../shared`` the referenced items are left out and
:attr:`LabelledSet.corpus_found` is False, so tests can skip the part that needs
them and the bench can say which subsets it measured. A reference that does not
resolve while the corpus is present is an error, never a silent gap.

Used by ``tests/topic/test_topic.py`` and ``bench/topic.py`` (``tests`` is importable
from the repository root).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.feeds.parser import FeedEntry, parse_feed

HERE = Path(__file__).resolve().parent
LABELLED = HERE / "labelled.jsonl"
REPO = HERE.parents[2]
# Where the corpus lives for developers and CI; a user's fresh clone has no ../shared.
DEFAULT_FEED_CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
# Points the loader at another corpus directory; a missing path behaves like a fresh clone.
CORPUS_ENV = "TOPIC_FEED_CORPUS"
SNIPPET_WORDS = 30
CUT_MARK = " …"


class CorpusReferenceError(LookupError):
    """A labelled item's reference names no entry of the corpus that is present."""


@dataclass(frozen=True)
class LabelledItem:
    """One labelled headline + snippet, whether stored in the repo or resolved from the corpus."""

    id: str
    title: str
    snippet: str
    label: bool
    reason: str
    provenance: str
    from_corpus: bool


@dataclass(frozen=True)
class LabelledSet:
    """The items that could be loaded, and what was left out because the corpus is absent."""

    items: list[LabelledItem]
    corpus_dir: Path
    corpus_found: bool
    corpus_referenced: int

    @property
    def in_repo(self) -> list[LabelledItem]:
        return [item for item in self.items if not item.from_corpus]

    @property
    def from_corpus(self) -> list[LabelledItem]:
        return [item for item in self.items if item.from_corpus]

    @property
    def complete(self) -> bool:
        return self.corpus_found or self.corpus_referenced == 0


def feed_corpus_dir() -> Path:
    """The shared feed corpus directory: $TOPIC_FEED_CORPUS if set, else ../shared/corpus/feeds."""
    override = os.environ.get(CORPUS_ENV)
    return Path(override) if override else DEFAULT_FEED_CORPUS


def snippet_of(entry: FeedEntry) -> str:
    """The first 30 words of the feed's own summary (content if it has none), ' …' if cut."""
    words = (entry.summary or entry.content).split()
    cut = CUT_MARK if len(words) > SNIPPET_WORDS else ""
    return " ".join(words[:SNIPPET_WORDS]) + cut


class _Corpus:
    """Parses each corpus file once and finds entries by guid."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._feeds: dict[str, dict[str, FeedEntry]] = {}

    def entry(self, item_id: str, reference: dict[str, Any]) -> FeedEntry:
        name, guid = str(reference["file"]), str(reference["guid"])
        if name not in self._feeds:
            path = self.directory / name
            if not path.is_file():
                raise CorpusReferenceError(f"{item_id}: corpus file {path} does not exist")
            self._feeds[name] = {e.guid: e for e in parse_feed(path.read_bytes()).entries}
        found = self._feeds[name].get(guid)
        if found is None:
            raise CorpusReferenceError(f"{item_id}: no entry with guid {guid!r} in {name}")
        return found


def load_labelled(path: Path = LABELLED, corpus_dir: Path | None = None) -> LabelledSet:
    """Every item of the set; corpus references resolved, or left out if the corpus is absent."""
    directory = corpus_dir if corpus_dir is not None else feed_corpus_dir()
    corpus = _Corpus(directory)
    found = directory.is_dir()
    items: list[LabelledItem] = []
    referenced = 0
    for row in _rows(path):
        reference = row.get("corpus")
        referenced += reference is not None
        if reference is None:
            items.append(_item(row, str(row["title"]), str(row["snippet"]), from_corpus=False))
        elif found:
            entry = corpus.entry(str(row["id"]), reference)
            items.append(_item(row, entry.title, snippet_of(entry), from_corpus=True))
    return LabelledSet(items, directory, found, referenced)


def _rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _item(row: dict[str, Any], title: str, snippet: str, *, from_corpus: bool) -> LabelledItem:
    return LabelledItem(
        id=str(row["id"]),
        title=title,
        snippet=snippet,
        label=bool(row["label"]),
        reason=str(row["reason"]),
        provenance=str(row["provenance"]),
        from_corpus=from_corpus,
    )
