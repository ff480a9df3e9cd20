"""A chat platform's SDK loads only when its adapter is used.

Every run loads every installed adapter class (to ask each whether its environment
is set), so an adapter module that imported discord.py or slack-bolt at the top would
make every terminal-only run, and every other platform's, pay for them. Each case
runs in a fresh interpreter, where ``sys.modules`` tells exactly what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

SDK_MODULES = ("discord", "slack_bolt", "slack_sdk", "aiohttp.web")

REPORT_SDKS = f"""
import json, sys
print(json.dumps(sorted(
    name for name in sys.modules
    if any(name == sdk or name.startswith(sdk + ".") for sdk in {SDK_MODULES!r})
)))
"""

SELECT = "from bot.adapters.registry import select_adapters\n"
NO_OPTIONS = "lambda name: {}"
SLACK_WEBHOOK = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/not-a-secret"}


def sdks_imported_by(code: str) -> list[str]:
    """The SDK modules a fresh interpreter holds after running ``code``."""
    result = subprocess.run(
        [sys.executable, "-c", code + REPORT_SDKS],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import bot.adapters.discord, bot.adapters.slack", id="import-packages"),
        pytest.param(
            SELECT + f"assert [a.name for a in select_adapters(['terminal'], {NO_OPTIONS}, {{}})]"
            " == ['terminal']",
            id="terminal-enabled",
        ),
        pytest.param(
            SELECT + f"assert [a.name for a in select_adapters([], {NO_OPTIONS}, {{}})]"
            " == ['terminal']",
            id="nothing-configured",
        ),
        pytest.param(
            "from bot.cli import app\napp(['--help'], standalone_mode=False)", id="cli-help"
        ),
    ],
)
def test_no_platform_sdk_is_imported_unless_its_adapter_is_used(code: str) -> None:
    assert sdks_imported_by(code) == []


def test_a_configured_platform_loads_its_own_sdk_only() -> None:
    """The control: the check above does see an SDK once an adapter really needs it (the
    outbox asks for its send timeout before it sends); building one loads none."""
    built = SELECT + (
        f"[adapter] = select_adapters([], {NO_OPTIONS}, {SLACK_WEBHOOK!r})\n"
        "assert adapter.name == 'slack'\n"
    )
    assert sdks_imported_by(built) == []
    code = built + "adapter.send_timeout_seconds\n"
    loaded = sdks_imported_by(code)
    assert "slack_sdk" in loaded
    assert not any(name == "discord" or name.startswith("discord.") for name in loaded)
