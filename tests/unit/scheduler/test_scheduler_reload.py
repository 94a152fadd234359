"""Scheduler.reload at scale: chunked, one at a time, and stopped when leadership ends."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from raftcron.scheduler import table_load
from tests.support.scheduler import Harness
from tests.support.wait import wait_until_async

EVERY_10S = "*/10 * * * * *"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(table_load, "LOAD_CHUNK", 2)
    harness = Harness(tmp_path)
    yield harness
    harness.close()


class GatedRead:
    """Wraps `due_jobs` (the window's page read) so that each call waits for `release()`."""

    def __init__(self, read: Any) -> None:
        self._read = read.due_jobs
        self.gate = threading.Event()
        self.calls = 0
        read.due_jobs = self

    def __call__(self, *args: Any) -> list[dict]:
        self.calls += 1
        if not self.gate.wait(timeout=10):
            raise TimeoutError("gate never opened")
        return self._read(*args)


async def test_scheduler_reload_loads_every_job_in_chunks(h: Harness):
    for i in range(5):
        h.put_job(f"j{i}", EVERY_10S)
    await h.scheduler.reload()
    assert h.scheduler.status()["jobs"] == 5
    assert h.scheduler.status()["scheduled"] == 5


async def test_scheduler_reload_of_an_ended_leadership_stops_and_keeps_nothing(h: Harness):
    for i in range(5):
        h.put_job(f"j{i}", EVERY_10S)
    gated = GatedRead(h.read)
    load = asyncio.create_task(h.scheduler.reload())
    await wait_until_async(lambda: gated.calls == 1, 10, "the load to read the state")
    h.scheduler.on_leadership(False)
    gated.gate.set()
    await load
    assert h.scheduler.status()["jobs"] == 0
    assert await h.scheduler.tick() == []  # nothing fired from a half-built table


async def test_scheduler_reload_runs_one_load_at_a_time(h: Harness):
    h.put_job("a", EVERY_10S)
    gated = GatedRead(h.read)
    first = asyncio.create_task(h.scheduler.reload())
    second = asyncio.create_task(h.scheduler.reload())
    await wait_until_async(lambda: gated.calls == 1, 10, "the first load to read the state")
    for _ in range(20):
        await asyncio.sleep(0)
    assert gated.calls == 1  # the second waits for the first
    gated.gate.set()
    await asyncio.gather(first, second)
    assert gated.calls == 2
    assert h.scheduler.status()["jobs"] == 1
