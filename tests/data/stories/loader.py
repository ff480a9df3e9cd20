"""Load the story-clustering labelled set: articles as the story index sees them, each with
the story a person put it in, in publication order (as the pipeline feeds them).

Used by ``tests/stories/test_stories.py`` and ``bench/cluster.py``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bot.stories.index import ArticleRef

LABELLED = Path(__file__).resolve().parent / "labelled.jsonl"


def load_labelled(path: Path = LABELLED) -> list[tuple[ArticleRef, str]]:
    """Every labelled article with its story label, oldest first (ties by key)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        article = ArticleRef(
            key=int(raw["key"]),
            title=raw["title"],
            text=raw["text"],
            url=raw["url"],
            published=datetime.fromisoformat(raw["published"]),
            source=raw["source"],
            comments_url=raw.get("comments_url"),
        )
        rows.append((article, raw["story"]))
    return sorted(rows, key=lambda row: (row[0].published, row[0].key))
