"""The shared helpers of bot.common, each on its own: real inputs, real outcomes."""

from __future__ import annotations

import ast
import logging
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from bot.common.hosts import AGGREGATOR_HOSTS, host_of, is_aggregator_url
from bot.common.redaction import RedactingFilter, Redactor
from bot.common.retry import capped_backoff, parse_retry_after
from bot.common.text import plural, utf16_length
from bot.common.validation import describe_validation_error, validation_problems
from tests.helpers import REPO

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


# --- the package's place: a leaf ---------------------------------------------------------------


def runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (what sits under ``if TYPE_CHECKING:`` is left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_bot_common_imports_only_the_standard_library() -> None:
    for path in sorted((REPO / "bot" / "common").glob("*.py")):
        outside = {
            name
            for name in runtime_imports(path)
            if name.split(".")[0] not in sys.stdlib_module_names
            and not name.startswith("bot.common.")  # its own modules build on each other
        }
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_adapters_import_from_the_bot_only_base_and_the_digest_model() -> None:
    for platform in ("discord", "slack", "terminal"):
        package = REPO / "bot" / "adapters" / platform
        for path in sorted(package.glob("*.py")):
            from_bot = {
                name
                for name in runtime_imports(path)
                if name.startswith("bot.")
                and not name.startswith(f"bot.adapters.{platform}")
                and name not in {"bot.adapters.base", "bot.digest.model"}
            }
            assert not from_bot, f"{platform}/{path.name} imports {sorted(from_bot)}"


# --- Retry-After and backoff ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 1.5 ", 1.5), ("0", 0.0), (None, None), ("", None)],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("value", ["-5", "nan", "soon", "Someday, 99 Foo 2026"])
def test_an_invalid_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    in_ninety_seconds = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(in_ninety_seconds, usegmt=True), now=NOW) == 90.0


def test_retry_after_in_the_past_means_now() -> None:
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(long_ago, usegmt=True), now=NOW) == 0.0


def test_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    assert [capped_backoff(attempt, 5, 100) for attempt in range(0, 7)] == [
        5,
        5,
        10,
        20,
        40,
        80,
        100,
    ]
    assert capped_backoff(10**6, 5, 100) == 100  # no overflow, however many attempts


# --- redaction -------------------------------------------------------------------------------

TOKEN = "tok-1234567890abcdef"


def test_redactor_masks_the_longest_secret_whole_and_skips_short_ones() -> None:
    redactor = Redactor([TOKEN, "short", None, ""])
    redactor.add(TOKEN + "-with-suffix")
    assert redactor.redact(f"a={TOKEN}-with-suffix b={TOKEN} c=short") == (
        "a=[redacted] b=[redacted] c=short"
    )


def test_redactor_minimum_length_is_configurable() -> None:
    assert Redactor(["abcd"], min_length=4).redact("x abcd y") == "x [redacted] y"


def log_record(message: str, *args: object, with_traceback: bool = False) -> logging.LogRecord:
    exc_info = None
    if with_traceback:
        try:
            raise RuntimeError(f"request to /hooks/{TOKEN} failed")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("x", logging.ERROR, __file__, 1, message, args, exc_info)


def test_filter_masks_arguments_and_traceback_before_any_handler_formats_them() -> None:
    record = log_record("posting with %s", TOKEN, with_traceback=True)
    record.stack_info = f"Stack (most recent call last):\n  token {TOKEN}"
    assert RedactingFilter(Redactor([TOKEN]).redact).filter(record) is True
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted
    assert "posting with [redacted]" in formatted
    assert "RuntimeError: request to /hooks/[redacted] failed" in formatted
    assert "token [redacted]" in formatted


def test_filter_keeps_a_record_without_secrets_as_it_reads() -> None:
    record = log_record("%d feeds polled", 3)
    RedactingFilter(Redactor([TOKEN]).redact).filter(record)
    assert record.getMessage() == "3 feeds polled"


# --- validation errors -----------------------------------------------------------------------


class Feed(BaseModel):
    url: str
    every_minutes: int


class Config(BaseModel):
    feeds: list[Feed]

    @model_validator(mode="after")
    def _some_feed(self) -> Config:
        if not self.feeds:
            raise ValueError("at least one feed is needed")
        return self


def validation_error(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return caught.value


def test_each_problem_is_named_by_its_dotted_key() -> None:
    error = validation_error({"feeds": [{"url": "u", "every_minutes": 5}, {"every_minutes": "x"}]})
    assert validation_problems(error) == [
        "feeds.1.url: Field required",
        "feeds.1.every_minutes: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]


def test_a_problem_with_the_whole_input_gets_the_given_name() -> None:
    error = validation_error({"feeds": []})
    assert validation_problems(error) == ["(top level): at least one feed is needed"]
    assert validation_problems(error, whole="(table)") == ["(table): at least one feed is needed"]


def test_a_config_error_names_its_file_then_one_problem_a_line() -> None:
    error = validation_error({"feeds": [{"url": "u"}]})
    assert describe_validation_error(error, "my.toml") == (
        "my.toml: feeds.0.every_minutes: Field required"
    )
    several = validation_error({"feeds": [{"url": "u"}, {"every_minutes": 1}]})
    assert describe_validation_error(several, "my.toml") == (
        "invalid configuration in my.toml:\n  feeds.0.every_minutes: Field required\n"
        "  feeds.1.url: Field required"
    )


# --- text measures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("Llama", 5), ("café", 4), ("🦙", 2), ("Llama 🦙 4", 10), ("\ud800", 1)],
)
def test_utf16_length_counts_astral_characters_twice(text: str, units: int) -> None:
    assert utf16_length(text) == units


# --- hosts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://News.Google.com:443/rss/articles/x", "news.google.com"),
        ("https://user@example.org/path", "example.org"),
        ("not a url", ""),
        ("http://[::1", ""),  # unbalanced bracket: urlsplit raises
        (None, ""),
    ],
)
def test_host_of(url: str | None, host: str) -> None:
    assert host_of(url) == host


def test_aggregator_links_are_recognised_by_host_without_case() -> None:
    assert AGGREGATOR_HOSTS == ("news.google.com", "news.ycombinator.com")
    assert is_aggregator_url("https://news.ycombinator.com/item?id=1")
    assert is_aggregator_url("https://NEWS.google.com/rss/articles/x")
    assert not is_aggregator_url("https://www.theverge.com/ai/1")
    assert not is_aggregator_url(None)
    assert is_aggregator_url("https://lobste.rs/s/abc", ["Lobste.rs"])
    assert not is_aggregator_url("https://news.google.com/x", [])


def test_plural_counts_read_right() -> None:
    assert plural(1, "minute") == "1 minute"
    assert plural(30, "minute") == "30 minutes"
    assert plural(1.5, "minute") == "1.5 minutes"
    assert plural(1, "new story") == "1 new story"
    assert plural(0, "new story") == "0 new stories"
    assert plural(2, "day") == "2 days"
    assert plural(1, "feed") == "1 feed"
