"""Table tests of `planning.fanout`: the first wave of a rolling fan-out, and each next step
(start the next waiting targets, or skip them all after a failure with keep_going = false)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from raftcron.planning.fanout import first_wave, limit, steps
from raftcron.planning.job_plan import JobPlan

NOW = datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
SLOT = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(("spec", "targets", "expected"), [
    (None, 5, 5), (1, 5, 1), (2, 5, 2), (9, 5, 9), ("25%", 5, 2), ("20%", 5, 1),
    ("1%", 5, 1), ("100%", 5, 5), ("50%", 3, 2),
])
def test_fanout_limit(spec, targets, expected):
    assert limit(spec, targets) == expected


def job(**fields: Any) -> JobPlan:
    return JobPlan.of({"name": "j", "hosts": "all", **fields})


def wave(n: int) -> list[dict[str, Any]]:
    return [{"run_id": f"r{i}", "target": f"t{i}", "status": "pending", "reason": None}
            for i in range(n)]


def test_fanout_first_wave_keeps_the_first_targets_pending():
    out = first_wave(job(max_parallel=2), wave(4))
    assert [r["status"] for r in out] == ["pending", "pending", "waiting", "waiting"]
    assert out[2]["reason"] == "waiting its turn: max_parallel 2 of 4 targets"
    assert first_wave(job(), wave(4)) == wave(4)                       # no max_parallel
    assert first_wave(job(hosts="any", max_parallel=1), wave(1)) == wave(1)


def runs(*statuses: str, attempts: dict[int, int] | None = None) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "job": "j", "slot": SLOT, "attempt": (attempts or {}).get(i, 1),
             "peer": "p1", "target": f"t{i}", "status": s} for i, s in enumerate(statuses)]


@pytest.mark.parametrize(("fields", "slot_runs", "expected"), [
    # max 2: one running, so one more starts; the next in target order.
    ({"max_parallel": 2}, runs("succeeded", "running", "waiting", "waiting"),
     [("r2", "pending")]),
    ({"max_parallel": 2}, runs("running", "running", "waiting"), []),   # full
    ({"max_parallel": 2}, runs("succeeded", "succeeded", "waiting", "waiting", "waiting"),
     [("r2", "pending"), ("r3", "pending")]),
    ({"max_parallel": 2}, runs("succeeded", "succeeded"), []),           # nothing waits
    # A failure: keep_going (default) starts the next anyway ...
    ({"max_parallel": 1}, runs("failed", "waiting", "waiting"), [("r1", "pending")]),
    # ... keep_going = false skips every waiting target.
    ({"max_parallel": 1, "keep_going": False}, runs("failed", "waiting", "waiting"),
     [("r1", "skipped"), ("r2", "skipped")]),
    ({"max_parallel": 1, "keep_going": False}, runs("timed_out", "succeeded", "waiting"),
     [("r2", "skipped")]),
    ({"max_parallel": 1, "keep_going": False}, runs("lost", "waiting"), [("r1", "skipped")]),
    # A failure with a retry still owed is not the end of that target yet.
    ({"max_parallel": 1, "keep_going": False, "retries": 1},
     runs("failed", "waiting"), [("r1", "pending")]),
    ({"max_parallel": 1, "keep_going": False, "retries": 1},
     runs("failed", "waiting", attempts={0: 2}), [("r1", "skipped")]),
    ({"max_parallel": "50%"}, runs("running", "waiting", "waiting", "waiting"),
     [("r1", "pending")]),
])
def test_fanout_steps(fields, slot_runs, expected):
    out = steps(job(**fields), slot_runs, now=NOW)
    assert [(r["run_id"], r["status"]) for r in out] == expected
    for r in out:
        assert r["fired_at"] == "2024-01-01T00:00:30Z" and r["peer"] == "p1"
        assert r["job"] == "j" and r["slot"] == SLOT
        if r["status"] == "skipped":
            assert r["reason"] == "not started: target t0 failed (keep_going = false)"


def test_fanout_steps_follow_target_order_not_record_order():
    shuffled = list(reversed(runs("succeeded", "waiting", "waiting", "waiting")))
    assert [r["target"] for r in steps(job(max_parallel=2), shuffled, now=NOW)] == ["t1", "t2"]
