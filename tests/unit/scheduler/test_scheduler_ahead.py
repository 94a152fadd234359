"""Firing ahead (planning/ahead.py): a job is planned and committed up to `fire_ahead` before
it is due, its records stamped with the due time, unless its decision could change meanwhile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from raftcron.durations import parse_time
from tests.support.scheduler import A, Harness, slot

EVERY_10S = "*/10 * * * * *"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path, fire_ahead=timedelta(milliseconds=300))
    yield harness
    harness.close()


def fired(proposals) -> list[tuple[str, str, str]]:
    return [(r["job"], r["slot"], r["status"]) for p in proposals for r in p.records()]


async def test_scheduler_commits_a_slot_ahead_stamped_with_its_time(h: Harness):
    h.put_job("a", EVERY_10S, concurrency="allow")
    h.advance(9.6)
    assert await h.scheduler.tick() == []  # more than fire_ahead before: not yet
    h.advance(0.2)
    out = await h.scheduler.tick()
    assert fired(out) == [("a", slot(10), "pending")]
    assert out[0].args["at"] == h.now  # proposed now, 0.2 s before the slot
    run = h.runs("a")[0]
    assert parse_time(run["fired_at"]) == parse_time(slot(10))  # the time it is due
    h.advance(0.2)
    assert await h.scheduler.tick() == []  # at its time: fired once already
    assert h.scheduler.status()["next_due"] == slot(20)


async def test_scheduler_forbid_with_a_run_going_is_planned_at_its_time_not_ahead(h: Harness):
    # Planned ahead, slot 20 would be skipped for a run that ends before 20: it waits instead.
    h.put_job("a", EVERY_10S)
    h.advance(10)
    await h.scheduler.tick()
    first = h.runs("a")[0]["id"]
    h.advance(9.8)
    assert await h.scheduler.tick() == []
    h.finish(first)  # ends 0.1 s before the slot
    h.advance(0.1)
    assert await h.scheduler.tick() == []
    h.advance(0.1)
    assert fired(await h.scheduler.tick()) == [("a", slot(20), "pending")]


async def test_scheduler_forbid_with_nothing_going_is_planned_ahead(h: Harness):
    h.put_job("a", EVERY_10S)
    h.advance(9.8)
    assert fired(await h.scheduler.tick()) == [("a", slot(10), "pending")]


async def test_scheduler_without_fire_ahead_plans_at_the_time(tmp_path: Path):
    h = Harness(tmp_path, fire_ahead=timedelta(0))
    try:
        h.put_job("a", EVERY_10S, concurrency="allow")
        h.advance(9.9)
        assert await h.scheduler.tick() == []
        h.advance(0.1)
        assert fired(await h.scheduler.tick()) == [("a", slot(10), "pending")]
    finally:
        h.close()


@pytest.mark.parametrize("expr", ["10 * * * * *", "10 0 * * * *"])  # a minute, an hour apart
async def test_scheduler_holds_no_run_of_an_infrequent_job_ahead_on_the_leader(h: Harness, expr):
    # A run held until its slot dies with its peer, recorded lost and never run; a slot not yet
    # committed when the leader dies is fired by the next one. Three jobs, three peers: the
    # leader (A) loses the ties, and the job placed on it all the same waits for its time.
    for name in ("a", "b", "c"):
        h.put_job(name, expr, concurrency="allow")
    h.advance(9.8)
    ahead = [r for p in await h.scheduler.tick() for r in p.records()]
    assert len(ahead) == 2 and A not in {r["peer"] for r in ahead}, ahead
    h.advance(0.2)
    at_time = [r for p in await h.scheduler.tick() for r in p.records()]
    assert [(r["slot"], r["peer"]) for r in at_time] == [(slot(10), A)], at_time
    assert {r["job"] for r in ahead + at_time} == {"a", "b", "c"}


async def test_scheduler_may_hold_a_run_of_a_frequent_job_ahead_on_the_leader(h: Harness):
    # Every 10 s: the head start is the point, and a lost slot is followed by the next soon.
    for name in ("a", "b", "c"):
        h.put_job(name, EVERY_10S, concurrency="allow")
    h.advance(9.8)
    ahead = [r for p in await h.scheduler.tick() for r in p.records()]
    assert sorted(r["job"] for r in ahead) == ["a", "b", "c"]
    assert A in {r["peer"] for r in ahead}
