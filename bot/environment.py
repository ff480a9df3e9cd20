"""The process environment, where every secret comes from, and how to keep secrets out of logs.

Secrets (chat tokens, signing secrets, webhook URLs, database passwords) are
read only from environment variables, or from a ``KEY=VALUE`` file named by
``META_AI_DIGEST_SECRETS_FILE`` (for Docker/systemd secrets). Variables set in
the environment win over the file. Every log record passes through a
:class:`~bot.common.redaction.RedactingFilter` that masks them, so even a library
that logs request headers at DEBUG level cannot print a token.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bot.common.redaction import MIN_SECRET_LENGTH, RedactingFilter, Redactor
from bot.common.text import escape_controls

SECRETS_FILE_ENV_VAR = "META_AI_DIGEST_SECRETS_FILE"
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_WEBHOOK_URL", "_PASSWORD", "_API_KEY")
# A database URL is not a secret; the password in it is.
DATABASE_URL_SUFFIX = "DATABASE_URL"


class SecretsFileError(Exception):
    """The secrets file is missing or malformed."""


def read_secrets_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments ignored; quotes stripped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SecretsFileError(
            f"secrets file {path} cannot be read: {error.strerror or error}"
        ) from error
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise SecretsFileError(f"secrets file {path}, line {number}: expected KEY=VALUE")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment, completed by the secrets file if one is named."""
    environment = dict(os.environ if base is None else base)
    secrets_path = environment.get(SECRETS_FILE_ENV_VAR)
    if secrets_path:
        for key, value in read_secrets_file(Path(secrets_path)).items():
            environment.setdefault(key, value)
    return environment


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names mark them as secret, and the secret parts of them.

    A library may log a webhook's path without its host, or a URL-quoted form of
    it: those parts are secrets too. A database URL's secret is its password
    alone: the host, user and database name appear in file paths, `status` and
    every error about the database, and masking them hid ordinary paths
    (``/srv/meta_ai_digest/...``) while protecting nothing.
    """
    found: set[str] = set()
    for name, value in env.items():
        if not value.strip():
            continue
        if name.upper().endswith(DATABASE_URL_SUFFIX):
            found.update(database_url_secrets(value.strip()))
        elif name.upper().endswith(SECRET_SUFFIXES):
            found.update(secret_parts(value.strip()))
    return sorted(secret for secret in found if len(secret) >= MIN_SECRET_LENGTH)


def database_url_secrets(value: str) -> set[str]:
    """The password of a database URL (in the user part or a ``password=`` query value),
    as written, unquoted and quoted."""
    try:
        url = urlsplit(value)
        passwords = [url.password] if url.password else []
    except ValueError:
        return {value}
    passwords += [token for key, token in parse_qsl(url.query) if "password" in key.lower()]
    return {form for secret in passwords for form in (secret, unquote(secret), quote(secret))}


def secret_parts(value: str) -> set[str]:
    """The value, its URL-quoted form and, for a URL, its password, path and path segments."""
    parts = {value, quote(value, safe=""), quote(value, safe="/:")}
    try:
        url = urlsplit(value)
    except ValueError:
        return parts
    if url.scheme and url.netloc:
        if url.password:
            parts.update({url.password, unquote(url.password)})
        if len(url.path) >= MIN_SECRET_LENGTH:
            parts.add(url.path + (f"?{url.query}" if url.query else ""))
            parts.add(url.path)
            # Webhook tokens are path segments; long ones only (not "/api" or "services").
            parts.update(segment for segment in url.path.split("/") if len(segment) >= 16)
        if url.query:
            parts.update(
                token for _key, token in parse_qsl(url.query) if len(token) >= MIN_SECRET_LENGTH
            )
    return parts


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to whatever ``sys.stderr`` is at emit time.

    A plain ``StreamHandler`` keeps the stream it was created with; when that
    stream is later replaced and closed (a test runner capturing output, a
    daemon redirecting stderr) every record after that fails with "I/O
    operation on closed file" instead of being logged.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current stderr; StreamHandler's assignment is ignored."""


class PlainFormatter(logging.Formatter):
    """Log lines with control characters spelled out: a feed server's reason phrase or a
    platform's error text quoted in a message cannot send escape sequences to a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record), keep_newlines=True)


def configure_logging(level: str, env: Mapping[str, str]) -> None:
    """Log to stderr at ``level`` with secrets redacted, whatever logs them.

    Calling it again (one process running several commands, as tests do)
    replaces the handler it installed before and leaves other handlers alone.
    """
    handler = CurrentStderrHandler()
    handler.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(Redactor(secret_values(env)).redact))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, CurrentStderrHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # warnings.warn() output goes through the same handler, and so through the redactor.
    logging.captureWarnings(True)
