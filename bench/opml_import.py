"""`feeds import` time against the number of outlines, on SQLite and PostgreSQL (issue 21,
point 9).

    .venv/bin/python -m bench.opml_import [--sizes 1000,10000] [--databases sqlite,postgresql]

Each size is imported into a fresh, migrated database by the bot's own FeedCatalog (the code
behind `feeds import`), then imported again (every feed "already there"). Outlines are
synthetic: distinct addresses, names repeating every 7,000 (so the later ones are named
"name (host)"), ten categories. Before (issue 21): 500 outlines 4.0 s, 1,000 13.6 s, 2,000
53.8 s, 10,000 unfinished after 15 minutes, with SQLite's write lock held throughout.
Target: 10,000 outlines in at most 10 s. PostgreSQL uses a scratch database on the server
named by META_AI_DIGEST_TEST_POSTGRES (skipped when none answers).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime

from bench import SMOKE_HELP
from bot.feeds.opml import OpmlFeed, write_opml
from bot.feeds.settings import FetchSettings
from bot.services.feeds import FeedCatalog
from bot.store.database import create_database_engine, migrate, session_factory
from tests.helpers import postgres_available, scratch_postgres_database


def outlines(count: int) -> bytes:
    feeds = [
        OpmlFeed(
            f"Feed {number % 7000}",
            f"https://site{number}.example/feed.xml",
            f"https://site{number}.example/",
            ("Imported", str(number % 10)),
        )
        for number in range(count)
    ]
    return write_opml(feeds, title="bench", created=datetime.now(UTC))


def measure(url: str, count: int) -> tuple[float, float]:
    engine = create_database_engine(url)
    try:
        migrate(engine)
        catalog = FeedCatalog(session_factory(engine), list, FetchSettings())
        data = outlines(count)
        started = time.perf_counter()
        report = catalog.import_opml(data, added_by="bench")
        first = time.perf_counter() - started
        assert len(report.added) == count, report.refused[:3]
        started = time.perf_counter()
        again = catalog.import_opml(data, added_by="bench")
        second = time.perf_counter() - started
        assert len(again.already_there) == count
        return first, second
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    options = parser.parse_args()
    if options.smoke:
        options.sizes = "20"
    sizes = [int(size) for size in options.sizes.split(",")]
    print(f"feeds import: outlines, seconds (first import, again); {os.cpu_count()} CPUs")
    for database in options.databases.split(","):
        if database == "postgresql" and (reason := postgres_available()):
            print(f"  postgresql: skipped ({reason})")
            continue
        for count in sizes:
            if database == "sqlite":
                with tempfile.TemporaryDirectory() as directory:
                    first, second = measure(f"sqlite:///{directory}/bench.db", count)
            else:
                with scratch_postgres_database() as url:
                    first, second = measure(url, count)
            print(f"  {database:<10} {count:>7,} outlines  {first:6.2f} s  again {second:6.2f} s")


if __name__ == "__main__":
    main()
