"""Batch summaries over JSON Lines: one output line per record, errors as lines, never a crash."""

from __future__ import annotations

import json

from bot.summarize.jsonl import summarize_jsonl
from bot.summarize.summarizer import Summarizer

ARTICLE = (
    "Meta released Llama 5, a family of open-weight models, on Tuesday. "
    "The models come in three sizes and can be downloaded from Hugging Face. "
    "The largest was trained on more than 100,000 GPUs, the company said. "
    "Developers can run the smallest model on a laptop."
)


def run(lines: list[str], max_sentences: int | None = None) -> list[dict[str, object]]:
    return [json.loads(out) for out in summarize_jsonl(lines, Summarizer(), max_sentences)]


def test_each_record_gets_its_summary_in_order() -> None:
    lines = [
        json.dumps({"id": "a", "title": "Llama 5", "text": ARTICLE}),
        json.dumps({"id": 7, "title": None, "text": "Meta has a new model out today."}),
    ]
    out = run(lines, max_sentences=2)
    assert [record["id"] for record in out] == ["a", 7]
    first = out[0]["summary"]
    assert isinstance(first, list) and len(first) == 2
    assert all(sentence in ARTICLE for sentence in first)
    assert out[1] == {"id": 7, "summary": ["Meta has a new model out today."]}


def test_bad_lines_become_error_lines_and_the_batch_goes_on() -> None:
    lines = [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "no-text", "title": "x"}),
        json.dumps({"id": "bad-title", "title": 3, "text": ARTICLE}),
        "",
        json.dumps({"id": "ok", "text": ARTICLE}),
    ]
    out = run(lines)
    assert len(out) == 5  # the blank line holds no record
    assert out[0]["id"] is None and "not valid JSON" in str(out[0]["error"])
    assert out[0]["line"] == 1
    assert "JSON object" in str(out[1]["error"])
    assert out[2]["id"] == "no-text" and '"text"' in str(out[2]["error"])
    assert out[3]["id"] == "bad-title" and '"title"' in str(out[3]["error"])
    assert out[4]["id"] == "ok" and "error" not in out[4]
    assert len(out[4]["summary"]) == 3  # type: ignore[arg-type]


def test_output_keeps_non_ascii_text_readable() -> None:
    text = "Meta’s model is “open”, the company said in Zürich on Tuesday."
    (line,) = summarize_jsonl([json.dumps({"id": "u", "text": text})], Summarizer())
    assert "Zürich" in line and json.loads(line)["summary"] == [text]


def test_workers_give_the_same_lines_in_the_same_order() -> None:
    """More than one batch, spread over forked workers: identical output, input order."""
    from bot.summarize.jsonl import BATCH_LINES

    sentences = ARTICLE.split(". ")
    lines = [
        json.dumps({"id": n, "text": ". ".join(sentences[n % 4 :] + sentences[: n % 4])})
        for n in range(BATCH_LINES + 100)
    ]
    lines.insert(BATCH_LINES + 3, "{broken")
    alone = list(summarize_jsonl(lines, Summarizer(), None, workers=1))
    spread = list(summarize_jsonl(lines, Summarizer(), None, workers=2))
    assert spread == alone
    assert len(spread) == len(lines)
    assert [json.loads(line)["id"] for line in spread[:3]] == [0, 1, 2]
    assert "error" in json.loads(spread[BATCH_LINES + 3])
