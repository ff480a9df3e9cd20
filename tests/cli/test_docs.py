"""The docs agree with the code and with each other.

Every command (``meta-ai-digest feeds add``), configuration key (``schedule.digest_cron``)
and environment variable (``SLACK_WEBHOOK_URL``) the README and docs/ name exists; replicas
are described once (docs/reliability.md) and referenced, never contradicted.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main

from bot.cli import app
from bot.config import Settings
from bot.defaults import shipped_config
from tests.helpers import POSTGRES_SERVER, REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
REPLICAS_HOME = "reliability.md#replicas-several-processes-one-database"


def doc_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def all_docs() -> str:
    return "\n".join(doc_text(path) for path in DOCS)


def test_every_command_the_docs_name_exists() -> None:
    root = typer.main.get_command(app)
    pattern = r"(?:`|bin/)meta-ai-digest ((?:feeds )?[a-z][a-z-]*)"
    named = set(re.findall(pattern, all_docs()))
    assert len(named) > 10
    missing = []
    for name in sorted(named):
        words = name.split()
        command: Any = root
        for word in words:
            # Through click's API: the commands' modules load when a command is looked up.
            with typer.Context(command) as ctx:
                lookup = getattr(command, "get_command", None)
                command = lookup(ctx, word) if lookup else None
            if command is None:
                missing.append(name)
                break
    assert not missing, f"the docs name commands that do not exist: {missing}"


def key_exists(path: list[str]) -> bool:
    """True when the dotted key is a field of the settings models, or of the shipped file."""
    model: Any = Settings
    data: Any = shipped_config()
    for index, part in enumerate(path):
        fields = getattr(model, "model_fields", None)
        if isinstance(fields, dict) and part in fields:
            annotation = fields[part].annotation
            model = annotation if hasattr(annotation, "model_fields") else None
            data = data.get(part) if isinstance(data, dict) else None
            continue
        if isinstance(data, dict) and part in data:  # a free-form table ([adapters.slack])
            data, model = data[part], None
            continue
        # A table the models accept as a whole (a dict field): its keys are data.
        return model is None and index > 0 and data is not None and not isinstance(data, dict)
    return True


def test_every_configuration_key_the_docs_name_exists() -> None:
    tables = set(Settings.model_fields) - {"feeds", "extra_feeds", "adapters"}
    pattern = re.compile(rf"`((?:{'|'.join(sorted(tables))})(?:\.[a-z_]+)+)")
    named = set(pattern.findall(all_docs()))
    assert "schedule.digest_cron" in named and "fetch.allowed_private_hosts" in named
    # The stories table's PostgreSQL search column, not a key of the [stories] table.
    named.discard("stories.search_vector")
    missing = sorted(key for key in named if not key_exists(key.split(".")))
    assert not missing, f"the docs name configuration keys that do not exist: {missing}"


def test_every_environment_variable_the_docs_name_is_read_by_the_bot() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (REPO / "bot").rglob("*.py")
    ) + (REPO / "deploy" / "meta-ai-digest.service").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:SLACK|DISCORD|META_AI_DIGEST|DATABASE)_[A-Z0-9_]+)", all_docs()))
    assert {"SLACK_WEBHOOK_URL", "DISCORD_TOKEN", "DATABASE_URL"} <= named
    # The test suite's own variable is read by the tests, not the bot.
    named.discard("META_AI_DIGEST_TEST_POSTGRES")
    # Slack variables the docs tell admins to leave unset (Bolt would switch to OAuth).
    named -= {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"}
    missing = sorted(name for name in named if f'"{name}"' not in source and name not in source)
    assert not missing, f"the docs name variables the bot never reads: {missing}"


def test_replicas_are_described_once_and_referenced_never_contradicted() -> None:
    reliability = doc_text(REPO / "docs" / "reliability.md")
    assert "## Replicas: several processes, one database" in reliability
    for path in (REPO / "README.md", REPO / "docs" / "deploy.md"):
        assert REPLICAS_HOME in doc_text(path), f"{path.name} does not point to the replicas"
    contradictions = [
        r"run \*\*one\*\* `run`",
        r"one `run` per database",
        r"cold standby",
        r"until the scheduled jobs take a (database )?lock",
        r"not shared yet",
    ]
    for path in DOCS:
        text = " ".join(doc_text(path).split())
        for phrase in contradictions:
            assert not re.search(phrase, text, re.IGNORECASE), f"{path.name}: {phrase}"


def test_the_postgres_test_default_in_the_readme_is_the_one_the_tests_use() -> None:
    readme = " ".join(doc_text(REPO / "README.md").split())
    default = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    assert f"`META_AI_DIGEST_TEST_POSTGRES` (default `{default}`" in readme
    if "META_AI_DIGEST_TEST_POSTGRES" not in __import__("os").environ:
        assert default == POSTGRES_SERVER


def test_lxml_html_clean_is_a_direct_dependency_and_installs_use_a_current_pip() -> None:
    """pip 23.2 (Python 3.11's) warns about jusText's `lxml[html_clean]`; the bot depends
    on the package that extra names, and the documented installs upgrade pip first."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = project["dependencies"]
    assert any(dep.startswith("lxml_html_clean") for dep in dependencies)
    assert not any("[html_clean]" in dep or "[html-clean]" in dep for dep in dependencies)
    for path in (REPO / "README.md", REPO / "docs" / "deploy.md"):
        for line in doc_text(path).splitlines():
            if "python3 -m venv" in line:
                assert "--upgrade-deps" in line, f"{path.name}: {line}"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_doc_links_to_other_docs_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(((?:docs/)?[a-z-]+\.md)(?:#[a-z0-9-]+)?\)", doc_text(path)):
        assert (path.parent / target).is_file(), f"{path.name} links to missing {target}"
