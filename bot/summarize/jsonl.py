"""Batch summaries over JSON Lines, for `meta-ai-digest summarize --jsonl` and the benchmarks.

One output line per input line, in order. A bad line (not JSON, not an object, no text) becomes
an output line with an "error" key, so one broken record never loses the rest of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from bot.summarize.summarizer import Summarizer


def summarize_jsonl(
    lines: Iterable[str], summarizer: Summarizer, max_sentences: int | None = None
) -> Iterator[str]:
    """Read {"id", "title", "text"} lines; yield {"id", "summary": [sentences]} lines.

    Blank input lines are skipped (they hold no record); every other line yields exactly one
    output line.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        yield json.dumps(
            _summarize_line(line, number, summarizer, max_sentences), ensure_ascii=False
        )


def _summarize_line(
    line: str, number: int, summarizer: Summarizer, max_sentences: int | None
) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "line": number, "error": f"not valid JSON: {error.msg}"}
    if not isinstance(record, dict):
        return {"id": None, "line": number, "error": "expected a JSON object"}
    record_id = record.get("id")
    text = record.get("text")
    title = record.get("title")
    if not isinstance(text, str):
        return {"id": record_id, "line": number, "error": 'missing or non-string "text"'}
    if title is not None and not isinstance(title, str):
        return {"id": record_id, "line": number, "error": '"title" must be a string or null'}
    summary = summarizer.summarize(text, title=title, max_sentences=max_sentences)
    return {"id": record_id, "summary": summary}
