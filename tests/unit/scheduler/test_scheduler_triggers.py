"""The leader's triggers pass (`scheduler.triggers`) over a real state copy: a dependent
starts once per parent, a new leader makes the decisions its predecessor did not, a failure
starts `on_failure` and pauses after `pause_after_failures`, a backfill fires one slot at a
time, a run past `expected_duration` is flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.model.commands import VERSION
from tests.support.scheduler import Harness

QUIET = "0 1 1 1 *"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    for peer in harness.node.peers:  # every peer reads command version 4
        peer["command_version"] = VERSION
    yield harness
    harness.close()


def manual(h: Harness, job: str, run_id: str) -> None:
    rec = {"run_id": run_id, "job": job, "slot": h.now, "attempt": 1, "peer": h.node.self_id,
           "target": None, "status": "pending", "reason": "manual", "manual": True,
           "retry_of": None, "fired_at": h.now}
    assert h.external("fire", {"runs": [rec], "at": h.now})["accepted"] == [run_id]


async def test_scheduler_triggers_after_starts_a_dependent_once_per_parent(h: Harness):
    h.put_job("a", QUIET)
    h.put_job("b", QUIET, after=["a"])
    await h.scheduler.tick()
    manual(h, "a", "a1")
    h.advance(1)
    h.finish("a1")
    await h.scheduler.tick()
    (b,) = h.runs("b")
    assert (b["triggered_by"], b["status"], b["manual"]) == ("a1", "pending", False)
    # A second leader looking at the same state decides nothing new.
    other = h.new_scheduler()
    await other.tick()
    assert len(h.runs("b")) == 1


async def test_scheduler_triggers_new_leader_decides_what_the_old_one_did_not(h: Harness):
    h.put_job("a", QUIET)
    h.put_job("b", QUIET, after=["a"])
    h.put_job("alert", QUIET)
    h.put_job("f", QUIET, on_failure=["alert"])
    manual(h, "a", "a1")
    manual(h, "f", "f1")
    h.finish("a1")
    h.finish("f1", "failed")  # no leader saw these end
    successor = h.new_scheduler()
    await successor.tick()
    assert [r["triggered_by"] for r in h.runs("b")] == ["a1"]
    assert [r["triggered_by"] for r in h.runs("alert")] == ["f1"]
    await h.new_scheduler().tick()
    assert len(h.runs("b")) == 1 and len(h.runs("alert")) == 1


async def test_scheduler_triggers_after_waits_for_every_parent(h: Harness):
    for name in ("x", "y"):
        h.put_job(name, QUIET)
    h.put_job("z", QUIET, after=["x", "y"])
    await h.scheduler.tick()
    manual(h, "x", "x1")
    h.advance(1)
    h.finish("x1")
    await h.scheduler.tick()
    assert h.runs("z") == []
    manual(h, "y", "y1")
    h.advance(1)
    h.finish("y1")
    await h.scheduler.tick()
    assert [r["triggered_by"] for r in h.runs("z")] == ["y1"]


async def test_scheduler_triggers_pause_after_failures(h: Harness):
    h.put_job("p", QUIET, pause_after_failures=2)
    await h.scheduler.tick()
    for i in (1, 2):
        h.advance(1)
        manual(h, "p", f"p{i}")
        h.advance(1)
        h.finish(f"p{i}", "failed")
        await h.scheduler.tick()
    job = h.read.get_job("p")
    assert (job["status"], job["pause_reason"]) == (
        "paused", "paused after 2 consecutive failures; last run p2")


async def test_scheduler_triggers_backfill_one_slot_at_a_time(h: Harness):
    h.put_job("hb", "0 * * * *")
    await h.scheduler.tick()
    slots = ["2023-12-31T22:00:00Z", "2023-12-31T23:00:00Z"]
    assert h.external("backfill", {"id": "bf", "job": "hb", "slots": slots, "at": h.now})["ok"]
    h.advance(1)
    await h.scheduler.tick()
    (first,) = h.runs("hb")
    assert (first["slot"], first["backfill"]) == ("2023-12-31T22:00:00Z", True)
    h.advance(1)
    await h.scheduler.tick()
    assert len(h.runs("hb")) == 1  # forbid: the first is still active
    h.finish(first["id"])
    h.advance(1)
    await h.scheduler.tick()
    assert [r["slot"] for r in h.runs("hb")] == slots


async def test_scheduler_triggers_flags_a_slow_run(h: Harness):
    h.put_job("s", QUIET, expected_duration="5s")
    await h.scheduler.tick()
    manual(h, "s", "s1")
    assert h.external("run_started", {"run_id": "s1", "peer": h.node.self_id,
                                      "at": h.now})["ok"]
    h.advance(3)
    await h.scheduler.tick()
    assert h.read.get_run("s1")["slow"] is False
    h.advance(3)
    await h.scheduler.tick()
    assert h.read.get_run("s1")["slow"] is True
