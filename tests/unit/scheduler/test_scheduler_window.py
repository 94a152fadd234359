"""The leader's window (`scheduler.window`): a new leader reads the jobs due soon through the
(status, next_fire_at) index, not every job; jobs enter it as time moves; the next fire time
rides in the commands and the state stores it.

A real state copy behind `FakeNode` whose peers gossip command version 3, so the proposers
write `next` (with an older peer in the cluster they leave it out: the other suites)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from raftcron import schedule
from raftcron.durations import format_time
from raftcron.model import job_from_dict, job_to_dict
from raftcron.scheduler.loop import Scheduler, SchedulerSettings
from raftcron.scheduler.parsed import default_parse
from tests.support.scheduler import T0, A, B, C, Harness, slot

EVERY_10S = "*/10 * * * * *"
DAILY = "0 3 * * *"


class Counting:
    """Counts the window's page reads and the schedules parsed."""

    def __init__(self, h: Harness) -> None:
        self.queries = 0
        self.parses = 0
        real = h.read.due_jobs

        def due_jobs(*args: Any) -> list[dict]:
            self.queries += 1
            return real(*args)

        h.read.due_jobs = due_jobs

    def parse(self, *args: Any) -> Any:
        self.parses += 1
        return default_parse(*args)


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    for peer in (A, B, C):
        harness.node.set_peer(peer, command_version=3)
    yield harness
    harness.close()


def scheduler(h: Harness, counting: Counting) -> Scheduler:
    return Scheduler(node=h.node, read=h.read, clock=h.clock, self_id=A, peers=[A, B, C],
                     settings=SchedulerSettings(lease=timedelta(seconds=15)),
                     parse=counting.parse)


def put_entry(name: str, expr: str, at: str) -> dict:
    """A `put_job` batch entry with the `next` a proposer computes."""
    job = job_to_dict(job_from_dict({"name": name, "schedule": expr, "command": ["true"]}))
    sched = schedule.parse(expr, tz="UTC", name=name)
    first = sched.next_after(T0)
    nxt = {"slot": format_time(first), "fire_at": format_time(first)}
    return {"op": "put_job", "key": None,
            "args": {"job": job, "expanded": sched.expanded, "at": at, "next": nxt}}


def fill(h: Harness, daily: int, every_10s: int) -> None:
    entries = [put_entry(f"daily{i:05d}", DAILY, h.now) for i in range(daily)]
    entries += [put_entry(f"often{i}", EVERY_10S, h.now) for i in range(every_10s)]
    for i in range(0, len(entries), 1000):
        result = h.external("batch", {"commands": entries[i:i + 1000]})
        assert result["ok"], result


def stored_next(h: Harness, name: str) -> str | None:
    return h.read.get_job(name)["next_fire_at"]


async def test_scheduler_window_leader_change_reads_one_page_and_fires_the_due(h: Harness):
    fill(h, daily=10_000, every_10s=3)
    counting = Counting(h)
    first = scheduler(h, counting)
    assert await first.tick() == []
    assert counting.queries == 1  # one indexed read, not 10,003 rows
    assert first.status()["jobs"] == 3
    assert counting.parses <= 3  # never one parse per job
    h.advance(10)
    out = await first.tick()
    assert sorted(r["job"] for p in out for r in p.records()) == ["often0", "often1", "often2"]
    assert stored_next(h, "often0") == slot(20)  # the leader's fire carried the next time
    await first.stop()

    counting.queries = counting.parses = 0
    second = scheduler(h, counting)  # a leader change
    h.advance(10)
    out = await second.tick()
    assert counting.queries == 1 and counting.parses <= 3
    assert second.status()["jobs"] == 3
    assert sorted((r["job"], r["slot"]) for p in out for r in p.records()) == [
        ("often0", slot(20)), ("often1", slot(20)), ("often2", slot(20))]


async def test_scheduler_window_reads_a_job_when_its_time_comes(h: Harness):
    fill(h, daily=2, every_10s=0)
    counting = Counting(h)
    sched = scheduler(h, counting)
    await sched.tick()
    assert sched.status()["jobs"] == 0  # 03:00 is hours away
    h.advance(3 * 3600 - 90)
    await sched.tick()  # the window now reaches 03:00
    assert sched.status()["jobs"] == 2
    h.advance(90)
    out = await sched.tick()
    assert sorted(r["job"] for p in out for r in p.records()) == ["daily00000", "daily00001"]
    tomorrow = format_time(T0 + timedelta(days=1, hours=3))
    assert stored_next(h, "daily00000") == tomorrow
    assert sched.status()["jobs"] == 0  # fired, and out of the window until tomorrow


async def test_scheduler_window_fills_unknown_next_times_and_lets_them_go(h: Harness):
    for i in range(3):
        h.put_job(f"old{i}", DAILY)  # no `next`: as a migrated copy, or an older proposer
    assert stored_next(h, "old0") is None
    sched = scheduler(h, Counting(h))
    out = await sched.tick()
    assert [p.op for p in out] == ["fire"] and out[0].records() == []
    assert stored_next(h, "old0") == format_time(T0 + timedelta(hours=3))
    assert sched.status()["jobs"] == 0


async def test_scheduler_window_resume_of_a_job_it_never_held(h: Harness):
    h.put_job("p", EVERY_10S, paused=True)
    sched = scheduler(h, Counting(h))
    await sched.tick()
    assert sched.status()["jobs"] == 0  # paused: not in the window
    h.external("set_paused", {"name": "p", "paused": False, "at": h.now,
                              "next": {"slot": slot(10), "fire_at": slot(10)}})
    h.advance(10)
    out = await sched.tick()
    assert [(r["job"], r["slot"]) for p in out for r in p.records()] == [("p", slot(10))]


async def test_scheduler_window_evicted_jobs_leave_no_heap_behind(h: Harness):
    fill(h, daily=0, every_10s=0)
    table = scheduler(h, Counting(h)).table
    for i in range(3000):
        table.push(f"j{i}", T0 + timedelta(days=1))
        table.evict(f"j{i}")
    assert len(table._heap) <= 1000 and table.next_due() is None


async def test_scheduler_window_puts_due_later_are_not_parsed_on_the_leader(h: Harness):
    counting = Counting(h)
    sched = scheduler(h, counting)
    await sched.tick()  # leading, window loaded (empty)
    counting.parses = 0
    # Applied while leading, so mirrored into the table: 600 distinct daily schedules (no
    # cache hit between them) and one due within the window.
    entries = [put_entry(f"daily{i:03d}", f"{i % 60} {3 + i // 60} * * *", h.now)
               for i in range(600)] + [put_entry("often", EVERY_10S, h.now)]
    assert h.external("batch", {"commands": entries})["ok"]
    assert counting.parses <= 1  # only the job due soon was parsed
    assert sched.status()["jobs"] == 1
    h.advance(10)
    out = await sched.tick()
    assert [r["job"] for p in out for r in p.records()] == ["often"]
    h.advance(3 * 3600 - 10)  # 03:00: the window reads the first daily one back
    out = await sched.tick()
    assert "daily000" in {r["job"] for p in out for r in p.records()}
