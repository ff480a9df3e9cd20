"""Do SQLite and PostgreSQL find the same stories? Every word of real Meta AI coverage, searched
on both, in one run (issue 15).

    .venv/bin/python -m bench.search_agreement [--examples 20]

The documents: the 330 labelled items of tests/data/topic (titles and snippets) and, when
../shared is beside the checkout, the 80 real articles of corpus/stories (titles and whole
texts). Each becomes a story in a migrated SQLite file and in a scratch PostgreSQL database
(META_AI_DIGEST_TEST_POSTGRES), indexed by the store's own ``index_stories``. Every distinct
word of the documents (stop words aside) is then searched on both with the bot's own query
(``recent_story_ids``, no time limit, no result limit), and the two sets of stories compared.

Both databases get the same words (punctuation is removed before indexing), so the
differences come from the stemmers alone: FTS5's ``porter`` is Porter's 1980 algorithm,
PostgreSQL's ``english`` configuration uses Snowball English (Porter2). The baseline in the
same run is the old substring search: how many of the same words found a story by a piece of
another word (``ai`` in "said").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from bench import SMOKE_HELP
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.schema import Story
from bot.store.search import (
    STOP_WORDS,
    WORD,
    index_stories,
    parse_query,
    recent_story_ids,
)
from tests.helpers import postgres_available, scratch_postgres_database

REPO = Path(__file__).resolve().parents[1]

TOPIC = REPO / "tests" / "data" / "topic" / "labelled.jsonl"
STORIES = REPO.parent / "shared" / "corpus" / "stories" / "meta_ai_stories.jsonl"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def documents() -> list[tuple[str, str]]:
    """(title, text) of every document available."""
    found = []
    for path, text_key in ((TOPIC, "snippet"), (STORIES, "text")):
        if not path.exists():
            print(f"skipped: {path} is not here")
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.append((record.get("title") or "", record.get(text_key) or ""))
    return found


def store(engine: Engine, docs: list[tuple[str, str]]) -> None:
    migrate(engine)
    with session_factory(engine).begin() as session:
        stories = [
            Story(
                title=title,
                url="https://example.com/",
                first_published_at=EPOCH,
                last_updated_at=EPOCH,
                created_at=EPOCH,
                summary=[text],
                sources_announced=0,
            )
            for title, text in docs
        ]
        session.add_all(stories)
        session.flush()
        index_stories(session, [story.id for story in stories])


def search(engine: Engine, words: list[str]) -> dict[str, frozenset[int]]:
    with session_factory(engine)() as session:
        return {
            word: frozenset(recent_story_ids(session, EPOCH, 10**6, parse_query(word)))
            for word in words
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if reason := postgres_available():
        sys.exit(f"needs PostgreSQL: {reason}")
    docs = documents()[:20] if args.smoke else documents()
    counts = Counter(
        word.lower() for title, text in docs for word in WORD.findall(f"{title} {text}")
    )
    words = sorted(word for word in counts if word not in STOP_WORDS)
    if args.smoke:
        words = words[:50]

    with tempfile.TemporaryDirectory() as scratch, scratch_postgres_database() as postgres_url:
        sqlite = create_database_engine(f"sqlite:///{Path(scratch) / 'agreement.db'}")
        postgres = create_database_engine(postgres_url)
        try:
            store(sqlite, docs)
            store(postgres, docs)
            on_sqlite, on_postgres = search(sqlite, words), search(postgres, words)
        finally:
            sqlite.dispose()
            postgres.dispose()

    differ = [word for word in words if on_sqlite[word] != on_postgres[word]]
    weight = sum(counts[word] for word in differ)
    texts = [f"{title} {text}".lower() for title, text in docs]
    substring = [
        word
        for word in words
        if sum(word in text for text in texts) > len(on_sqlite[word] | on_postgres[word])
    ]
    print(f"{len(docs)} documents, {len(words):,} distinct words searched on both databases")
    print(
        f"  same stories found: {len(words) - len(differ):,} words "
        f"({1 - len(differ) / len(words):.2%}); different: {len(differ)} "
        f"({len(differ) / len(words):.2%} of the words, "
        f"{weight / sum(counts[w] for w in words):.2%} of their occurrences)"
    )
    print(
        f"  baseline, the old substring search: {len(substring):,} of the words "
        f"({len(substring) / len(words):.1%}) also matched inside other words"
    )
    print(f"first {args.examples} differences: word: stories on SQLite / on PostgreSQL")
    for word in differ[: args.examples]:
        only_sqlite = len(on_sqlite[word] - on_postgres[word])
        only_postgres = len(on_postgres[word] - on_sqlite[word])
        print(
            f"  {word}: {len(on_sqlite[word])} / {len(on_postgres[word])}"
            f" (+{only_sqlite} SQLite only, +{only_postgres} PostgreSQL only)"
        )


if __name__ == "__main__":
    main()
