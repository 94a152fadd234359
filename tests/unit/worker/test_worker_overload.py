"""Overload: run starts are paced so the API keeps answering, runs that cannot start in time
are recorded `failed` with an `overloaded` reason, and what waits to start is bounded."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from raftcron.durations import format_time
from raftcron.executor.base import LATE_START, RunOutcome, RunSpec
from raftcron.model import RunStatus
from raftcron.worker.runner import Worker
from tests.support.api import LiveApi
from tests.support.fake_node import SELF
from tests.support.records import run_record
from tests.support.wait import wait_until, wait_until_async
from tests.support.worker import T0, Env, settle


class LoopCostExecutor:
    """Each start holds the event loop for `cost` seconds, as spawning a process does; the
    run then ends at once."""

    def __init__(self, clock: Any, cost: float) -> None:
        self.clock, self.cost = clock, cost
        self.started: list[str] = []
        self._lock = threading.Lock()

    async def run(self, spec: RunSpec, *, on_started: Any = None) -> RunOutcome:
        time.sleep(self.cost)  # blocking on purpose: the loop pays for every start
        with self._lock:
            self.started.append(spec.run_id)
        now = self.clock.now()
        if on_started is not None:
            on_started(now)
        return RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, stdout_tail="",
                          stderr_tail="", reason=None, started_at=now, finished_at=now)

    async def cancel(self, run_id: str) -> bool:
        return False

    def count(self) -> int:
        with self._lock:
            return len(self.started)


def records(n: int, slot: str, fired_at: str) -> list[dict[str, Any]]:
    return [run_record(f"r{i:04d}", "job", slot, peer=SELF, manual=True, fired_at=fired_at)
            for i in range(n)]


def test_status_answers_while_1000_runs_are_being_started(tmp_path: Path) -> None:
    api = LiveApi(tmp_path / "api")
    try:
        executor = LoopCostExecutor(api.clock, cost=0.002)
        job = {"name": "job", "schedule": "@every 1h", "command": ["true"]}
        assert api.apply("put_job", {"job": job, "at": format_time(api.clock.now())})["ok"]

        def make() -> Worker:
            worker = Worker(node=api.node, read=api.read, clock=api.clock, self_id=SELF,
                            data_dir=tmp_path / "data", executors={"local": executor})
            api.node.apply_listeners.append(worker.on_applied)
            return worker

        worker = api.on_loop(make)
        api.call(worker.start())
        now = format_time(api.clock.now())
        api.apply("fire", {"runs": records(1000, now, now), "at": now})
        wait_until(lambda: executor.count() > 0, timeout=30, message="the first start")
        status, _, body = api.request("GET", "/status")
        answered_with = executor.count()
        assert status == 200 and body["id"] == SELF
        # Answered between two turns of starts, not after the whole backlog.
        assert answered_with < 1000, answered_with
        wait_until(lambda: executor.count() == 1000, timeout=60, message="every run to start")
        api.call(worker.stop())
    finally:
        api.close()


async def test_runs_not_started_within_the_deadline_are_failed_as_overloaded(env: Env) -> None:
    env.put_job()

    class Slow(LoopCostExecutor):
        async def run(self, spec: RunSpec, *, on_started: Any = None) -> RunOutcome:
            env.clock.advance(timedelta(seconds=1))  # each start takes a second
            return await super().run(spec, on_started=on_started)

    executor = Slow(env.clock, cost=0.0)
    worker = env.worker({"local": executor}, start_deadline=5.0, late_after=3600.0)
    await worker.start()
    env.clock.advance(timedelta(seconds=10))  # every run is 10 s past its slot when taken
    fired = format_time(env.clock.now())
    env.fire(*records(100, format_time(T0), fired))
    ids = [f"r{i:04d}" for i in range(100)]
    await wait_until_async(lambda: all(env.run(i)["status"] in ("succeeded", "failed")
                                       for i in ids), message="every run to be settled")
    await settle(worker)
    runs = [env.run(i) for i in ids]
    started = {r["id"] for r in runs if r["status"] == "succeeded"}
    given_up = [r for r in runs if r["status"] == "failed"]
    # Late when taken, yet given `start_deadline` from then: the first ones started; the
    # ones still waiting 5 s (of this fake clock) later did not.
    assert started == set(executor.started) and len(started) >= 5 and given_up
    assert len(executor.started) == len(set(executor.started))
    for run in given_up:
        assert run["reason"] == LATE_START
        assert run["started_at"] is None and run["exit_code"] is None


async def test_runs_beyond_the_waiting_cap_are_failed_at_once(env: Env) -> None:
    env.put_job()
    block = asyncio.Event()

    class Blocked(LoopCostExecutor):
        async def run(self, spec: RunSpec, *, on_started: Any = None) -> RunOutcome:
            await block.wait()
            return await super().run(spec, on_started=on_started)

    executor = Blocked(env.clock, cost=0.0)
    worker = env.worker({"local": executor}, max_waiting=10, late_after=3600.0)
    await worker.start()
    now = format_time(env.clock.now())
    env.fire(*records(50, now, now))
    refused = [f"r{i:04d}" for i in range(10, 50)]
    await wait_until_async(lambda: all(env.status_is(i, "failed") for i in refused),
                           message="the runs beyond the cap to be failed")
    assert {env.run(i)["reason"] for i in refused} == {
        "overloaded: 10 runs already waiting to start on this peer"}
    assert worker.status()["running"] == 10
    block.set()
    await wait_until_async(lambda: all(env.status_is(f"r{i:04d}", "succeeded")
                                       for i in range(10)), message="the first 10 to run")
    await settle(worker)
    assert sorted(executor.started) == [f"r{i:04d}" for i in range(10)]
