"""The CLI commands not covered end to end elsewhere: summarize, feeds, status, and
what an admin sees when the database cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.fakes.feed_server import FeedServer
from tests.harness import run_bot
from tests.helpers import REPO, closed_port, write_config

ARTICLE = (
    "Meta has released Llama 4, a new family of open-weight AI models. "
    "The company said the models use a mixture-of-experts design that keeps inference cheap. "
    "Llama 4 Scout has 17 billion active parameters and a context window of 10 million tokens. "
    "Sign up for our newsletter to get the latest AI news. "
    "The models can be downloaded from Meta and from Hugging Face today. "
    "Analysts said the release puts pressure on closed model makers."
)


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    runner = CliRunner(env={"COLUMNS": "250"})  # rich tables wide enough not to wrap words
    result = runner.invoke(app, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_summarize_a_file_prints_verbatim_sentences_one_a_line(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    code, output = invoke(
        "summarize", "--sentences", "2", "--title", "Meta releases Llama 4", str(article)
    )
    lines = [line for line in output.splitlines() if line]
    assert code == 0 and len(lines) == 2
    assert all(line in ARTICLE for line in lines)
    assert not any("newsletter" in line for line in lines)


def test_summarize_reads_standard_input_and_json_lines() -> None:
    code, output = invoke("summarize", "-", stdin=ARTICLE)
    assert code == 0 and all(line in ARTICLE for line in output.splitlines() if line)

    batch = json.dumps({"id": "a1", "title": "Llama 4", "text": ARTICLE}) + "\nnot json\n"
    code, output = invoke("summarize", "--jsonl", "--sentences", "1", stdin=batch)
    first, second = (json.loads(line) for line in output.splitlines())
    assert code == 0
    assert first["id"] == "a1" and len(first["summary"]) == 1 and first["summary"][0] in ARTICLE
    assert "error" in second


def test_summarize_a_url_extracts_the_main_text(feed_server: FeedServer, tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in ARTICLE.split(". ") * 4)
    url = feed_server.serve(
        "/article", f"<html><body><article>{paragraphs}</article></body></html>", "text/html"
    )
    code, output = invoke("summarize", url)
    assert code == 0 and "Llama 4" in output
    code, output = invoke("summarize", feed_server.url("/missing"))
    assert code == 2 and "cannot fetch" in output


def test_summarize_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, output = invoke("summarize", str(tmp_path / "absent.txt"))
    assert code == 2 and "cannot read" in output


def test_feeds_list_check_enable_and_status(feed_server: FeedServer, tmp_path: Path) -> None:
    good = feed_server.serve(
        "/good.xml", "<rss version='2.0'><channel><title>t</title></channel></rss>"
    )
    config = write_config(
        tmp_path / "c.toml",
        [("Good", good), ("Gone", feed_server.url("/gone.xml"))],
        tmp_path / "bot.db",
    )
    code, output = invoke("--config", str(config), "feeds", "check")
    assert code == 1 and "http-status" in output and "Good" in output

    assert invoke("--config", str(config), "poll")[0] == 1  # a feed failed
    code, output = invoke("--config", str(config), "feeds", "list")
    assert code == 0 and "HTTP 404" in output

    code, output = invoke("--config", str(config), "status")
    assert code == 0 and "1 failing" in output and "Gone" in output

    assert invoke("--config", str(config), "feeds", "enable", "Gone")[0] == 0
    code, output = invoke("--config", str(config), "feeds", "enable", "Nope")
    assert code == 2 and "no feed named" in output


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("unknown driver", 2, "no database driver for foo://bot:***@"),
        ("unparsable", 2, "the database URL is not valid"),
        ("directory blocked by a file", 2, "cannot create"),
        ("not a database", 1, "the database cannot be used: file is not a database"),
        ("server down", 1, "the database cannot be used: connection failed"),
        ("empty sqlite path", 2, "names no file: SQLite needs a path"),
        ("in-memory sqlite", 2, "names no file: SQLite needs a path"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_clear_line(
    tmp_path: Path, case: str, code: int, message: str
) -> None:
    """The installed command, so the errors go the way an admin sees them."""
    password = "pw-0123456789-secret"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be", encoding="utf-8")
    not_a_database = tmp_path / "notes.db"
    notes = "these are someone's notes, not a database " * 4
    not_a_database.write_text(notes, encoding="utf-8")
    url = {
        "unknown driver": f"foo://bot:{password}@127.0.0.1/digest",
        "unparsable": "not a url at all",
        "directory blocked by a file": f"sqlite:///{blocker}/bot.db",
        "not a database": f"sqlite:///{not_a_database}",
        "server down": f"postgresql+psycopg://bot:{password}@127.0.0.1:{closed_port()}/digest",
        "empty sqlite path": "sqlite:///",
        "in-memory sqlite": "sqlite:///:memory:",
    }[case]
    result = run_bot(["migrate"], env={"DATABASE_URL": url}, cwd=tmp_path, timeout=60)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no traceback
    assert password not in result.stdout + result.stderr
    assert not_a_database.read_text(encoding="utf-8") == notes  # nothing overwritten


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql", "postgres"])
def test_a_postgresql_url_without_its_driver_installed_names_the_extra(
    tmp_path: Path, scheme: str
) -> None:
    """psycopg is hidden from the command by a module of that name that cannot be imported,
    as on an install without the postgres extra. postgres:// and postgresql:// mean psycopg 3."""
    shadow = tmp_path / "shadow" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    password = "pw-0123456789-secret"
    env = {
        "DATABASE_URL": f"{scheme}://bot:{password}@127.0.0.1:{closed_port()}/digest",
        "PYTHONPATH": str(shadow.parent),
    }
    result = run_bot(["migrate"], env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "pip install 'meta-ai-digest[postgres]'" in result.stderr
    assert "postgresql+psycopg://bot:***@127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert password not in result.stdout + result.stderr


CONFIG_MISTAKES = {
    "bad topic regex": (
        '[topic]\nphrases = [{ name = "Llama x", regex = "llama(?=4)", weight = 1.0 }]\n',
        "topic.phrases.0: the rule 'Llama x' has an invalid RE2 pattern",
    ),
    "terminal format": ('[adapters.terminal]\nformat = "xml"\n', "[adapters.terminal] format:"),
    "slack channel name": (
        '[adapters.slack]\nchannels = ["#general"]\n',
        "is not a Slack channel ID",
    ),
    "unknown adapter table": ("[adapters.slak]\nchannels = []\n", "[adapters.slak] names no"),
    "feed without a host": ('[[extra_feeds]]\nname = "x"\nurl = "https://"\n', "has no host"),
}


@pytest.mark.parametrize("command", [("status",), ("poll",)])
@pytest.mark.parametrize("mistake", list(CONFIG_MISTAKES))
def test_every_config_mistake_is_one_line_naming_the_key_for_every_command(
    tmp_path: Path, mistake: str, command: tuple[str, ...]
) -> None:
    toml, message = CONFIG_MISTAKES[mistake]
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    result = bot(
        *command,
        "--config",
        str(config),
        cwd=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "bot.db").exists()


def bot(*args: str, cwd: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return run_bot(args, env={"DATABASE_URL": database_url}, cwd=cwd, timeout=60)


READ_ONLY_COMMANDS = [
    ("latest",),
    ("status",),
    ("explain", "https://example.org/a"),
    ("feeds", "list"),
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
def test_a_read_only_command_never_creates_a_database(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    database = tmp_path / "data" / "bot.db"
    result = bot(*command, cwd=tmp_path, database_url=f"sqlite:///{database}")
    assert result.returncode == 1, result.stderr
    assert f"no database at {database} yet" in result.stderr
    assert "meta-ai-digest migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # not even the data directory


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
def test_a_read_only_command_says_when_the_schema_is_behind_and_leaves_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    from bot.store.database import create_database_engine, migrate, schema_revision

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_database_engine(url)
    migrate(engine, "0001")
    result = bot(*command, cwd=tmp_path, database_url=url)
    assert result.returncode == 1, result.stderr
    assert "is at schema revision 0001" in result.stderr
    assert "run `meta-ai-digest migrate`" in result.stderr
    assert schema_revision(engine) == "0001"
    engine.dispose()


def test_migrate_creates_then_upgrades_and_reads_work_after_it(tmp_path: Path) -> None:
    from bot.store.database import SCHEMA_HEAD, create_database_engine, migrate

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_database_engine(url)
    migrate(engine, "0001")
    engine.dispose()
    first = bot("migrate", cwd=tmp_path, database_url=url)
    assert first.returncode == 0, first.stderr
    assert f"schema {SCHEMA_HEAD}, migrated from 0001" in first.stdout
    again = bot("migrate", cwd=tmp_path, database_url=url)
    assert f"schema {SCHEMA_HEAD}, up to date" in again.stdout
    latest = bot("latest", cwd=tmp_path, database_url=url)
    assert latest.returncode == 0 and "No Meta AI news" in latest.stdout


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from bot.store.database import MIGRATIONS_DIR, SCHEMA_HEAD

    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == SCHEMA_HEAD


HEAVY_LIBRARIES = {
    "aiohttp",
    "alembic",
    "apscheduler",
    "discord",
    "feedparser",
    "nupunkt",
    "pydantic",
    "re2",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
    "trafilatura",
}


def test_the_cli_module_loads_no_stage_and_no_heavy_library() -> None:
    """--help must answer at once: each command imports what it runs."""
    code = "import sys, bot.cli; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    roots = {name.split(".")[0] for name in loaded}
    assert roots.isdisjoint(HEAVY_LIBRARIES), roots & HEAVY_LIBRARIES
    ours = {name for name in loaded if name.startswith("bot.")}
    stages = {name for name in ours if not name.startswith(("bot.common", "bot.cli"))}
    assert stages <= {"bot.environment"}, stages
    # Each command's module loads when the command runs, not with the package.
    assert not any(name.startswith("bot.cli.commands.") for name in loaded)


def test_no_module_of_the_cli_package_is_over_300_lines() -> None:
    """bot/cli/ stays a house a newcomer can walk: each room small (issue 24)."""
    modules = sorted((REPO / "bot" / "cli").rglob("*.py"))
    assert len(modules) > 10
    long = {
        str(path.relative_to(REPO)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert long == {}
