"""Table tests of `planning.groups`: which runs wait for their concurrency group when a slot
fires, and which waiting runs start as the group gets room."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from raftcron.planning.groups import Gate, release
from raftcron.planning.job_plan import JobPlan

NOW = datetime(2024, 1, 1, 0, 1, tzinfo=UTC)


def rec(run_id: str, status: str = "pending", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "status": status, "reason": None, "manual": False, **extra}


def job(name: str, group: str | None = "db") -> JobPlan:
    return JobPlan.of({"name": name, "concurrency_group": group})


@pytest.mark.parametrize(("loads", "limits", "expected"), [
    ({}, {"db": 2}, ["pending", "pending", "waiting"]),
    ({"db": {"active": 1}}, {"db": 2}, ["pending", "waiting", "waiting"]),
    ({"db": {"active": 2}}, {"db": 2}, ["waiting", "waiting", "waiting"]),
    # Someone already waits: newcomers queue behind it even with room (order).
    ({"db": {"active": 0, "waiting": 1}}, {"db": 2}, ["waiting", "waiting", "waiting"]),
    ({"db": {"active": 5}}, {}, ["pending", "pending", "pending"]),        # no limit
    ({"db": {"active": 5}}, {"other": 1}, ["pending", "pending", "pending"]),
])
def test_groups_gate_across_jobs_of_one_plan(loads, limits, expected):
    gate = Gate(loads, limits)
    out = gate.apply(job("a"), [rec("a1"), rec("a2")]) + gate.apply(job("b"), [rec("b1")])
    assert [r["status"] for r in out] == expected
    for r in out:
        if r["status"] == "waiting":
            assert r["reason"] == f"waiting for concurrency group db (limit {limits['db']})"


def test_groups_gate_leaves_other_records_alone():
    gate = Gate({"db": {"active": 9}}, {"db": 1})
    recs = [rec("s", "skipped"), rec("m", "missed"), rec("x", manual=True)]
    assert gate.apply(job("a"), recs) == recs
    assert gate.apply(job("c", None), [rec("c1")]) == [rec("c1")]


def waiting(run_id: str, fired_at: str, job_name: str = "a") -> dict[str, Any]:
    return {"id": run_id, "job": job_name, "slot": "2024-01-01T00:00:00Z", "attempt": 1,
            "peer": "p1", "target": "p1", "status": "waiting", "fired_at": fired_at}


@pytest.mark.parametrize(("loads", "limits", "expected"), [
    ({"db": {"active": 1, "waiting": 3}}, {"db": 2}, ["w1"]),
    ({"db": {"active": 0, "waiting": 3}}, {"db": 2}, ["w1", "w2"]),
    ({"db": {"active": 2, "waiting": 3}}, {"db": 2}, []),
    ({"db": {"active": 3, "waiting": 3}}, {"db": 2}, []),            # a limit lowered
    ({"db": {"active": 3, "waiting": 3}}, {}, ["w1", "w2", "w3"]),   # the limit removed
])
def test_groups_release_starts_the_oldest_with_room(loads, limits, expected):
    runs = [waiting("w3", "2024-01-01T00:00:30Z", "b"), waiting("w1", "2024-01-01T00:00:10Z"),
            waiting("w2", "2024-01-01T00:00:20Z", "c")]
    out = release({"db": runs}, loads, limits, now=NOW)
    assert [r["run_id"] for r in out] == expected
    assert all(r["status"] == "pending" and r["fired_at"] == "2024-01-01T00:01:00Z"
               for r in out)
