"""How a text too long for its place is made to fit: the two rules every stage shares.

A label (a title, a name, an error) is cut between words and ends in "…": it still reads.
A key (an entry's guid, a normalised link) must stay distinct from every other key, so its
end is replaced by a digest of the whole: two long keys that share a beginning never
become one, and the same long key always becomes the same stored key. Which column gets
which rule, and its limit, is declared in ``bot/store/schema.py`` (``bot/store/bounds.py``
enforces it); the feeds stage uses :func:`fit_key` to compare keys the way they are stored.
"""

from __future__ import annotations

import hashlib

ELLIPSIS = "…"
# A cut label ends at a word boundary when one is this near the limit.
WORD_BOUNDARY_SHARE = 0.8
# "#" and 32 hex digits (128 bits of SHA-256) end a key that was too long.
KEY_DIGEST_CHARS = 33


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a word boundary when one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= limit * WORD_BOUNDARY_SHARE:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def fit_key(key: str, limit: int) -> str:
    """``key`` when it fits in ``limit`` characters, else its start and a digest of the whole
    (distinct keys stay distinct; the same key always fits the same way)."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{key[: limit - KEY_DIGEST_CHARS]}#{digest}"
