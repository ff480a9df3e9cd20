"""Why a feed gave no entries this cycle: the fetch failed, or what came back was no feed.

A leaf module (no aiohttp, no feedparser), so the parser, the poller and the
schedule can name these errors without loading the HTTP client.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    """Why a feed (or an article page) could not be had, in words an admin can act on.

    The value is the status `poll`, `feeds list` and `feeds check` show.
    """

    # The fetch failed: nothing usable arrived.
    TIMEOUT = "timeout"
    DNS = "dns"
    TLS = "tls"
    CONNECTION = "connection"
    HTTP_STATUS = "http-status"
    TOO_LARGE = "too-large"
    REDIRECTS = "redirects"
    BLOCKED = "blocked"
    INVALID_URL = "invalid-url"
    IO = "io"
    # An article link answered with something other than a web page (a PDF, an image).
    NOT_HTML = "not-html"
    # The fetch worked but the document holds no usable feed (see ParseError).
    NOT_A_FEED = "not-a-feed"
    MALFORMED = "malformed"
    # The document parsed, but the database refused what it holds (the store says why).
    UNSTORABLE = "unstorable"


PARSE_FAILURES = frozenset({FailureKind.NOT_A_FEED, FailureKind.MALFORMED})

# Error texts from servers can be huge (a status line made of body garbage); keep them readable.
MAX_ERROR_CHARS = 300


class FetchError(Exception):
    """A feed or page that could not be had, with its kind and, for HTTP errors, the status.

    Parse failures are raised as :class:`ParseError`, never as a plain FetchError.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        if (kind in PARSE_FAILURES) != isinstance(self, ParseError):
            expected = "ParseError" if kind in PARSE_FAILURES else "FetchError"
            raise ValueError(f"{kind} failures are raised as {expected}")
        if len(message) > MAX_ERROR_CHARS:
            message = message[: MAX_ERROR_CHARS - 1] + "…"
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.kind}: {self.args[0]}"

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by fields: a parse fails in a worker process and is reported by the parent."""
        return (_restore, (type(self), self.kind, self.args[0], self.status, self.retry_after))


class ParseError(FetchError):
    """The document arrived but holds no usable feed: empty, an HTML page, broken XML or JSON.

    A FetchError too, because to the poll cycle both mean the same thing (no entries from
    this feed this time, the same backoff). The type tells the code which step failed; the
    kind, ``not-a-feed`` or ``malformed``, tells the admin.
    """

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(kind, message)


def _restore(
    cls: type[FetchError],
    kind: FailureKind,
    message: str,
    status: int | None,
    retry_after: float | None,
) -> FetchError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.kind, error.status, error.retry_after = kind, status, retry_after
    return error
