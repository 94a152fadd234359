"""`fire` with waiting records and `fanout_step` on a real copy: only waiting runs change."""

from __future__ import annotations

from pathlib import Path

from raftcron.db.reader import ReadDb
from raftcron.model.commands import decode, encode
from raftcron.state.machine import StateMachine
from tests.support import records

AT = "2024-05-01T10:00:00Z"
STEP_AT = "2024-05-01T10:00:07Z"
SLOT = "2024-05-01T10:00:00Z"


def test_state_fanout_waiting_records_then_steps(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    read = ReadDb(tmp_path / "s.db")
    try:
        sm.apply(1, encode("put_job", {"job": records.job_body(
            "roll", hosts="all", max_parallel=1, keep_going=False, command="true"),
            "expanded": "* * * * *", "at": "2024-05-01T09:00:00Z"}))
        recs = [records.run_record(f"r{i}", "roll", SLOT, peer="p1", status=s, target=f"t{i}")
                for i, s in enumerate(("pending", "waiting", "waiting"))]
        fire = encode("fire", {"runs": recs, "at": AT})
        assert decode(fire).v == 4
        assert len(sm.apply(2, fire)["accepted"]) == 3
        waiting = read.waiting_runs()
        assert [r["id"] for r in waiting] == ["r1", "r2"]
        assert all(r["finished_at"] is None for r in waiting)
        # A waiting run is never pruned (it has not run yet).
        assert sm.apply(9, encode("prune_runs", {"run_ids": ["r1"]}))["deleted"] == []
        assert read.runs_to_prune(1, "2030-01-01T00:00:00Z") == []
        step = {**recs[1], "status": "pending", "fired_at": STEP_AT}
        result = sm.apply(10, encode("fanout_step", {"runs": [step], "at": STEP_AT}))
        assert result == {"ok": True, "started": ["r1"], "skipped": [], "refused": []}
        assert (read.get_run("r1")["status"], read.get_run("r1")["fired_at"]) == (
            "pending", STEP_AT)
        # The same step again (a new leader unsure of the first): nothing starts twice.
        again = sm.apply(11, encode("fanout_step", {"runs": [step], "at": STEP_AT}))
        assert again["started"] == [] and again["refused"] == ["r1"]
        skip = {**recs[2], "status": "skipped", "reason": "not started: target t0 failed "
                "(keep_going = false)"}
        result = sm.apply(12, encode("fanout_step", {"runs": [skip], "at": STEP_AT}))
        assert result["skipped"] == ["r2"]
        r2 = read.get_run("r2")
        assert (r2["status"], r2["finished_at"], r2["reason"]) == (
            "skipped", STEP_AT, "not started: target t0 failed (keep_going = false)")
        assert read.waiting_runs() == []
        assert [r["id"] for r in read.slot_runs("roll", SLOT)] == ["r0", "r1", "r2"]
    finally:
        read.close()
        sm.close()


def test_state_waiting_run_counts_toward_max_runs(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    read = ReadDb(tmp_path / "s.db")
    try:
        sm.apply(1, encode("put_job", {"job": records.job_body(
            "grouped", concurrency_group="db", max_runs=5, command="true"),
            "expanded": "* * * * *", "at": "2024-05-01T09:00:00Z"}))
        rec = records.run_record("w1", "grouped", SLOT, status="waiting",
                                 reason="waiting for concurrency group db (limit 1)")
        assert sm.apply(2, encode("fire", {"runs": [rec], "at": AT}))["accepted"] == ["w1"]
        assert sm.dump()["jobs"][0][9] == 1  # fired_count
    finally:
        read.close()
        sm.close()
