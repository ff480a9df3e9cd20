"""Extractive summaries by rules: verbatim sentences, chosen by readable, tunable rules.

Knows nothing of feeds, chat or storage: text (and an optional title) in, sentences out.
The names below load on first use (see bot.lazy): the configuration imports only
``bot.summarize.settings``, which must not bring trafilatura and nupunkt along.
"""

from typing import TYPE_CHECKING

from bot.lazy import lazy_exports

if TYPE_CHECKING:
    from bot.summarize.fulltext import extract_main_text
    from bot.summarize.jsonl import summarize_jsonl
    from bot.summarize.settings import BoilerplateRules, ScoreWeights, SummarizeSettings
    from bot.summarize.splitter import SentenceSplitter, sentence_spans, split_sentences
    from bot.summarize.summarizer import ArticleText, Summarizer

__all__ = [
    "ArticleText",
    "BoilerplateRules",
    "ScoreWeights",
    "SentenceSplitter",
    "SummarizeSettings",
    "Summarizer",
    "extract_main_text",
    "sentence_spans",
    "split_sentences",
    "summarize_jsonl",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "extract_main_text": "bot.summarize.fulltext",
        "summarize_jsonl": "bot.summarize.jsonl",
        "BoilerplateRules": "bot.summarize.settings",
        "ScoreWeights": "bot.summarize.settings",
        "SummarizeSettings": "bot.summarize.settings",
        "SentenceSplitter": "bot.summarize.splitter",
        "sentence_spans": "bot.summarize.splitter",
        "split_sentences": "bot.summarize.splitter",
        "ArticleText": "bot.summarize.summarizer",
        "Summarizer": "bot.summarize.summarizer",
    },
)
