"""stories: indexes for latest and /meta-ai, and a full-text search index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Why: `latest` and /meta-ai filtered and ordered ``stories.first_published_at`` without an
index, and a search loaded every story of the last 30 days to test substrings in Python
(``ai`` matched "said"). Their cost grew with the whole history.

- ``ix_stories_first_published_at`` (first_published_at, id): the time window, newest first;
- ``ix_stories_unposted`` (first_published_at, id) where posted_at is null: the digest's
  pending stories, oldest first;
- ``ix_stories_last_updated_at``: the digest's posted stories that gained sources;
- the search index, filled here from every existing story (title, summary, the titles of
  its kept items): on SQLite the FTS5 table ``story_search`` (rowid = story id, porter
  tokenizer); on PostgreSQL the tsvector column ``stories.search_vector`` (``english``)
  with the GIN index ``ix_stories_search_vector``. From here on ``bot/store/search.py``
  keeps it in step.

Self-contained on purpose (it repeats the document's text rules instead of importing them),
so later changes to the bot never change what this revision did.
"""

import json
import re
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORD = re.compile(r"[^\W_]+")
# PostgreSQL's english.stop; each becomes "the" in the document (see bot/store/search.py).
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
BATCH = 2000


def upgrade() -> None:
    op.create_index("ix_stories_first_published_at", "stories", ["first_published_at", "id"])
    op.create_index(
        "ix_stories_unposted",
        "stories",
        ["first_published_at", "id"],
        sqlite_where=sa.text("posted_at IS NULL"),
        postgresql_where=sa.text("posted_at IS NULL"),
    )
    op.create_index("ix_stories_last_updated_at", "stories", ["last_updated_at"])

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE stories ADD COLUMN search_vector tsvector")
        backfill(bind, postgres=True)
        op.execute("CREATE INDEX ix_stories_search_vector ON stories USING gin (search_vector)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE story_search USING fts5("
            "document, tokenize = 'porter unicode61 remove_diacritics 0')"
        )
        backfill(bind, postgres=False)


def backfill(bind: sa.Connection, *, postgres: bool) -> None:
    """Index every story: its words, one line per field, punctuation removed, stop words
    replaced."""
    last_id = 0
    while True:
        stories = bind.execute(
            sa.text(
                "SELECT id, title, summary FROM stories WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last_id, "batch": BATCH},
        ).all()
        if not stories:
            return
        first_id, last_id = stories[0][0], stories[-1][0]
        sources: dict[int, list[str]] = defaultdict(list)
        rows = bind.execute(
            sa.text(
                "SELECT story_id, title FROM items WHERE story_id BETWEEN :first AND :last"
                " AND kept ORDER BY story_id, published_at, id"
            ),
            {"first": first_id, "last": last_id},
        )
        for story_id, title in rows:
            sources[story_id].append(title)
        ids, documents = [], []
        for story_id, title, summary in stories:
            parts = [title, *sentences_of(summary), *sources[story_id]]
            ids.append(story_id)
            documents.append("\n".join(words_of(part) for part in parts if part))
        if postgres:
            bind.execute(
                sa.text(
                    "UPDATE stories SET search_vector = to_tsvector('english', d.doc)"
                    " FROM unnest(CAST(:ids AS integer[]), CAST(:docs AS text[])) AS d(id, doc)"
                    " WHERE stories.id = d.id"
                ),
                {"ids": ids, "docs": documents},
            )
        else:
            bind.execute(
                sa.text("INSERT INTO story_search (rowid, document) VALUES (:id, :doc)"),
                [{"id": key, "doc": doc} for key, doc in zip(ids, documents, strict=True)],
            )


def words_of(text: str) -> str:
    """The words of a text, punctuation removed, each stop word replaced by "the"."""
    return " ".join("the" if w.lower() in STOP_WORDS else w for w in WORD.findall(text))


def sentences_of(summary: object) -> list[str]:
    """A summary column as read through plain SQL: JSON text on SQLite, a list on PostgreSQL."""
    if isinstance(summary, str):
        summary = json.loads(summary)
    return [part for part in summary if isinstance(part, str)] if isinstance(summary, list) else []


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_stories_search_vector")
        op.execute("ALTER TABLE stories DROP COLUMN search_vector")
    else:
        op.execute("DROP TABLE story_search")
    op.drop_index("ix_stories_last_updated_at", "stories")
    op.drop_index("ix_stories_unposted", "stories")
    op.drop_index("ix_stories_first_published_at", "stories")
