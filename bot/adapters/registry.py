"""Discovers chat adapters through the ``meta_ai_digest.adapters`` entry-point group.

Built-in adapters are registered in ``pyproject.toml`` the same way a third
party's would be, so the core never names a platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from bot.adapters.base import ChatAdapter

ENTRY_POINT_GROUP = "meta_ai_digest.adapters"
# Used when no chat platform is configured, so a fresh install shows its work.
FALLBACK_ADAPTER = "terminal"

log = logging.getLogger(__name__)


def discover_adapters() -> dict[str, type[ChatAdapter]]:
    """All installed adapter classes by name; a broken plug-in is logged and skipped."""
    found: dict[str, type[ChatAdapter]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            adapter_class = entry.load()
        except Exception as error:  # a third-party plug-in must not stop the bot
            log.error("adapter plug-in %r failed to load: %s", entry.name, error)
            continue
        if not (isinstance(adapter_class, type) and issubclass(adapter_class, ChatAdapter)):
            log.error("adapter plug-in %r is not a ChatAdapter subclass; skipped", entry.name)
            continue
        found[entry.name] = adapter_class
    return found


class AdapterConfigError(Exception):
    """An adapter is configured but its configuration is wrong."""


def select_adapters(
    enabled: Sequence[str],
    options_for: Callable[[str], Mapping[str, Any]],
    env: Mapping[str, str],
    available: Mapping[str, type[ChatAdapter]] | None = None,
) -> list[ChatAdapter]:
    """The adapters to post through.

    With ``enabled`` empty: every installed adapter whose environment is set,
    and the terminal when none is. Otherwise exactly the named ones (an
    unknown or unconfigured name is an error, not a silent no-op).
    """
    classes = dict(discover_adapters() if available is None else available)
    unknown = [name for name in enabled if name not in classes]
    if unknown:
        raise AdapterConfigError(
            f"adapters.enabled names {', '.join(unknown)}, "
            f"but installed adapters are: {', '.join(sorted(classes))}"
        )
    names = list(enabled) or [name for name in classes if name != FALLBACK_ADAPTER]
    chosen = [
        adapter
        for name in names
        if (adapter := build_adapter(name, classes[name], options_for, env))
    ]
    missing = [name for name in enabled if name not in {adapter.name for adapter in chosen}]
    if missing:
        raise AdapterConfigError(
            f"adapter(s) {', '.join(missing)} enabled but not configured: "
            "set their environment variables"
        )
    if not chosen and FALLBACK_ADAPTER in classes:
        fallback = build_adapter(FALLBACK_ADAPTER, classes[FALLBACK_ADAPTER], options_for, env)
        chosen = [fallback] if fallback else []
    return chosen


def build_adapter(
    name: str,
    adapter_class: type[ChatAdapter],
    options_for: Callable[[str], Mapping[str, Any]],
    env: Mapping[str, str],
) -> ChatAdapter | None:
    try:
        return adapter_class.from_environment(env, options_for(name))
    except (ValueError, TypeError) as error:
        raise AdapterConfigError(f"adapter {name!r}: {error}") from error


def check_adapter_tables(
    tables: Mapping[str, Mapping[str, Any]],
    available: Mapping[str, type[ChatAdapter]] | None = None,
) -> None:
    """Check every ``[adapters.<name>]`` table of the config file against its adapter, set
    up or not; AdapterConfigError names the table, the key and the fix."""
    if not tables:
        return
    classes = dict(discover_adapters() if available is None else available)
    for name, options in tables.items():
        adapter_class = classes.get(name)
        if adapter_class is None:
            raise AdapterConfigError(
                f"[adapters.{name}] names no installed adapter; installed adapters are: "
                f"{', '.join(sorted(classes))}"
            )
        try:
            adapter_class.check_options(options)
        except (ValueError, TypeError) as error:
            raise AdapterConfigError(str(error)) from None
