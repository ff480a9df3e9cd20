"""The deployment guide's unit file: systemd accepts it, and the places it names are the ones
the bot uses (config, secrets file, data directory, exit statuses)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import BOT_COMMAND, run_bot
from tests.helpers import REPO

UNIT = REPO / "deploy" / "meta-ai-digest.service"
GUIDE = REPO / "docs" / "deploy.md"
INSTALLED_COMMAND = "/opt/meta-ai-digest/.venv/bin/meta-ai-digest"


def unit_service() -> tuple[dict[str, list[str]], dict[str, str]]:
    """The [Service] section (every value of every key) and its Environment= assignments."""
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").split("[Service]")[1].split("[")[0].splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    environment = dict(item.split("=", 1) for item in values["Environment"])
    return values, environment


def test_systemd_accepts_the_unit() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed here (systemd's tools); CI on a systemd "
            "host checks the unit"
        )
    if Path(BOT_COMMAND[0]).name != "meta-ai-digest":
        pytest.skip("the console script is not installed (pip install -e .): no ExecStart to check")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"mad-unit-{os.getpid()}"
    scratch.mkdir(exist_ok=True)
    try:
        unit = scratch / UNIT.name
        # The unit as installed, its command where this checkout installed it.
        unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED_COMMAND, BOT_COMMAND[0]))
        result = subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(scratch)
    # Unknown keys and bad values are only warnings for systemd: none may appear.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_the_unit_runs_migrate_then_run_and_does_not_restart_a_config_mistake() -> None:
    service, environment = unit_service()
    assert service["ExecStartPre"] == [f"{INSTALLED_COMMAND} migrate"]
    assert service["ExecStart"] == [f"{INSTALLED_COMMAND} run"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]
    assert int(service["TimeoutStopSec"][0]) > 10  # the bot stops within 10 s of SIGTERM
    assert environment["META_AI_DIGEST_CONFIG"] == "/etc/meta-ai-digest/config.toml"
    assert environment["META_AI_DIGEST_SECRETS_FILE"] == "/etc/meta-ai-digest/secrets.env"
    assert "EnvironmentFile" not in service  # secrets stay out of the process environment
    guide = GUIDE.read_text(encoding="utf-8")
    for named in (
        "deploy/meta-ai-digest.service",
        "/var/lib/meta-ai-digest/meta-ai-digest.db",
        "/etc/meta-ai-digest/secrets.env",
        "journalctl -u meta-ai-digest",
    ):
        assert named in guide


def test_the_unit_environment_puts_the_database_where_the_guide_says(tmp_path: Path) -> None:
    """The unit's XDG_DATA_HOME and secrets file, rooted in a temporary directory."""
    _service, environment = unit_service()
    state = tmp_path / environment["XDG_DATA_HOME"].lstrip("/")
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# no chat platform\nSLACK_SIGNING_SECRET=not-used-here-0123456789\n")
    env = {"XDG_DATA_HOME": str(state), "META_AI_DIGEST_SECRETS_FILE": str(secrets)}
    result = run_bot(["migrate"], env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    database = state / "meta-ai-digest" / "meta-ai-digest.db"
    assert database.is_file()
    assert str(database).endswith("var/lib/meta-ai-digest/meta-ai-digest.db")
