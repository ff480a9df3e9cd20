"""Waiting before trying again: a server's Retry-After, and our own capped backoff.

Feeds, the outbox and both chat platforms answer "try later" the same way, so the
header is parsed here once (RFC 9110 §10.2.3) and the backoff formula is written
once: a feed that keeps failing and a message that keeps bouncing back off alike.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

# 2**30 doublings already exceed any cap; a larger exponent would only overflow.
MAX_DOUBLINGS = 30


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or HTTP date), or None.

    None when the value is absent or not a valid delay (negative, NaN, garbage), so
    the caller falls back to its own backoff; a date in the past means 0.
    ``now`` (Unix seconds) is for tests; it defaults to the current time.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # NaN is not a delay
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, moment.timestamp() - current)


def capped_backoff(attempt: int, base: float, cap: float) -> float:
    """``base`` × 2^(attempt − 1), at most ``cap``, in whatever unit ``base`` and ``cap`` share.

    Attempt 1 (and anything below) waits ``base``; each later attempt doubles it.
    """
    return min(cap, base * 2.0 ** max(0, min(attempt - 1, MAX_DOUBLINGS)))
