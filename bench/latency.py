"""/meta-ai answer latency as the history grows, on SQLite and PostgreSQL, in one run (issue 15).

    .venv/bin/python -m bench.latency [--sizes 1000,10000,100000,1000000]
                                      [--databases sqlite,postgresql] [--requests 600]

The stores: for each database one store grows, step by step, from a near-empty baseline (35
stories: one poll) to the largest size, and a copy is kept at each size. Each step adds
*older* stories, as history accumulates at 180,000 stories a year (one every 175 s), so every
size holds the same recent days (about 14,800 stories in the 30 days a search covers, 490 in
the 24 hours of `latest`) and only the past grows. Rows are synthetic Meta AI headlines,
two-sentence summaries and 1–3 sources per story, bulk-inserted (SQLite executemany,
PostgreSQL COPY) into the schema the real migrations built, with the search index written
from ``bot.store.search.document`` as the store writes it. PostgreSQL is ANALYZEd after each
step, as autovacuum would have done; SQLite never is (the bot never runs ANALYZE).

The answers: every copy is served by its own real bot, ``meta-ai-digest run`` in Slack HTTP
mode (slack-bolt's aiohttp server), its Web API and ``response_url`` pointed at the fake Slack
of tests/fakes/slack_api.py, run here. Signed ``/meta-ai`` slash commands rotate through
``latest`` (no words), ``llama`` and ``meta superintelligence``, one request at a time, the
bots taking turns request by request, so the load of a shared machine falls on every size
alike. Each is timed from sending the request until its answer (one message, with the Share
button) reaches the response URL. ``--requests`` is the number timed per bot, after 30 to
warm up.

Targets (issue 15): p99 at 100,000 stories within 2x of the near-empty baseline and under
50 ms; flat from 100,000 to 1,000,000 (p99 within 1.5x: p99 of a few hundred requests on a
shared machine moves by more than the queries do; p50 is printed too).

The 1,000,000 size takes a few minutes to build per database and about 2 GB of disk for each
(the temporary directory, and scratch databases on the PostgreSQL server named by
META_AI_DIGEST_TEST_POSTGRES, all removed at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench import SMOKE_HELP
from bot.digest.builder import QUERY_WINDOW_DAYS
from bot.store.database import create_database_engine, migrate, session_factory
from bot.store.search import document, parse_query, recent_story_ids
from tests.fakes import slack_api
from tests.fakes.slack_api import FakeSlack
from tests.harness import BOT_COMMAND, BotProcess, eventually_async
from tests.helpers import closed_port

REPO = Path(__file__).resolve().parents[1]

COMMAND = Path(BOT_COMMAND[0])
POSTGRES_SERVER = os.environ.get(
    "META_AI_DIGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BASELINE = 35  # one poll of the shipped feeds
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUERIES = ("", "llama", "meta superintelligence")
STORIES_PER_YEAR = 180_000
SPACING_SECONDS = 365 * 86_400 / STORIES_PER_YEAR
UNPOSTED = 20  # the newest stories wait for the next digest
FEEDS = 40
CHUNK = 20_000
TARGET_RATIO, TARGET_MS, FLAT_RATIO = 2.0, 50.0, 1.5

# ------------------------------------------------------------------------------ the stories
SUBJECTS = [
    ("Meta", 30),
    ("Meta AI", 10),
    ("Mark Zuckerberg", 8),
    ("Meta Superintelligence Labs", 6),
    ("FAIR", 4),
    ("Yann LeCun", 3),
    ("Alexandr Wang", 2),
    ("Reality Labs", 3),
    ("Instagram", 3),
    ("WhatsApp", 3),
    ("Ray-Ban Meta", 2),
    ("PyTorch Foundation", 2),
    ("Meta's data centre team", 1),
    ("Meta's superintelligence unit", 2),
]
PRODUCTS = [
    ("Llama 4 Scout", 6),
    ("Llama 4 Maverick", 6),
    ("Llama 4 Behemoth", 4),
    ("Llama 3.1 405B", 3),
    ("Llama 3.3", 2),
    ("Llama Guard 4", 2),
    ("Code Llama", 2),
    ("Llama Stack", 2),
    ("the Llama API", 3),
    ("Segment Anything 2", 2),
    ("V-JEPA 2", 2),
    ("Movie Gen", 2),
    ("the Meta AI app", 5),
    ("open-weight models", 4),
    ("AI glasses", 4),
    ("its superintelligence lab", 3),
    ("the Hyperion data centre", 2),
    ("the Prometheus cluster", 2),
    ("a new licence", 3),
    ("AI chatbots", 4),
    ("its AI research team", 3),
    ("open source AI", 3),
]
VERBS = [
    ("releases", "released"),
    ("unveils", "unveiled"),
    ("delays", "delayed"),
    ("open sources", "open sourced"),
    ("licenses", "licensed"),
    ("trains", "trained"),
    ("expands", "expanded"),
    ("ships", "shipped"),
    ("tests", "tested"),
    ("pauses", "paused"),
    ("prices", "priced"),
    ("benchmarks", "benchmarked"),
    ("reorganises", "reorganised"),
    ("defends", "defended"),
]
TAILS = [
    "in Europe",
    "for developers",
    "after backlash",
    "under a new licence",
    "to rival OpenAI",
    "at LlamaCon",
    "amid a talent war",
    "as costs climb",
    "for enterprises",
    "in India",
    "with safety tools",
    "ahead of earnings",
    "to researchers",
    "on WhatsApp",
]
OUTLETS = [f"Outlet {index:02d}" for index in range(FEEDS)]
SYLLABLES = ["ka", "lo", "mi", "ver", "tan", "qu", "zo", "rel", "bi", "sen", "dor", "ax", "un"]


def pseudo_words(count: int, rng: random.Random) -> list[str]:
    """Rare words for the long tail of a news vocabulary (project names, places, people)."""
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


@dataclass
class Story:
    id: int
    title: str
    summary: list[str]
    published: datetime
    created: datetime
    posted: datetime | None
    digest_id: int | None
    sources: list[tuple[int, int, str, str, datetime]]  # item id, feed id, title, url, when


@dataclass
class History:
    """Synthetic stories by age rank (0 = newest); story ids grow with time, like real ones."""

    now: datetime
    top_id: int
    seed: int = 15
    tail: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tail = pseudo_words(3000, random.Random(self.seed))
        self.subjects = [name for name, weight in SUBJECTS for _ in range(weight)]
        self.products = [name for name, weight in PRODUCTS for _ in range(weight)]

    def story(self, rank: int) -> Story:
        rng = random.Random(self.seed * 1_000_003 + rank)
        story_id = self.top_id - rank
        published = self.now - timedelta(seconds=rank * SPACING_SECONDS + rng.uniform(0, 600))
        created = min(self.now, published + timedelta(seconds=rng.uniform(60, 1800)))
        subject, product = rng.choice(self.subjects), rng.choice(self.products)
        verb, past = rng.choice(VERBS)
        tail = rng.choice(TAILS)
        rare = [self.tail[min(int(rng.paretovariate(0.6)), len(self.tail)) - 1] for _ in range(4)]
        title = f"{subject} {verb} {product} {tail}"
        summary = [
            f"{subject} {past} {product} {tail}, according to people familiar with {rare[0]}.",
            f"The {rare[1]} plan follows {rare[2]} and {rare[3]} work on {product}.",
        ]
        count = 1 + (rng.random() < 0.6) + (rng.random() < 0.3)
        sources = []
        for index in range(count):
            feed = rng.randrange(FEEDS) + 1
            variant = title if index == 0 else f"{subject} {verb} {product}: what it means"
            when = published + timedelta(minutes=37 * index)
            item_id = story_id * 3 + index
            url = f"https://outlet{feed:02d}.example/{story_id}/{index}"
            sources.append((item_id, feed, f"{variant} - {OUTLETS[feed - 1]}", url, when))
        posted = None if rank < UNPOSTED else created + timedelta(hours=1)
        digest_id = None if posted is None else 1 + story_id // 500
        return Story(story_id, title, summary, published, created, posted, digest_id, sources)


# ----------------------------------------------------------------------------- the stores
class Store:
    """One database the bench grows; subclasses write rows their fastest way."""

    name = ""

    def __init__(self, url: str, history: History) -> None:
        self.url = url
        self.history = history
        self.engine: Engine = create_database_engine(url)
        migrate(self.engine)
        self.size = 0

    def grow(self, size: int) -> float:
        """Add the stories of ranks [self.size, size); seconds taken."""
        started = time.perf_counter()
        for first in range(self.size, size, CHUNK):
            stories = [self.history.story(rank) for rank in range(first, min(size, first + CHUNK))]
            stories.reverse()  # ascending ids
            self.write(stories)
        self.size = size
        self.settle()
        return time.perf_counter() - started

    def prepare(self) -> None:
        digests = range(1, 2 + self.history.top_id // 500)
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO feeds (id, name, url, consecutive_failures, disabled_notice_sent)"
                    " VALUES (:id, :name, :url, 0, false)"
                ),
                [
                    {"id": index + 1, "name": name, "url": f"https://o{index + 1:02d}.example/feed"}
                    for index, name in enumerate(OUTLETS)
                ],
            )
            connection.execute(
                text(
                    "INSERT INTO digests (id, created_at, kind, payload)"
                    " VALUES (:id, :at, 'digest', '{}')"
                ),
                [{"id": digest, "at": self.history.now} for digest in digests],
            )

    def write(self, stories: list[Story]) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        """What the database would have done by itself by the time a team asks."""

    def snapshot(self) -> str:
        """A copy of the database as it is now, for a bot to serve; its URL."""
        raise NotImplementedError

    def close(self) -> None:
        self.engine.dispose()


def story_document(story: Story) -> str:
    return document(story.title, story.summary, [source[2] for source in story.sources])


class SQLiteStore(Store):
    name = "sqlite"

    def snapshot(self) -> str:
        path = Path(self.engine.url.database or "").with_suffix(f".{self.size}.db")
        source = self.engine.raw_connection()
        target = sqlite3.connect(path)
        try:
            source.driver_connection.backup(target)  # type: ignore[union-attr]
        finally:
            target.close()
            source.close()
        return f"sqlite:///{path}"

    def write(self, stories: list[Story]) -> None:
        def when(moment: datetime | None) -> str | None:
            return (
                None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            )

        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.executemany(
                "INSERT INTO stories (id, title, url, representative_item_id, first_published_at,"
                " last_updated_at, created_at, summary, summary_note, posted_digest_id, posted_at,"
                " sources_announced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                [
                    (
                        s.id,
                        s.title,
                        s.sources[0][3],
                        s.sources[0][0],
                        when(s.published),
                        when(s.created),
                        when(s.created),
                        json.dumps(s.summary),
                        s.digest_id,
                        when(s.posted),
                        len(s.sources) if s.posted else 0,
                    )
                    for s in stories
                ],
            )
            cursor.executemany(
                "INSERT INTO items (id, feed_id, guid, url, normalized_url, title, summary,"
                " content, published_at, fetched_at, kept, topic_score, topic_reasons, backfill,"
                " story_id, story_reason) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, 1, 5.0, '[]',"
                " 0, ?, 'bench')",
                [
                    (item, feed, url, url, url, title, s.summary[0], when(at), when(at), s.id)
                    for s in stories
                    for item, feed, title, url, at in s.sources
                ],
            )
            cursor.executemany(
                "INSERT INTO story_search (rowid, document) VALUES (?, ?)",
                [(s.id, story_document(s)) for s in stories],
            )
            connection.commit()
        finally:
            connection.close()


class PostgresStore(Store):
    name = "postgresql"

    def __init__(self, url: str, history: History, server: PostgresServer) -> None:
        super().__init__(url, history)
        self.server = server

    def snapshot(self) -> str:
        self.engine.dispose()  # a template database may have no other connection
        return self.server.create(template=make_url(self.url).database)

    def write(self, stories: list[Story]) -> None:
        connection = self.engine.raw_connection()
        try:
            driver: Any = connection.driver_connection
            with driver.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS bench_stories (LIKE stories)"
                    " ON COMMIT DELETE ROWS"
                )
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS bench_documents (id integer, doc text)"
                    " ON COMMIT DELETE ROWS"
                )
                columns = (
                    "id, title, url, representative_item_id, first_published_at, last_updated_at,"
                    " created_at, summary, posted_digest_id, posted_at, sources_announced"
                )
                with cursor.copy(f"COPY bench_stories ({columns}) FROM STDIN") as copy:
                    for s in stories:
                        copy.write_row(
                            (
                                s.id,
                                s.title,
                                s.sources[0][3],
                                s.sources[0][0],
                                s.published,
                                s.created,
                                s.created,
                                json.dumps(s.summary),
                                s.digest_id,
                                s.posted,
                                len(s.sources) if s.posted else 0,
                            )
                        )
                with cursor.copy("COPY bench_documents (id, doc) FROM STDIN") as copy:
                    for s in stories:
                        copy.write_row((s.id, story_document(s)))
                cursor.execute(
                    f"INSERT INTO stories ({columns}, search_vector)"
                    f" SELECT {', '.join('s.' + c.strip() for c in columns.split(','))},"
                    " to_tsvector('english', d.doc)"
                    " FROM bench_stories s JOIN bench_documents d ON d.id = s.id"
                )
                item_columns = (
                    "id, feed_id, guid, url, normalized_url, title, summary, content,"
                    " published_at, fetched_at, kept, topic_score, topic_reasons, backfill,"
                    " story_id, story_reason"
                )
                with cursor.copy(f"COPY items ({item_columns}) FROM STDIN") as copy:
                    for s in stories:
                        for item, feed, title, url, at in s.sources:
                            copy.write_row(
                                (
                                    item,
                                    feed,
                                    url,
                                    url,
                                    url,
                                    title,
                                    s.summary[0],
                                    "",
                                    at,
                                    at,
                                    True,
                                    5.0,
                                    "[]",
                                    False,
                                    s.id,
                                    "bench",
                                )
                            )
            driver.commit()
        finally:
            connection.close()

    def settle(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


# ----------------------------------------------------------------------------- the bot
class SlackBot:
    """``meta-ai-digest run`` in Slack HTTP mode against the fake Slack."""

    def __init__(self, database_url: str, slack: FakeSlack, scratch: Path) -> None:
        self.port = closed_port()
        config = scratch / f"bench-{self.port}.toml"
        config.write_text(
            'feeds = []\n[schedule]\ndigest_cron = "0 0 1 1 *"\n'  # no digest during the run
            # The history is years of stories: retention set to keep them all, or the
            # start-up prune would delete most of them while the answers are timed.
            "[database]\nkeep_days = 36500\n"
            "[adapters.slack]\nmin_seconds_between_messages = 0\n",
            encoding="utf-8",
        )
        env = {
            **slack.http_mode_env(),
            "META_AI_DIGEST_CONFIG": str(config),
            "DATABASE_URL": database_url,
            "SLACK_HTTP_PORT": str(self.port),
        }
        self.process = BotProcess(["run"], log=scratch / f"bench-{self.port}.log", env=env)

    async def ready(self, timeout: float = 60) -> None:
        async def listening() -> bool:
            if not self.process.running():
                raise RuntimeError(f"the bot exited: {self.process.tail()}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False  # not open yet
            writer.close()
            await writer.wait_closed()
            return True

        message = "the bot did not open its Slack endpoint"
        await eventually_async(listening, timeout, interval=0.05, message=message)

    def stop(self) -> None:
        try:
            if self.process.running():
                self.process.stop(signal.SIGTERM, timeout=15)
        except subprocess.TimeoutExpired:
            pass  # killed below
        finally:
            self.process.close()


def signed_command(query: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    body = slack_api.slash_command_body(query, response_url)
    return body.encode(), slack_api.signed_headers(body)


@dataclass
class Sample:
    query: str
    ms: float
    stories: int


def answered_stories(message: dict[str, Any]) -> int | None:
    """Stories in a complete answer (the message with the Share button, or an empty answer)."""
    blocks = message.get("blocks") or []
    titles = sum(
        1
        for block in blocks
        if block.get("type") == "section" and str(block["text"]["text"]).startswith("*<")
    )
    if any(block.get("type") == "actions" for block in blocks):
        return titles
    return 0 if titles == 0 else None


@dataclass
class Target:
    """One database of one size, served by its own bot."""

    database: str
    size: int
    url: str
    build_seconds: float
    samples: list[Sample] = field(default_factory=list)
    bot: SlackBot | None = None


def window_matches(url: str, now: datetime) -> dict[str, int]:
    """Stories of the search window, and how many each query matches there (by the bot's
    own search, without a limit)."""
    engine = create_database_engine(url, create=False)
    try:
        with session_factory(engine)() as session:
            since = now - timedelta(days=QUERY_WINDOW_DAYS)
            counts = {"": len(recent_story_ids(session, since, 10**9))}
            for query in QUERIES[1:]:
                found = recent_story_ids(session, since, 10**9, parse_query(query))
                counts[query] = len(found)
            return counts
    finally:
        engine.dispose()


async def ask(
    client: aiohttp.ClientSession, slack: FakeSlack, port: int, query: str, name: str
) -> Sample:
    """One /meta-ai request; the time until its answer reached the response URL."""
    loop = asyncio.get_running_loop()
    seen = len(slack.calls)
    body, headers = signed_command(query, slack.response_url(name))
    started = loop.time()
    async with client.post(
        f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"/meta-ai {query!r}: HTTP {response.status}")

    def arrived() -> bool:
        return any(call.body.get("name") == name for call in slack.calls[seen:])

    await slack.wait_for(arrived, timeout=30)
    call = next(c for c in slack.calls[seen:] if c.body.get("name") == name)
    stories = answered_stories(call.body)
    if stories is None:
        raise RuntimeError(f"/meta-ai {query!r}: the answer took more than one message")
    return Sample(query, (call.at - started) * 1000, stories)


async def measure(targets: list[Target], requests: int, warmup: int, scratch: Path) -> None:
    """Every bot answers in turn, request by request: a change of load on the shared machine
    falls on every size alike instead of on whichever size was being measured."""
    async with FakeSlack() as slack, aiohttp.ClientSession() as client:
        try:
            for target in targets:
                target.bot = SlackBot(target.url, slack, scratch)
            for target in targets:
                assert target.bot is not None
                await target.bot.ready()
            for index in range(warmup + requests):
                query = QUERIES[index % len(QUERIES)]
                for target in targets:
                    assert target.bot is not None
                    name = f"{target.database}-{target.size}-{index}"
                    sample = await ask(client, slack, target.bot.port, query, name)
                    if index >= warmup:
                        target.samples.append(sample)
                slack.calls.clear()
        finally:
            for target in targets:
                if target.bot is not None:
                    target.bot.stop()


# -------------------------------------------------------------------------------- report
def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def p(target: Target, fraction: float, query: str | None = None) -> float:
    return percentile([s.ms for s in target.samples if query is None or s.query == query], fraction)


def mean_stories(target: Target, query: str) -> float:
    return statistics.mean(s.stories for s in target.samples if s.query == query)


def report(database: str, rows: list[Target], counts: dict[str, int]) -> list[tuple[str, bool]]:
    print(f"\n{database}: /meta-ai answer through the Slack HTTP endpoint, ms")
    labels = "".join(f"  {(q or 'latest'):>22} p50/p99 (stories)" for q in QUERIES)
    print(f"  {'stories':>9}  build s    p50    p99{labels}")
    for row in rows:
        per_query = "".join(
            f"  {p(row, 0.5, q):>22.1f}/{p(row, 0.99, q):<6.1f} ({mean_stories(row, q):.1f})   "
            for q in QUERIES
        )
        print(
            f"  {row.size:>9,} {row.build_seconds:8.1f} {p(row, 0.5):6.1f} {p(row, 0.99):6.1f}"
            f"{per_query}"
        )
    largest = rows[-1]
    shares = ", ".join(
        f"“{query}” {counts[query]:,} ({counts[query] / max(1, counts['']):.0%})"
        for query in QUERIES[1:]
    )
    print(
        f"  at {largest.size:,} stories the last {QUERY_WINDOW_DAYS} days hold {counts['']:,}; "
        f"matches there: {shares}"
    )
    by_size = {row.size: row for row in rows}
    base = p(by_size[BASELINE], 0.99)
    results = []
    if 100_000 in by_size:
        mid = by_size[100_000]
        p99 = p(mid, 0.99)
        results.append(
            (
                f"{database}: p99 at 100,000 {p99:.1f} ms <= {TARGET_RATIO}x the near-empty "
                f"{base:.1f} ms ({p99 / base:.2f}x)",
                p99 <= TARGET_RATIO * base,
            )
        )
        results.append(
            (f"{database}: p99 at 100,000 {p99:.1f} ms < {TARGET_MS:.0f} ms", p99 < TARGET_MS)
        )
        if 1_000_000 in by_size:
            big = by_size[1_000_000]
            ratio = p(big, 0.99) / p99
            results.append(
                (
                    f"{database}: flat, p99 at 1,000,000 {p(big, 0.99):.1f} ms <= {FLAT_RATIO}x "
                    f"100,000 ({ratio:.2f}x; p50 {p(big, 0.5) / p(mid, 0.5):.2f}x)",
                    ratio <= FLAT_RATIO,
                )
            )
    return results


class PostgresServer:
    """Scratch databases on the server, all dropped at the end."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.admin = create_engine(server, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"mad_bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            clause = f' TEMPLATE "{template}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.names.append(name)
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated story counts"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=600, help="timed requests per size")
    parser.add_argument(
        "--smoke", action="store_true", help=SMOKE_HELP + f"; SQLite, {BASELINE} stories"
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.databases, args.requests = "", "sqlite", 5
    sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()} - {BASELINE})
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if not COMMAND.exists():
        sys.exit(f"no console script at {COMMAND}: install the package into this interpreter")
    history = History(now=datetime.now(UTC), top_id=max([BASELINE, *sizes]) + 1)
    server = PostgresServer(POSTGRES_SERVER) if "postgresql" in databases else None
    targets: list[Target] = []
    windows: dict[str, dict[str, int]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="mad-latency-") as scratch_dir:
            scratch = Path(scratch_dir)
            for database in databases:
                if database == "sqlite":
                    store: Store = SQLiteStore(f"sqlite:///{scratch / 'bench.db'}", history)
                else:
                    assert server is not None
                    store = PostgresStore(server.create(), history, server)
                try:
                    store.prepare()
                    for size in (BASELINE, *sizes):
                        build = store.grow(size)
                        targets.append(Target(database, size, store.snapshot(), build))
                        print(f"  {database}: {size:,} stories built in {build:.1f} s", flush=True)
                    windows[database] = window_matches(targets[-1].url, history.now)
                finally:
                    store.close()
            load = os.getloadavg()
            asyncio.run(measure(targets, args.requests, 2 if args.smoke else 30, scratch))
    finally:
        if server is not None:
            server.drop_all()
    print(
        f"\n{len(targets)} bots answered in turn, {args.requests} timed requests each; load "
        f"average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores)"
    )
    results: list[tuple[str, bool]] = []
    for database in databases:
        rows = [t for t in targets if t.database == database]
        results += report(database, rows, windows[database])
    print("\ntargets:")
    for line, ok in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {line}")


if __name__ == "__main__":
    main()
