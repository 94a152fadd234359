"""The spawner thread: start functions run off the loop in order, errors reach their caller,
and a start whose caller gave up is handed to its `discard`, so nothing is left unwatched."""

from __future__ import annotations

import asyncio
import threading

import pytest

from raftcron.executor.spawner import Spawner
from tests.support.wait import wait_until_async


async def test_calls_run_in_order_in_one_thread_off_the_loop() -> None:
    spawner = Spawner()
    seen: list[tuple[int, str]] = []

    def work(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * 2

    try:
        results = await asyncio.gather(*(spawner.call(lambda i=i: work(i)) for i in range(50)))
        assert results == [i * 2 for i in range(50)]
        assert [i for i, _ in seen] == list(range(50))
        assert {name for _, name in seen} == {spawner.name} != {threading.main_thread().name}
        assert spawner.pending == 0
    finally:
        spawner.close()


async def test_an_error_goes_to_its_caller_and_the_thread_lives_on() -> None:
    spawner = Spawner()
    try:
        with pytest.raises(OSError, match="no disk"):
            await spawner.call(lambda: (_ for _ in ()).throw(OSError("no disk")))
        assert await spawner.call(lambda: "still here") == "still here"
    finally:
        spawner.close()


async def test_a_start_whose_caller_gave_up_is_discarded() -> None:
    spawner = Spawner()
    release = threading.Event()
    discarded: list[str] = []
    try:
        blocker = asyncio.ensure_future(spawner.call(release.wait))
        abandoned = asyncio.ensure_future(
            spawner.call(lambda: "started", discard=discarded.append))
        await asyncio.sleep(0)
        abandoned.cancel()
        release.set()
        await blocker
        await wait_until_async(lambda: discarded == ["started"], 5, "the discard")
        assert abandoned.cancelled()
    finally:
        spawner.close()


async def test_an_idle_thread_ends_and_the_next_call_starts_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("raftcron.executor.spawner.IDLE_EXIT", 0.05)
    spawner = Spawner()
    try:
        assert await spawner.call(lambda: 1) == 1
        await wait_until_async(lambda: spawner._thread is None, 5, "the idle thread to end")
        assert await spawner.call(lambda: 2) == 2
    finally:
        spawner.close()


async def test_a_start_whose_caller_is_cancelled_as_its_result_arrives_is_discarded() -> None:
    # The result is handed over (the future done) and the caller cancelled before it resumes:
    # the caller never sees the result, so the start must go to `discard` all the same.
    spawner = Spawner()
    release = threading.Event()
    discarded: list[str] = []
    try:
        caller = asyncio.ensure_future(
            spawner.call(lambda: release.wait() and "started", discard=discarded.append))
        await asyncio.sleep(0)
        release.set()
        while spawner.pending:  # until the loop has handed the result over
            await asyncio.sleep(0)
        assert not caller.done()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert discarded == ["started"]
    finally:
        spawner.close()
