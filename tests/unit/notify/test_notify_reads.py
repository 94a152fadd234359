"""The notifier reads nothing for runs of jobs that have nobody to tell, and still notifies
the jobs that do, including runs fired before its leadership began."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from raftcron.clock import FakeClock
from raftcron.config.cluster import NotifyConfig
from raftcron.db.reader import ReadDb
from raftcron.notify.sender import Notifier
from raftcron.state.machine import StateMachine
from tests.support.fake_node import FakeNode
from tests.support.records import run_record
from tests.support.wait import wait_until_async

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
T = [f"2024-05-01T1{h // 60}:{h % 60:02d}:00Z" for h in range(100)]


class SpyRead:
    """A real ReadDb that counts the calls made to it."""

    def __init__(self, read: ReadDb) -> None:
        self._read = read
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._read, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)
        return call


class Env:
    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.sm = StateMachine(tmp_path / "state.db")
        self.read = ReadDb(tmp_path / "state.db")
        self.spy = SpyRead(self.read)
        self.node = FakeNode(self.sm, "p1")
        self.posts: list[dict] = []
        self.notifier = Notifier(
            read=self.spy, clock=FakeClock(START), self_id="p1", config=NotifyConfig(**config),
            propose=self.node.propose, tick=3600, attempts=1, timeout=5, backoff=0.01,
            post=lambda url, payload, timeout, **_: self.posts.append(payload))
        self.node.apply_listeners[:] = [self.notifier.on_applied]

    def job(self, name: str, **notify: Any) -> None:
        spec = {"name": name, "schedule": "0 * * * *", "notify": notify}
        assert self.node.apply("put_job", {"job": spec, "at": T[0]})["ok"]

    async def lead(self) -> None:
        """Start the notifier and wait until its leadership's own reads are over (resume,
        recovery, the first absent check run on a task of their own), so that the reads
        counted from here on are those of the commands applied."""
        await self.notifier.start()
        await wait_until_async(lambda: "absent_watched_jobs" in self.spy.calls,
                               message="the notifier's first absent check")

    def fire(self, run_id: str, job: str, slot: int) -> None:
        rec = run_record(run_id, job, T[slot], target="n1")
        assert run_id in self.node.apply("fire", {"runs": [rec], "at": T[slot]})["accepted"]

    def finish(self, run_id: str, status: str = "failed") -> None:
        assert self.node.apply("run_finished", {"run_id": run_id, "status": status,
                                                "exit_code": 3, "at": T[50]})["ok"]


@pytest.fixture
async def env(tmp_path: Path):
    e = Env(tmp_path)
    yield e
    await e.notifier.close()
    e.read.close()
    e.sm.close()


async def test_no_reads_for_runs_of_jobs_without_targets(env: Env) -> None:
    env.job("quiet", on=["failure", "missed"])      # events, but nobody to tell
    env.job("muted", on=[], webhook="http://127.0.0.1:9/hook")
    await env.lead()
    env.spy.calls.clear()
    for i in range(20):
        env.fire(f"q{i}", "quiet", 1 + i)
        env.fire(f"m{i}", "muted", 1 + i)
        env.finish(f"q{i}")
        env.finish(f"m{i}")
    lost = run_record("q-lost", "quiet", T[40], target="n1")
    env.node.apply("fire", {"runs": [lost], "at": T[40]})
    env.node.apply("run_lost", {"run_id": "q-lost", "reason": "peer gone", "at": T[50]})
    await env.notifier.drain()
    assert env.spy.calls == []
    assert env.posts == []


async def test_a_job_given_a_target_later_is_notified_and_a_removed_one_is_not(
        env: Env) -> None:
    env.job("j")
    await env.lead()
    env.job("j", on=["failure"], webhook="http://127.0.0.1:9/hook")
    env.fire("r1", "j", 1)
    env.finish("r1")
    await env.notifier.drain()
    assert [(p["event"], p["run"]["id"]) for p in env.posts] == [("failure", "r1")]
    env.job("j")                                     # the target removed again
    env.fire("r2", "j", 2)
    env.spy.calls.clear()
    env.finish("r2")
    await env.notifier.drain()
    assert env.spy.calls == [] and len(env.posts) == 1


async def test_runs_fired_before_leadership_are_still_notified(env: Env) -> None:
    env.job("j", on=["failure"], webhook="http://127.0.0.1:9/hook")
    env.fire("r1", "j", 1)                           # fired while another peer led
    await env.notifier.start()
    env.finish("r1")
    await env.notifier.drain()
    assert [p["run"]["id"] for p in env.posts] == ["r1"]


async def test_the_cluster_wide_target_covers_every_job(tmp_path: Path) -> None:
    e = Env(tmp_path, webhook="http://127.0.0.1:9/global")
    try:
        e.job("j", on=["failure"])                   # no target of its own
        await e.notifier.start()
        e.fire("r1", "j", 1)
        e.finish("r1")
        await e.notifier.drain()
        assert [p["run"]["id"] for p in e.posts] == ["r1"]
    finally:
        await e.notifier.close()
        e.read.close()
        e.sm.close()


async def test_with_a_cluster_target_a_starting_leader_reads_no_jobs(tmp_path: Path) -> None:
    """Every job with an event has someone to tell: nothing to read when leadership starts
    (it was a scan of every spec), and the silent jobs put since are not read on their ends."""
    e = Env(tmp_path, webhook="http://127.0.0.1:9/global")
    try:
        e.job("old", on=["failure"])                  # the default policy, made before
        e.job("hushed-before", on=[])                 # silent before the leadership
        await e.lead()
        assert "notify_jobs" not in e.spy.calls
        e.job("hushed", on=[])                        # silent, made while leading
        e.job("loud", on=["failure"])
        e.job("loud-then-hushed", on=["failure"])
        e.job("loud-then-hushed", on=[])
        for i, job in enumerate(["old", "hushed-before", "hushed", "loud", "loud-then-hushed"]):
            e.fire(f"r{i}", job, 1 + i)
        e.spy.calls.clear()
        for run in ("r2", "r4"):                      # hushed, loud-then-hushed
            e.finish(run)
        await e.notifier.drain()
        assert e.spy.calls == []                      # known silent: not even read
        for i in (0, 1, 3):
            e.finish(f"r{i}")
        await e.notifier.drain()
        # A job silent before the leadership is read at its run's end, and the read decides.
        assert sorted(p["run"]["id"] for p in e.posts) == ["r0", "r3"]
        e.node.apply("delete_job", {"name": "hushed", "at": T[60]})
        assert e.notifier.audience.may_tell("hushed")  # forgotten with the job
    finally:
        await e.notifier.close()
        e.read.close()
        e.sm.close()


async def test_a_run_ending_while_leadership_starts_is_notified(env: Env) -> None:
    # start() reads the jobs with a policy off the loop; a run that ends meanwhile must not
    # be judged against the half-read set.
    env.job("j", on=["failure"], webhook="http://127.0.0.1:9/hook")
    starting = asyncio.create_task(env.notifier.start())
    await asyncio.sleep(0)                           # start() is now awaiting its read
    env.fire("r1", "j", 1)
    env.finish("r1")
    await starting
    await env.notifier.drain()
    assert [p["run"]["id"] for p in env.posts] == ["r1"]


def test_notify_jobs_reads_only_jobs_with_events_and_a_target_of_their_own(env: Env) -> None:
    env.job("a", on=["failure"], webhook="http://127.0.0.1:9/hook")
    env.job("b")
    env.job("c", on=[])
    spec = {"name": "d", "schedule": "0 * * * *"}
    assert env.node.apply("put_job", {"job": spec, "at": T[0]})["ok"]
    env.job("e", on=["failure"])                    # events, nobody of its own to tell
    env.job("f", on=["failure"], email=["ops@example.com"])
    # Only the jobs with events AND a target of their own (`e` counts only with a cluster
    # target, and then the notifier reads nothing: notify/audience.py).
    assert [j["name"] for j in env.read.notify_jobs()] == ["a", "f"]
