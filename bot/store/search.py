"""Full-text search over stories: the index the store keeps in step, and the queries that read it.

What ``latest WORDS`` and ``/meta-ai WORDS`` match, the same on SQLite and PostgreSQL:

- every word, in a story's title, its summary or the title of one of its sources;
- whole words with English stemming: ``llama`` finds "Llama" and "llamas", ``release``
  finds "released" and "releases"; ``ai`` never matches "said";
- ``"open source"`` in double quotes is a phrase: those words, in that order, next to each
  other (an unbalanced quote runs to the end);
- punctuation only separates words (``Llama-4`` is the phrase "llama 4", ``Meta's`` is "meta");
  nothing typed is an operator: ``OR``, ``NOT``, ``*``, ``NEAR(``, ``-``, ``:`` are text;
- common English words (PostgreSQL's ``english`` stop words: the, and, of, ...) are ignored;
  inside a phrase each holds the place of any one of them ("state of the art" matches
  "state of the art" and "state for an art", as PostgreSQL's phrases do).

The index: on SQLite the FTS5 table ``story_search`` (rowid = story id, tokenizer
``porter unicode61``); on PostgreSQL the ``stories.search_vector`` column (``english``
configuration) with a GIN index. Both receive the same text: the words of the title, summary
and source titles, punctuation removed and stop words replaced here, so both engines split
words and skip stop words alike. The stemmers differ (FTS5's Porter, PostgreSQL's Snowball
English) on a few percent of words (``focus`` finds "focused" on PostgreSQL only);
docs/search.md has the measured figures.

Revision 0004 builds both; :func:`index_stories` keeps them in step whenever a story is
created or its title, summary or sources change (``bot/services/grouping.py`` calls it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from bot.store.schema import Item, Story

# The names revision 0004 creates; they are not in the models (see is_search_object).
SQLITE_TABLE = "story_search"
POSTGRES_COLUMN = "search_vector"
POSTGRES_INDEX = "ix_stories_search_vector"
POSTGRES_CONFIG = "english"
# A word: letters and digits (Unicode), as FTS5's unicode61 tokenizer splits text.
WORD = re.compile(r"[^\W_]+")
# PostgreSQL's english.stop (the Snowball list), which its `english` configuration ignores.
# tests/store/test_search.py checks that the server ignores every one of them.
ENGLISH_STOP = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
"""
STOP_WORDS = frozenset(ENGLISH_STOP.split())
# What every stop word becomes, in documents and inside phrases: PostgreSQL drops it and keeps
# its place, as it does any stop word; FTS5 keeps it, so a phrase still needs a stop word in
# that place, and no stop word's Porter stem can match a real word ("are" is "ar", as in AR
# glasses). A search for "the" itself is dropped before it reaches either database.
STOP_PLACEHOLDER = "the"
# Ids per statement when the index is rewritten: far below both databases' limits.
CHUNK = 500
# The longest search answered. Every word must match, so a longer one finds nothing anyway
# (a pasted article of 8,000 words used to answer "no matches" after a costly query).
MAX_QUERY_WORDS = 20
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class SearchTerms:
    """What a search asks for: each term a word, or a phrase of several words, all required."""

    terms: tuple[tuple[str, ...], ...]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def fts5(self) -> str:
        """An FTS5 query: every term a quoted string (only letters and digits inside)."""
        return " AND ".join('"' + " ".join(words) + '"' for words in self.terms)

    def phrases(self) -> list[str]:
        """Each term as text for PostgreSQL's ``phraseto_tsquery``."""
        return [" ".join(words) for words in self.terms]


def query_too_long(query: str) -> str | None:
    """Why a search is too long to answer, naming the limit; None when it is not."""
    words, characters = len(query.split()), len(query)
    if words <= MAX_QUERY_WORDS and characters <= MAX_QUERY_CHARS:
        return None
    return (
        f"That search is too long ({words:,} words, {characters:,} characters): "
        f"search with at most {MAX_QUERY_WORDS} words and {MAX_QUERY_CHARS} characters."
    )


def parse_query(query: str) -> SearchTerms:
    """The terms of what a user typed; never an error, whatever the input.

    Outside quotes each space-separated chunk is a term (its words a phrase if punctuation
    split it); inside quotes the whole text is one phrase. Stop words at either end of a
    term are dropped, and a term of stop words alone.
    """
    terms: list[tuple[str, ...]] = []
    for position, piece in enumerate(query.split('"')):
        quoted = position % 2 == 1
        chunks = [piece] if quoted else piece.split()
        for chunk in chunks:
            words = [word.lower() for word in WORD.findall(chunk)]
            while words and words[0] in STOP_WORDS:
                words.pop(0)
            while words and words[-1] in STOP_WORDS:
                words.pop()
            term = tuple(STOP_PLACEHOLDER if word in STOP_WORDS else word for word in words)
            if term and term not in terms:
                terms.append(term)
    return SearchTerms(tuple(terms))


def document(title: str, summary: Sequence[str], source_titles: Iterable[str]) -> str:
    """The text indexed for a story: its words, one line per field, punctuation removed and
    each stop word replaced by STOP_PLACEHOLDER."""
    return "\n".join(
        " ".join(
            STOP_PLACEHOLDER if word.lower() in STOP_WORDS else word for word in WORD.findall(part)
        )
        for part in (title, *summary, *source_titles)
        if part
    )


