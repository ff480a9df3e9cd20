"""The garbage collector at start-up and at exit.

A command imports a few thousand modules' worth of objects (SQLAlchemy, aiohttp,
pydantic, typer) that live until the process ends. With the collector on, every few
hundred allocations of those imports start a collection that walks all of them again,
and at exit the interpreter walks them once more: on a 2-core machine that was 0.6 s of
a 1.7 s start-up and exit, more than a poll of a thousand unchanged feeds spends on
the network. So the collector pauses while a command imports, then *freezes* what the
imports built (moved to a permanent generation no collection walks; ``gc.freeze``) and
runs as usual for the command's own work; at exit the objects are frozen again, so the
final collection has nothing long-lived to walk. Nothing is leaked: frozen objects are
ones that would live until exit anyway.
"""

from __future__ import annotations

import gc

_paused = False


def pause_for_imports() -> None:
    """Stop automatic collection until :func:`imports_done` (the console script calls it
    first thing)."""
    global _paused
    _paused = True
    gc.disable()


def imports_done() -> None:
    """Freeze what start-up built and collect automatically again from here on.

    Only after :func:`pause_for_imports`: a process that imports the bot as a library (a
    test run, a host application) keeps its collector as it was.
    """
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def worker_ready() -> None:
    """In a worker process, once its modules and state are loaded: freeze them, so the
    collections that each job's garbage triggers do not walk them again."""
    gc.freeze()


def before_exit() -> None:
    """Spare the interpreter's last collection the objects that live until exit."""
    gc.freeze()
