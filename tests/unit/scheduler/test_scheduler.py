"""The leader's loop, driven tick by tick with a FakeClock over a real state copy.

Each test states a situation through commands (as the API and workers would), calls
`scheduler.tick()` and checks what was proposed and what the state then holds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from raftcron.clock import FakeClock
from raftcron.planning.proposals import prune_proposal
from raftcron.planning.slots import PAUSED_REASON
from tests.support.scheduler import T0, A, Harness, slot
from tests.support.wait import wait_until_async

EVERY_10S = "*/10 * * * * *"  # six fields: seconds first


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def fired(proposals) -> list[tuple[str, str, str]]:
    return [(r["job"], r["slot"], r["status"]) for p in proposals for r in p.records()]


async def test_scheduler_tick_fires_a_due_slot_once(h: Harness):
    h.put_job("a", EVERY_10S)
    assert await h.scheduler.tick() == []
    h.advance(10)
    out = await h.scheduler.tick()
    assert fired(out) == [("a", slot(10), "pending")]
    assert [r["status"] for r in h.runs("a")] == ["pending"]
    assert await h.scheduler.tick() == []  # same instant: nothing new
    h.advance(5)
    assert await h.scheduler.tick() == []


async def test_scheduler_batches_every_due_job_into_one_fire(h: Harness):
    for name in "abcde":
        h.put_job(name, EVERY_10S, concurrency="allow")
    h.advance(10)
    out = await h.scheduler.tick()
    assert len(out) == 1 and out[0].op == "fire"
    assert sorted(j for j, _, _ in fired(out)) == list("abcde")
    assert out[0].args["at"] == slot(10)


async def test_scheduler_spreads_runs_over_the_peers(h: Harness):
    for i in range(9):
        h.put_job(f"j{i}", EVERY_10S)
    h.advance(10)
    await h.scheduler.tick()
    peers = sorted(r["peer"] for r in h.runs())
    assert len(set(peers)) == 3 and all(peers.count(p) == 3 for p in set(peers))


async def test_scheduler_new_leader_catches_up_from_the_state(h: Harness):
    h.put_job("a", EVERY_10S, concurrency="allow")
    h.advance(10)
    await h.scheduler.tick()
    await h.scheduler.stop()
    h.advance(60)  # no leader for a minute
    successor = h.new_scheduler()
    out = await successor.tick()
    assert fired(out) == [("a", slot(s), "missed") for s in (20, 30, 40, 50, 60)] + [
        ("a", slot(70), "pending")]
    assert all("catchup=latest" in r["reason"] for r in h.runs("a", "missed"))


async def test_scheduler_deposed_leader_proposes_nothing(h: Harness):
    h.put_job("a", EVERY_10S)
    h.advance(10)
    h.node.is_leader = False
    assert await h.scheduler.tick() == []
    assert h.node.proposals == [] and h.runs() == []


async def test_scheduler_job_changes_reach_the_heap_without_a_rescan(h: Harness):
    await h.scheduler.tick()
    assert h.scheduler.status()["next_due"] is None
    h.put_job("a", "@every 1h")
    assert h.scheduler.status()["jobs"] == 1
    assert h.scheduler.status()["next_due"] == slot(3600)
    h.put_job("a", EVERY_10S)  # replaced: due sooner
    assert h.scheduler.status()["next_due"] == slot(10)
    h.external("delete_job", {"name": "a", "at": h.now})
    assert h.scheduler.status() | {"jobs": 0, "next_due": None} == h.scheduler.status()


async def test_scheduler_paused_job_skips_the_slots_of_its_pause(h: Harness):
    h.put_job("a", EVERY_10S)
    await h.scheduler.tick()
    h.external("set_paused", {"name": "a", "paused": True, "at": h.now})
    h.advance(37)
    assert await h.scheduler.tick() == []
    h.external("set_paused", {"name": "a", "paused": False, "at": h.now})
    out = await h.scheduler.tick()
    assert fired(out) == [("a", slot(s), "skipped") for s in (10, 20, 30)]
    assert {r["reason"] for r in h.runs("a")} == {PAUSED_REASON}
    h.advance(3)
    assert fired(await h.scheduler.tick()) == [("a", slot(40), "pending")]


async def test_scheduler_forbid_skips_while_the_previous_run_is_active(h: Harness):
    h.put_job("a", EVERY_10S)
    h.advance(10)
    first = fired(await h.scheduler.tick())
    run_id = h.runs("a")[0]["id"]
    h.advance(10)
    assert fired(await h.scheduler.tick()) == [("a", slot(20), "skipped")]
    assert h.runs("a", "skipped")[0]["reason"] == f"previous run {run_id} still running"
    h.finish(run_id)
    h.advance(10)
    assert first + fired(await h.scheduler.tick()) == [("a", slot(10), "pending"),
                                                       ("a", slot(30), "pending")]


async def test_scheduler_replace_cancels_the_old_run_in_the_same_entry(h: Harness):
    h.put_job("a", EVERY_10S, concurrency="replace")
    h.advance(10)
    await h.scheduler.tick()
    old = h.runs("a")[0]["id"]
    h.advance(10)
    out = await h.scheduler.tick()
    assert [p.op for p in out] == ["batch"]
    assert [c["op"] for c in out[0].args["commands"]] == ["cancel_run", "fire"]
    assert h.read.get_run(old)["cancel_requested"] is True
    assert fired(out) == [("a", slot(20), "pending")]


async def test_scheduler_queue_fires_the_waiting_slot_when_the_run_ends(h: Harness):
    h.put_job("a", EVERY_10S, concurrency="queue")
    h.advance(10)
    await h.scheduler.tick()
    run_id = h.runs("a")[0]["id"]
    h.advance(10)
    assert await h.scheduler.tick() == []  # slot 20 waits, no record yet
    assert h.scheduler.status()["held"] == 1
    h.advance(10)  # 30 comes due while 20 waits: the queue holds one, 20 is skipped
    assert fired(await h.scheduler.tick()) == [("a", slot(20), "skipped")]
    assert "queue full" in h.runs("a", "skipped")[0]["reason"]
    h.advance(5)
    h.finish(run_id)  # the run ends at 35: the waiting slot goes at once
    assert fired(await h.scheduler.tick()) == [("a", slot(30), "pending")]
    assert h.scheduler.status()["held"] == 0


async def test_scheduler_max_runs_finishes_the_job_with_its_last_fire(h: Harness):
    h.put_job("a", EVERY_10S, max_runs=2, concurrency="allow")
    h.advance(10)
    await h.scheduler.tick()
    h.advance(10)
    out = await h.scheduler.tick()
    assert out[0].op == "batch"
    assert [c["op"] for c in out[0].args["commands"]] == ["fire", "finish_job"]
    assert h.read.get_job("a")["status"] == "finished"
    assert h.scheduler.status()["next_due"] is None
    h.advance(100)
    assert await h.scheduler.tick() == []


async def test_scheduler_one_shot_fires_and_finishes(h: Harness):
    h.put_job("once", f"@at {slot(30)}")
    h.advance(30)
    out = await h.scheduler.tick()
    assert fired(out) == [("once", slot(30), "pending")]
    assert h.read.get_job("once")["status"] == "finished"


async def test_scheduler_failed_proposal_is_planned_again(h: Harness):
    h.put_job("a", EVERY_10S)
    h.advance(10)
    h.node.fail_next = 1
    await h.scheduler.tick()
    assert h.runs() == []
    h.advance(1)
    assert fired(await h.scheduler.tick()) == [("a", slot(10), "pending")]


async def test_scheduler_only_plans_jobs_that_are_due(h: Harness, monkeypatch):
    import raftcron.scheduler.loop as module

    calls = []
    real = module.due_slots
    monkeypatch.setattr(module, "due_slots", lambda job, *a, **kw: calls.append(job.name)
                        or real(job, *a, **kw))
    for i in range(200):
        h.put_job(f"hourly{i}", "@every 1h")
    h.put_job("often", EVERY_10S)
    await h.scheduler.tick()
    for _ in range(6):
        h.advance(10)
        await h.scheduler.tick()
    assert calls == ["often"] * 6


async def test_scheduler_status_reports_lag_and_next_due(h: Harness):
    h.put_job("a", EVERY_10S)
    h.advance(12)
    await h.scheduler.tick()
    status = h.scheduler.status()
    assert status["jobs"] == 1 and status["next_due"] == slot(20)
    assert status["last_tick"] == slot(12)
    assert status["fire_lag_ms"]["p50"] == 2000.0 and status["fire_lag_ms"]["count"] == 1


# --- clock jumps ------------------------------------------------------------------------------

class JumpClock(FakeClock):
    def jump(self, seconds: float) -> None:
        """Wall time moves, monotonic time does not (an NTP step, a VM resume)."""
        from datetime import timedelta
        self._now += timedelta(seconds=seconds)


async def test_scheduler_clock_jump_forward_rereads_then_catches_up_by_policy(tmp_path: Path):
    h = Harness(tmp_path, clock=JumpClock(T0))
    try:
        h.put_job("a", EVERY_10S)
        await h.scheduler.tick()
        h.clock.jump(3600)
        assert await h.scheduler.tick() == []
        assert h.scheduler.status()["clock_jumps"] == 1
        h.advance(0.5)
        out = fired(await h.scheduler.tick())
        assert out[-1] == ("a", slot(3600), "pending")
        assert [s for _, _, s in out[:-1]] == ["missed"]  # one summary record
    finally:
        h.close()


async def test_scheduler_clock_jump_backward_fires_no_burst(tmp_path: Path):
    h = Harness(tmp_path, clock=JumpClock(T0))
    try:
        h.put_job("a", EVERY_10S)
        h.advance(600)
        await h.scheduler.tick()
        before = len(h.runs())
        h.clock.jump(-300)
        assert await h.scheduler.tick() == []
        for _ in range(10):
            h.advance(1)
            assert await h.scheduler.tick() == []
        assert len(h.runs()) == before
    finally:
        h.close()


# --- the real loop ----------------------------------------------------------------------------

async def test_scheduler_start_runs_the_loop_and_stop_ends_it_at_once(tmp_path: Path):
    h = Harness(tmp_path, recovery_interval=0.02)
    try:
        h.put_job("a", EVERY_10S)
        await h.scheduler.start()
        h.advance(10)
        await wait_until_async(h.runs, 10, "the loop to fire the slot")
        assert [r["slot"] for r in h.runs()] == [slot(10)]
        assert h.scheduler.status()["running"] is True
        await h.scheduler.stop()
        assert h.scheduler.status()["running"] is False
        count = len(h.node.proposals)
        h.advance(60)
        await asyncio.sleep(0.05)  # give a (wrongly) surviving loop the chance to misbehave
        assert len(h.node.proposals) == count
    finally:
        await h.scheduler.stop()
        h.close()


async def test_scheduler_on_leadership_false_stops_proposing_immediately(tmp_path: Path):
    h = Harness(tmp_path, recovery_interval=0.02)
    try:
        h.put_job("a", EVERY_10S)
        h.scheduler.on_leadership(True)
        await wait_until_async(lambda: h.scheduler.status()["running"], 10, "the loop to start")
        h.scheduler.on_leadership(False)
        # Before the stop task has even run, nothing can be proposed any more.
        assert await h.scheduler.propose(prune_proposal(["x"])) is None
        assert all(op != "prune_runs" for op, _, _ in h.node.proposals)
    finally:
        await h.scheduler.stop()
        h.close()


async def test_scheduler_runs_are_assigned_with_the_leader_as_peer_for_records(h: Harness):
    h.put_job("a", EVERY_10S, catchup="none")
    h.advance(30)
    await h.scheduler.tick()
    missed = h.runs("a", "missed")
    assert missed and {r["peer"] for r in missed} == {A}


async def test_scheduler_planning_many_jobs_lets_other_tasks_run(h: Harness, monkeypatch):
    from raftcron.scheduler import firing
    for i in range(30):
        h.put_job(f"j{i}", EVERY_10S, concurrency="allow")
    h.advance(10)
    monkeypatch.setattr(firing, "YIELD_EVERY", 0.0)  # yield between every two jobs
    others = [0]
    seen_by_plans: list[int] = []
    plan = firing.slot_records

    def planning(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen_by_plans.append(others[0])
        return plan(*args, **kwargs)
    monkeypatch.setattr(firing, "slot_records", planning)

    async def other() -> None:
        while True:
            others[0] += 1
            await asyncio.sleep(0)
    task = asyncio.get_running_loop().create_task(other())
    out = await h.scheduler.tick()
    task.cancel()
    assert len(fired(out)) == 30 and len(seen_by_plans) == 30
    # Other tasks (the API, here one that counts) ran between the jobs being planned.
    assert seen_by_plans[-1] - seen_by_plans[0] >= 20
