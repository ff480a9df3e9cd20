"""Hard exclusions: the sentence classes a summary never chooses, and sentences that lean back.

A summary states the news. Narration ("I remember the moment…"), questions, figures of speech
used as openers, calls to action, bylines, "submitted by" lines and teasers cut off by a feed
say nothing about it, so they are removed before scoring rather than penalised: a penalty is
outweighed by a strong position or overlap score, which is how they reached summaries before.
A sentence that leans on the one before it ("But the company…", "part of that spending") is
kept as a candidate, marked, and only admitted right after its antecedent (see Summarizer).

All rules are data (ExclusionRules); this module only compiles and applies them.
"""

from __future__ import annotations

import re
from typing import Any

from bot.summarize.settings import ExclusionRules, compile_patterns

# Opening and closing double quotes; a straight quote opens when it is not after a word.
_OPENERS = "“«„"
_CLOSERS = "”»"
_WORD = re.compile(r"[A-Za-z]+")
# Openers that are determiners: "This week, Meta…" points at a time, not back; a connective
# ("But the…") or a pronoun leans back whatever follows it.
_DETERMINERS = frozenset({"this", "that", "these", "those", "such"})


def outside_quotes(text: str) -> str:
    """`text` with quoted speech blanked to spaces (same length), so narration rules skip it.

    A sentence inside a quotation that spans sentences has only its closing mark (`…,” she
    said.`): when the first mark is a closing one, the text before it counts as quoted too.
    """
    chars = list(text)
    inside = _starts_inside_quote(text)
    for index, char in enumerate(text):
        if char in _OPENERS or (char == '"' and not inside):
            inside = True
        elif char in _CLOSERS or char == '"':
            chars[index] = " "
            inside = False
            continue
        if inside:
            chars[index] = " "
    return "".join(chars)


def _starts_inside_quote(text: str) -> bool:
    """True when the first quotation mark closes a quotation opened in an earlier sentence."""
    for index, char in enumerate(text):
        if char in _OPENERS:
            return False
        if char in _CLOSERS:
            return True
        if char == '"':
            before = text[index - 1] if index else " "
            return not before.isspace() and before not in "([{—–-"
    return False


class SentenceRules:
    """The compiled ExclusionRules: which class a sentence falls in, and whether it leans back.

    Build once per Summarizer: compiling the patterns is the only costly part.
    """

    def __init__(self, rules: ExclusionRules) -> None:
        classes = {
            "question": rules.question,
            "figure of speech": rules.figure_of_speech,
            "call to action": rules.call_to_action,
            "byline or credit": rules.byline,
            "submitted by": rules.submitted_by,
            "cut off by a feed": rules.cut_off,
        }
        self._classes: list[tuple[str, Any]] = [
            (name, pattern)
            for name, patterns in classes.items()
            if (pattern := compile_patterns(patterns, case_sensitive=False)) is not None
        ]
        # One alternation of every class: most sentences are clean, and one RE2 search over
        # them costs a fraction of six; the class is looked up only for a sentence that hits.
        self._any = compile_patterns(
            [pattern for patterns in classes.values() for pattern in patterns],
            case_sensitive=False,
        )
        self._narration = compile_patterns(rules.narration, case_sensitive=False)
        self._openers = frozenset(word.lower() for word in rules.dangling_openers)
        self._pointers = frozenset(word.lower() for word in rules.back_reference_words)
        self._after = frozenset(word.lower() for word in rules.back_reference_after)
        self._exempt = frozenset(word.lower() for word in rules.back_reference_exempt)
        self._back = compile_patterns(rules.back_reference_patterns, case_sensitive=False)
        self._lede_pronouns = frozenset(word.lower() for word in rules.lede_pronouns)

    def excluded(self, sentence: str) -> str | None:
        """The name of the class that bars `sentence` from a summary, or None."""
        if self._is_narration(sentence):
            return "first-person narration"
        if self._any is None or self._any.search(sentence) is None:
            return None
        for name, pattern in self._classes:
            if pattern.search(sentence):
                return name
        return None

    def _is_narration(self, sentence: str) -> bool:
        """A first-person or reader-addressing word outside quoted speech.

        The raw sentence is searched first: quotes are only blanked (a Python loop) for the few
        sentences that hold such a word at all.
        """
        pattern = self._narration
        if pattern is None or pattern.search(sentence) is None:
            return False
        return pattern.search(outside_quotes(sentence)) is not None

    def leans_back(self, sentence: str, *, lede: bool = False) -> bool:
        """True when `sentence` needs the sentence before it to be understood.

        It opens on a dangling word ("But", "He", "This"), or points back with a determiner
        ("this approach", "these models", "of that spending", "The move…"). An article's
        first sentence (`lede`) that opens on a pronoun and names someone later points
        forward instead: "He may be hurt, but golf legend Arnold Palmer has vowed…".
        """
        words = _WORD.findall(sentence.lower())
        if not words:
            return False
        if words[0] in self._openers and not (
            (words[0] in _DETERMINERS and self._exempt_after(words, 0))
            or (lede and words[0] in self._lede_pronouns and _names_someone(sentence))
        ):
            return True
        if self._back is not None and self._back.search(sentence):
            return True
        return any(
            self._points_back(words, index)
            for index, word in enumerate(words[:-1])
            if word in self._pointers or word == "that"
        )

    def _exempt_after(self, words: list[str], index: int) -> bool:
        """The word after `index` (alone or as a pair) makes it no back reference: "this week"."""
        if index + 1 >= len(words):
            return False
        following = words[index + 1]
        return following in self._exempt or f"{words[index]} {following}" in self._exempt

    def _points_back(self, words: list[str], index: int) -> bool:
        """A determiner at `index` followed by a noun-like word: "this approach", "of that deal"."""
        word = words[index]
        if self._exempt_after(words, index):
            return False
        if word in self._pointers:
            return True
        return word == "that" and index > 0 and words[index - 1] in self._after


_NAME = re.compile(r"\s[A-Z][a-z]+")


def _names_someone(sentence: str) -> bool:
    """A capitalised word after the first: the name a forward-pointing pronoun refers to."""
    return _NAME.search(sentence) is not None