# ------------------------------------------------------------------------------ queries
def recent_story_ids(
    session: Session, since: datetime, limit: int, terms: SearchTerms | None = None
) -> list[int]:
    """Ids of the newest stories first published since ``since``, matching ``terms`` if given.

    Newest first (ties: the later story first). Reads the index on
    ``stories(first_published_at, id)`` and, for a search, the full-text index; never the
    whole table, so the cost follows the window, not the history.
    """
    statement = recent_stories(since, limit)
    if terms:
        condition = matching(session, terms, since)
        if condition is None:
            return []
        statement = statement.where(condition)
    return list(session.scalars(statement))


def recent_stories(since: datetime, limit: int) -> Select[int]:
    return (
        select(Story.id)
        .where(Story.first_published_at >= since)
        .order_by(Story.first_published_at.desc(), Story.id.desc())
        .limit(limit)
    )


def matching(session: Session, terms: SearchTerms, since: datetime) -> ColumnElement[bool] | None:
    """The condition "the story matches every term", for this session's database.

    None when no story can match: the window holds no story at all.
    """
    if dialect_of(session) == "postgresql":
        # The planner picks: the time index newest first, testing each story's tsvector,
        # or the GIN index's matches ANDed with the time range (rare words).
        queries: list[ColumnElement[Any]] = [
            func.phraseto_tsquery(literal_column(f"'{POSTGRES_CONFIG}'::regconfig"), phrase)
            for phrase in terms.phrases()
        ]
        tsquery = reduce(lambda left, right: left.op("&&")(right), queries)
        return literal_column(f"stories.{POSTGRES_COLUMN}").op("@@")(tsquery)
    # SQLite, without statistics, would look each FTS5 match up by id and sort them all, and
    # FTS5 yields the matches of the whole history. Instead: the time index, newest first,
    # keeps the stories among the FTS5 matches and stops at the limit (`id + 0` keeps the
    # planner off the primary key), and FTS5 seeks straight to the window's lowest id, as
    # only stories from there on can be in the window. Both scans cost what the window holds.
    floor = session.scalar(
        select(func.min(Story.id + literal_column("0"))).where(Story.first_published_at >= since)
    )
    if floor is None:
        return None
    fts = table(SQLITE_TABLE, column("rowid", Integer))
    matches = select(fts.c.rowid).where(
        literal_column(SQLITE_TABLE).op("MATCH")(terms.fts5()), fts.c.rowid >= floor
    )
    return (Story.id + literal_column("0")).in_(matches)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


# ------------------------------------------------------------------------ keeping in step
def index_stories(session: Session, story_ids: Iterable[int]) -> None:
    """Rewrite the search index of these stories from their title, summary and sources.

    Call it in the transaction that created the stories or changed what they say; the
    session is flushed first, so pending changes are what gets indexed.
    """
    ids = sorted(set(story_ids))
    for part in _chunks(ids):
        stories = session.execute(
            select(Story.id, Story.title, Story.summary).where(Story.id.in_(part))
        ).all()
        sources: dict[int, list[str]] = defaultdict(list)
        rows = session.execute(
            select(Item.story_id, Item.title)
            .where(Item.story_id.in_(part), Item.kept.is_(True))
            .order_by(Item.published_at, Item.id)
        )
        for story_id, title in rows:
            if story_id is not None:
                sources[story_id].append(title)
        documents = {
            story_id: document(title, summary or [], sources[story_id])
            for story_id, title, summary in stories
        }
        write_documents(session, documents)


def write_documents(session: Session, documents: dict[int, str]) -> None:
    """Store documents (story id → text) in the search index, replacing the old ones."""
    if not documents:
        return
    if dialect_of(session) == "postgresql":
        session.execute(
            text(
                f"UPDATE stories SET {POSTGRES_COLUMN} = to_tsvector('{POSTGRES_CONFIG}', d.doc)"
                " FROM unnest(CAST(:ids AS integer[]), CAST(:docs AS text[])) AS d(id, doc)"
                " WHERE stories.id = d.id"
            ),
            {"ids": list(documents), "docs": list(documents.values())},
        )
        return
    rows: list[dict[str, Any]] = [{"id": key, "doc": doc} for key, doc in documents.items()]
    session.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid = :id"), rows)
    session.execute(text(f"INSERT INTO {SQLITE_TABLE} (rowid, document) VALUES (:id, :doc)"), rows)


def forget_stories(session: Session, story_ids: Sequence[int]) -> None:
    """Remove deleted stories' documents (retention): on SQLite the FTS5 table is not tied to
    ``stories`` by a foreign key; on PostgreSQL the document goes with its row."""
    if story_ids and dialect_of(session) == "sqlite":
        rows = [{"id": story_id} for story_id in story_ids]
        session.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid = :id"), rows)


def is_search_object(name: str | None, type_: str) -> bool:
    """Whether a reflected object is the search index, which the models do not declare.

    Alembic's comparison of the database with the models skips these (migrations/env.py,
    tests/store/test_migrations.py): FTS5's virtual and shadow tables, the tsvector column and
    its GIN index.
    """
    if name is None:
        return False
    if type_ == "table":
        return name == SQLITE_TABLE or name.startswith(f"{SQLITE_TABLE}_")
    return name in {POSTGRES_COLUMN, POSTGRES_INDEX}


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
