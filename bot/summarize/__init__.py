"""Extractive summaries by rules: verbatim sentences, chosen by readable, tunable rules.

Knows nothing of feeds, chat or storage: text (and an optional title) in, sentences out.
"""

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
