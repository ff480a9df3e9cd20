"""Measuring text the way chat platforms count it.

Slack and Discord limit message parts in characters of a JavaScript string, that
is UTF-16 code units: an emoji or any character outside the Basic Multilingual
Plane counts twice. Code units are never fewer than code points, so text cut to
fit in them fits whichever of the two a platform really counts. Both adapters cut
feed text to their limits with this one measure.
"""

from __future__ import annotations


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units (never fewer than code points).

    A lone surrogate counts as one unit, as in JavaScript, instead of raising.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
