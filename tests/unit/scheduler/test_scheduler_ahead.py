"""Firing ahead (planning/ahead.py): a job is planned and committed up to `fire_ahead` before
it is due, its records stamped with the due time, unless its decision could change meanwhile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from raftcron.durations import parse_time
from tests.support.scheduler import Harness, slot

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
