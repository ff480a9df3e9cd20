"""The collector policy of bot.common.collector: paused only by the console script."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.common import collector
from bot.common.workers import WorkerPool


@pytest.fixture
def restore_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("restore_collector")
def test_imports_done_resumes_collection_paused_for_imports() -> None:
    collector.pause_for_imports()
    assert not gc.isenabled()
    collector.imports_done()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restore_collector")
def test_a_library_user_keeps_its_collector() -> None:
    gc.disable()
    collector.imports_done()  # no pause_for_imports in this process: nothing changes
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_worker_process_freezes_what_it_holds_for_life() -> None:
    """Its preloaded modules are not walked again by the collections each job triggers."""
    with WorkerPool(1, preload=["bot.feeds.parser"]) as pool:
        assert pool.map(frozen_count, [None]) != [0]


def frozen_count(_: object) -> int:
    return gc.get_freeze_count()
