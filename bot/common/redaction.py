"""Masking secrets in text and in log records, for the core and every chat adapter.

The core masks the secrets of the environment in every log line; each adapter also
masks its own tokens in the messages it builds and in its platform library's logs.
All of them need the same two pieces, kept here: a set of secret values replaced
longest first, and a logging filter that rewrites a record (message, arguments,
traceback, stack) before any handler formats it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

REDACTED = "[redacted]"
# Shorter values could be ordinary words; none of the real secrets is this short.
MIN_SECRET_LENGTH = 8


class Redactor:
    """Known secret values, each replaced by ``[redacted]`` wherever it stands whole.

    A value is masked where it appears as itself, not where it is the middle of a longer
    word: a password ``postgres`` is masked in ``bot:postgres@db`` but leaves the
    ``postgresql`` of a file path alone (an alphanumeric character right before or after
    an alphanumeric end of the value makes the match part of another word). Secrets are
    long random strings, so the only text they sit inside of like that is text that
    merely resembles them.

    Values may be added while other threads redact (an adapter starts while a log
    handler runs): readers always see one complete, longest-first pattern.
    """

    def __init__(
        self, secrets: Iterable[str | None] = (), *, min_length: int = MIN_SECRET_LENGTH
    ) -> None:
        self.min_length = min_length
        self._lock = threading.Lock()
        self._longest_first: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Mask these values from now on; empty and too-short ones are ignored."""
        wanted = {secret for secret in secrets if secret and len(secret) >= self.min_length}
        with self._lock:
            known = wanted.union(self._longest_first)
            # Longest first, so a secret that contains another is masked whole.
            longest_first = tuple(sorted(known, key=len, reverse=True))
            pattern = "|".join(_whole(secret) for secret in longest_first)
            self._pattern = re.compile(pattern) if pattern else None
            self._longest_first = longest_first

    def redact(self, text: str) -> str:
        """``text`` with every known secret that stands whole replaced by ``[redacted]``."""
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text


def _whole(secret: str) -> str:
    """A pattern for ``secret`` not glued to a longer alphanumeric run at either end."""
    before = r"(?<![A-Za-z0-9])" if secret[0].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if secret[-1].isalnum() else ""
    return before + re.escape(secret) + after


class RedactingFilter(logging.Filter):
    """Rewrites a log record with ``redact`` before any handler sees it; never drops one.

    The message is formatted once and stored without its arguments, and a traceback
    is formatted now and stored as text, because a handler formatting them later
    would bring the secrets back.
    """

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True


# Query parameters whose value is a credential, by the words of their name ("apiKey",
# "api_key", "X-Amz-Signature", "access_token", "auth", "pass"...).
SECRET_PARAMETER_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "jwt",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "session",
        "sessionid",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
# Words of a parameter's name: "apiKey" -> api, key; "X-Amz-Signature" -> x, amz, signature.
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# A value that looks like a generated token whatever its parameter's name: 20 or more
# letters, digits, "-", "_", "." or "~" with both letters and digits in them.
_TOKEN_LIKE = re.compile(r"(?=[^&]*[0-9])(?=[^&]*[A-Za-z])[A-Za-z0-9._~%-]{20,}")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"'`]+")


def is_secret_parameter(name: str) -> bool:
    """True when a query parameter's name says its value is a credential."""
    words = [word.lower() for word in _NAME_WORDS.findall(name)]
    joined = "".join(words)
    return (
        any(word in SECRET_PARAMETER_WORDS for word in words)
        or joined in SECRET_PARAMETER_WORDS
        or joined.endswith(("key", "token", "secret", "password"))
    )


def redact_url(url: str) -> str:
    """``url`` as it may be shown to anyone: without its user name and password, and with
    every query value that is a credential replaced by ``[redacted]``.

    A value is a credential when its parameter's name says so (:func:`is_secret_parameter`:
    ``apikey``, ``api_key``, ``access_token``, ``sig``, ``password``...) or when it looks
    like a generated token (20 or more letters and digits, both present). Everything else
    is kept as written, so the address still says which feed it is.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    path, question, query = tail.partition("?")
    if not question:
        return f"{scheme}://{authority}{path}"
    query, hash_sign, fragment = query.partition("#")
    parameters = []
    for parameter in query.split("&"):
        name, equals, value = parameter.partition("=")
        if equals and value and (is_secret_parameter(name) or _TOKEN_LIKE.fullmatch(value)):
            value = REDACTED
        parameters.append(f"{name}{equals}{value}")
    return f"{scheme}://{authority}{path}?{'&'.join(parameters)}{hash_sign}{fragment}"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url` (error messages quote
    the address they failed on)."""

    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(".,;:!?)]}")  # the sentence's punctuation, not the URL's
        return redact_url(url) + found[len(url) :]

    return _URL_IN_TEXT.sub(one, text)
