"""Batch summaries over JSON Lines, for `meta-ai-digest summarize --jsonl` and the benchmarks.

One output line per input line, in order. A bad line (not JSON, not an object, no text) becomes
an output line with an "error" key, so one broken record never loses the rest of the batch.

Summaries are CPU work: with ``workers`` above one, a batch longer than one chunk is spread over
forked worker processes (each inherits the loaded summarizer, so none pays the start-up again),
and the output keeps the input's order.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from typing import Any

from bot.summarize.summarizer import Summarizer

# Records read ahead and handed out at once: enough to keep every worker busy, small enough
# that a long stream is never held in memory whole.
BATCH_LINES = 512
CHUNK_LINES = 16

_worker_job: tuple[Summarizer, int | None] | None = None


def summarize_jsonl(
    lines: Iterable[str],
    summarizer: Summarizer,
    max_sentences: int | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """Read {"id", "title", "text"} lines; yield {"id", "summary": [sentences]} lines.

    Blank input lines are skipped (they hold no record); every other line yields exactly one
    output line.
    """
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    first = list(islice(numbered, BATCH_LINES))
    if workers <= 1 or len(first) < BATCH_LINES or "fork" not in _start_methods():
        for number, line in [*first, *numbered]:
            yield _encode(_summarize_line(line, number, summarizer, max_sentences))
        return
    yield from _in_workers(first, numbered, summarizer, max_sentences, workers)


def _in_workers(
    first: list[tuple[int, str]],
    rest: Iterator[tuple[int, str]],
    summarizer: Summarizer,
    max_sentences: int | None,
    workers: int,
) -> Iterator[str]:
    global _worker_job
    summarizer.summarize("Warm-up. The sentence model loads once, before the fork.")
    _worker_job = (summarizer, max_sentences)
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            batch = first
            while batch:
                yield from pool.map(_summarize_in_worker, batch, chunksize=CHUNK_LINES)
                batch = list(islice(rest, BATCH_LINES))
    finally:
        _worker_job = None


def _summarize_in_worker(numbered: tuple[int, str]) -> str:
    assert _worker_job is not None, "set before the workers were forked"
    summarizer, max_sentences = _worker_job
    number, line = numbered
    return _encode(_summarize_line(line, number, summarizer, max_sentences))


def _start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()


def _encode(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


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
