"""Preparing runs in batches (one thread hop, each job read once) and grouped started.log
fsyncs: the worker's hot path at hundreds of runs per second."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from raftcron.errors import ValidationError
from raftcron.worker.prepare import Preparer
from raftcron.worker.started_log import StartedLog
from tests.support.worker import SELF, Env


class CountingRead:
    def __init__(self, read: Any) -> None:
        self._read = read
        self.job_reads: list[str] = []

    def get_job(self, name: str) -> Any:
        self.job_reads.append(name)
        return self._read.get_job(name)

    def get_node(self, name: str) -> Any:
        return self._read.get_node(name)

    def get_run(self, run_id: str) -> Any:
        return self._read.get_run(run_id)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._read.call(fn, *args, **kwargs)


async def test_preparer_reads_each_job_once_per_batch(env: Env):
    env.put_job("a")
    env.put_job("b")
    read = CountingRead(env.read)
    prep = Preparer(read=read, executors={"local": object()}, self_id=SELF)
    runs = [env.record(f"r{i}", job=job) for i, job in enumerate(["a", "a", "b", "a"])]
    env.fire(*runs)
    out = await asyncio.gather(*(prep.prepare(r) for r in runs))
    assert [spec.run_id for _, spec in out] == ["r0", "r1", "r2", "r3"]
    assert sorted(read.job_reads) == ["a", "b"]


async def test_preparer_fails_only_the_bad_run_of_a_batch(env: Env):
    env.put_job("a")
    prep = Preparer(read=env.read, executors={"local": object()}, self_id=SELF)
    good, bad = env.record("r1", job="a"), env.record("r2", job="a", target="nowhere")
    env.fire(good, bad)
    results = await asyncio.gather(prep.prepare(good), prep.prepare(bad),
                                   return_exceptions=True)
    assert results[0][1].run_id == "r1"
    assert isinstance(results[1], ValidationError) and results[1].field == "target"


async def test_preparer_drops_runs_the_copy_no_longer_holds_pending_here(env: Env):
    env.put_job("a")
    prep = Preparer(read=CountingRead(env.read), executors={"local": object()}, self_id=SELF)
    pending, lost, never = (env.record(f"r{i}", job="a") for i in range(3))
    env.fire(pending, lost)
    env.node.apply("run_lost", {"run_id": "r1", "reason": "lease", "at": "2024-06-01T12:01:00Z"})
    results = await asyncio.gather(*(prep.prepare(r) for r in (pending, lost, never)))
    assert results[0][1].run_id == "r0"
    assert results[1:] == [None, None]


async def test_started_log_ids_recorded_together_share_one_fsync(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    log = StartedLog(tmp_path)
    writes: list[list[str]] = []
    append = log._append

    def counting(ids: list[str]) -> None:
        writes.append(list(ids))
        append(ids)

    monkeypatch.setattr(log, "_append", counting)
    await asyncio.gather(*(log.record(f"r{i}") for i in range(5)))
    assert writes == [["r0", "r1", "r2", "r3", "r4"]]
    assert log.load() == {f"r{i}" for i in range(5)}


async def test_started_log_releases_a_whole_round_together(tmp_path: Path) -> None:
    """Every run of one round resumes in the same loop iteration (not one per iteration)."""
    log = StartedLog(tmp_path)
    done_at: list[int] = []
    iteration = 0

    async def ticker() -> None:
        nonlocal iteration
        while True:
            await asyncio.sleep(0)
            iteration += 1

    async def record(i: int) -> None:
        await log.record(f"r{i}")
        done_at.append(iteration)

    tick = asyncio.get_running_loop().create_task(ticker())
    try:
        await asyncio.gather(*(record(i) for i in range(300)))
    finally:
        tick.cancel()
    assert len(set(done_at)) == 1, sorted(set(done_at))
    assert log.load() == {f"r{i}" for i in range(300)}


async def test_started_log_rewrite_is_not_starved_by_a_stream_of_records(
        tmp_path: Path) -> None:
    log = StartedLog(tmp_path)
    stop = asyncio.Event()

    async def stream() -> None:
        i = 0
        while not stop.is_set():
            await asyncio.gather(*(log.record(f"s{i}-{k}") for k in range(5)))
            i += 1

    feeder = asyncio.get_running_loop().create_task(stream())
    try:
        await asyncio.sleep(0.05)
        await asyncio.wait_for(log.rewrite(["kept"]), 30)
    finally:
        stop.set()
        await feeder
    assert "kept" in log.load()
