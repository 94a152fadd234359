"""The scheduler's recovery and retention passes over a real state copy: retries with backoff
on another peer, leases turning a silent peer's runs `lost`, retries found by a new leader,
and pruning through the log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.scheduler import A, B, C, Harness, slot

EVERY_10S = "*/10 * * * * *"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def retries_of(h: Harness, run_id: str) -> list[dict]:
    return [r for r in h.runs() if r["retry_of"] == run_id]


async def fire_one(h: Harness, **job) -> dict:
    h.put_job("a", EVERY_10S, **job)
    await h.scheduler.tick()
    h.advance(10)
    await h.scheduler.tick()
    (run,) = h.runs("a", "pending")
    return run


async def test_scheduler_failed_run_is_retried_after_backoff_on_another_peer(h: Harness):
    run = await fire_one(h, retries=2, retry_backoff="30s", concurrency="allow")
    h.advance(2)
    h.finish(run["id"], "failed")
    h.advance(29)
    await h.scheduler.tick()
    assert retries_of(h, run["id"]) == []  # backoff not over
    h.advance(1)
    out = await h.scheduler.tick()
    assert [p.key for p in out if p.key.startswith("retry:")] == [f"retry:{run['id']}:2"]
    (retry,) = retries_of(h, run["id"])
    assert (retry["attempt"], retry["slot"], retry["status"]) == (2, slot(10), "pending")
    assert retry["peer"] != run["peer"]


async def test_scheduler_last_attempt_is_not_retried(h: Harness):
    run = await fire_one(h, retries=0)
    h.finish(run["id"], "failed")
    h.advance(120)
    await h.scheduler.tick()
    assert retries_of(h, run["id"]) == []
    assert h.scheduler.status()["pending_retries"] == 0


async def test_scheduler_new_leader_finds_owed_retries_in_the_state(h: Harness):
    run = await fire_one(h, retries=1, retry_backoff="30s")
    h.finish(run["id"], "timed_out")
    await h.scheduler.stop()  # leadership changes before the retry was due
    successor = h.new_scheduler()
    h.advance(30)
    await successor.tick()
    (retry,) = retries_of(h, run["id"])
    assert retry["attempt"] == 2
    # A third leader proposing it again changes nothing (same key, and the state refuses a
    # second retry of the same attempt).
    third = h.new_scheduler()
    await third.tick()
    assert len(retries_of(h, run["id"])) == 1


async def test_scheduler_silent_peer_runs_are_lost_after_the_lease_then_retried(h: Harness):
    h.put_job("a", EVERY_10S, retries=1, retry_backoff="1s")
    # A run on B, committed by someone (say, the previous leader).
    h.external("fire", {"runs": [{"run_id": "onb", "job": "a", "slot": slot(10), "peer": B,
                                  "target": B, "fired_at": slot(10)}], "at": slot(10)})
    h.advance(11)
    await h.scheduler.tick()
    h.node.set_peer(B, reachable=False, last_contact=None)
    h.advance(1)
    await h.scheduler.tick()  # B is silent from now
    h.advance(15)
    await h.scheduler.tick()
    assert h.read.get_run("onb")["status"] == "pending"  # not past the lease yet
    h.advance(1)
    out = await h.scheduler.tick()
    assert "run_lost" in [p.op for p in out]
    lost = h.read.get_run("onb")
    assert lost["status"] == "lost" and f"peer {B} unreachable for 16s" in lost["reason"]
    h.advance(1)
    await h.scheduler.tick()
    (retry,) = retries_of(h, "onb")
    assert retry["peer"] in (A, C) and retry["attempt"] == 2


async def test_scheduler_peer_heard_from_recently_keeps_its_runs(h: Harness):
    h.put_job("a", EVERY_10S)
    h.external("fire", {"runs": [{"run_id": "onb", "job": "a", "slot": slot(10), "peer": B,
                                  "target": B, "fired_at": slot(10)}], "at": slot(10)})
    h.node.set_peer(B, reachable=False, last_contact=3.0)  # a blip
    for _ in range(5):
        h.advance(1)
        await h.scheduler.tick()
    h.node.set_peer(B, reachable=True, last_contact=0.1)
    for _ in range(30):
        h.advance(1)
        await h.scheduler.tick()
    assert h.read.get_run("onb")["status"] == "pending"


async def test_scheduler_silent_peer_gets_no_new_runs(h: Harness):
    h.node.set_peer(B, reachable=False, last_contact=2.0)
    for i in range(6):
        h.put_job(f"j{i}", EVERY_10S)
    h.advance(10)
    await h.scheduler.tick()
    assert B not in {r["peer"] for r in h.runs()} and len(h.runs()) == 6


async def test_scheduler_prunes_through_the_log(tmp_path: Path):
    h = Harness(tmp_path, retention_interval=60, max_run_age=timedelta(days=1))
    try:
        h.put_job("a", EVERY_10S, keep_runs=2, concurrency="allow")
        ids = []
        for _ in range(5):
            h.advance(10)
            await h.scheduler.tick()
            ids.append(h.runs("a", "pending")[0]["id"])
            h.finish(ids[-1])
        h.advance(60)
        out = await h.scheduler.tick()
        (prune,) = [p for p in out if p.op == "prune_runs"]
        assert sorted(prune.args["run_ids"]) == sorted(ids[:3])
        left = {r["id"] for r in h.runs("a")}  # (the same tick also fired the new slots)
        assert not left & set(ids[:3]) and set(ids[3:]) <= left
    finally:
        h.close()
