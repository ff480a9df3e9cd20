"""Sentence splitting for news text, on top of nupunkt.

nupunkt (a maintained Punkt implementation with a model trained on a large English corpus)
was chosen after measuring it against pysbd, syntok and a regex baseline on our hard cases
and on 1,000 CNN articles (bench/summarize.py prints the comparison): it gets abbreviations,
decimals and money, quotes and ellipses right and is fast enough (under a millisecond an
article) for the whole summarizer to stay an order of magnitude faster than sumy.

Punkt knows neither typographic quotes nor line structure, so both are handled here first.
Curly quotes are straightened (one character for one, so offsets hold) before Punkt sees the
text. A headline or list item without a full stop ends at its line break unless the next line
continues it in lower case (a hard-wrapped sentence).
"""

from __future__ import annotations

import copy
import re
import tomllib
from functools import lru_cache
from importlib import resources

import nupunkt
from nupunkt.tokenizers.sentence_tokenizer import PunktSentenceTokenizer

_LINE_BREAK = re.compile(r"[ \t]*\n\s*")
# Punkt's model knows straight quotes only; typographic ones are mapped one character to one
# character before splitting, so the spans found still index the original text.
_STRAIGHTEN_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
# A sentence that ends on a space and a quote: Punkt left the next sentence's opening quote
# behind ('...the truth. "' then 'We're ecstatic," he said.').
_STRANDED_OPENING_QUOTE = re.compile(r"[.!?…][\"')\]]*\s+[\"']$")


def news_abbreviations() -> frozenset[str]:
    """The abbreviations of the package's abbreviations.toml (data, not code)."""
    raw = resources.files("bot.summarize").joinpath("abbreviations.toml").read_text("utf-8")
    return frozenset(tomllib.loads(raw)["words"])


def _news_tokenizer() -> PunktSentenceTokenizer:
    """nupunkt's default model with its abbreviation list cut down to real abbreviations.

    The model's parameters are copied, not edited in place, because nupunkt.load() shares one
    cached instance with every other caller. Building takes ~0.3 s.
    """
    params = copy.deepcopy(nupunkt.load("default").parameters)
    learned = params.abbrev_types
    kept = {abbrev for abbrev in learned if "." in abbrev or len(abbrev) == 1}
    params.abbrev_types = kept | news_abbreviations()
    return PunktSentenceTokenizer(params, include_common_abbrevs=False)


class SentenceSplitter:
    """A sentence splitter with its own nupunkt model instance.

    nupunkt memoizes boundary decisions per instance, so a separate instance gives a separate,
    independent memo (the benchmark uses one per method for fair timing). Most callers use the
    module-level split_sentences / sentence_spans, which share one lazily built instance.
    """

    def __init__(self) -> None:
        self._tokenizer = _news_tokenizer()

    def spans(self, text: str, max_chars: int | None = None) -> list[tuple[int, int]]:
        """Character spans of the sentences of `text`, whitespace-trimmed, in order.

        With `max_chars`, only the sentences that end within the first `max_chars` characters
        are found (the one straddling the cut is dropped): the summarizer only needs the top of
        a long article, and splitting is its largest cost.
        """
        if max_chars is not None and len(text) > max_chars:
            cut = max(text.rfind(" ", 0, max_chars), text.rfind("\n", 0, max_chars))
            if cut > 0:
                spans = self._spans(text[:cut])
                if len(spans) > 1:
                    spans.pop()  # it may end at the cut rather than at its full stop
                    return spans
        return self._spans(text)

    def split(self, text: str, max_chars: int | None = None) -> list[str]:
        """The sentences of `text`, each a verbatim, whitespace-trimmed substring of it."""
        return [text[start:end] for start, end in self.spans(text, max_chars)]

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for block_start, block_end in _blocks(text):
            block = text[block_start:block_end].translate(_STRAIGHTEN_QUOTES)
            if not block.strip():
                continue
            found: list[tuple[int, int]] = []
            for start, end in self._tokenizer.span_tokenize(block):
                piece = block[start:end]
                stripped = piece.strip()
                if stripped:
                    begin = start + len(piece) - len(piece.lstrip())
                    found.append((begin, begin + len(stripped)))
            spans += [(block_start + a, block_start + b) for a, b in _hand_on_quotes(block, found)]
        return spans


def _hand_on_quotes(block: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Give a quote stranded at a sentence's end to the sentence it opens.

    Punkt sometimes ends a sentence after the space that follows its full stop, taking the
    next sentence's opening quote along: '...the truth. "' then 'We're ecstatic," he said.'
    Both would read wrong in a summary (and the first is no sentence at all).
    """
    handed: list[tuple[int, int]] = []
    carried: int | None = None  # where the quote handed on starts
    for index, (start, end) in enumerate(spans):
        if carried is not None:
            start, carried = carried, None
        if index + 1 < len(spans) and _STRANDED_OPENING_QUOTE.search(block, start, end):
            carried = end - 1
            end = len(block[: end - 1].rstrip())
        handed.append((start, end))
    return handed


@lru_cache(maxsize=1)
def default_splitter() -> SentenceSplitter:
    """The shared splitter, built on first use."""
    return SentenceSplitter()


def _blocks(text: str) -> list[tuple[int, int]]:
    """Cut text at line breaks that end a line, leaving soft-wrapped lines joined.

    A break is kept inside a block only when the next line starts in lower case, which is what
    a hard-wrapped sentence looks like; a headline, list item or paragraph ends at its break.
    """
    if "\n" not in text:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        following = text[match.end() : match.end() + 1]
        if following.islower():
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def sentence_spans(text: str, max_chars: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, whitespace-trimmed, in order."""
    return default_splitter().spans(text, max_chars)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each a verbatim, whitespace-trimmed substring of it."""
    return default_splitter().split(text)
