"""The fence: a committed slot is never fired again, manual runs and retries bypass it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raftcron.db.reader import ReadDb
from raftcron.state.machine import StateMachine
from tests.support.records import run_record
from tests.support.state import Log as SharedLog

S = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]


class Log(SharedLog):
    def fire(self, *records: dict[str, Any]) -> dict:
        return self("fire", {"runs": list(records), "at": S[0]})


@pytest.fixture
def env(tmp_path: Path):
    sm = StateMachine(tmp_path / "state.db")
    read = ReadDb(tmp_path / "state.db")
    log = Log(sm)
    log("put_job", {"job": {"name": "backup", "schedule": "0 * * * *"}, "at": S[0]})
    yield log, read
    read.close()
    sm.close()


def rec(run_id: str, slot: str, **extra: Any) -> dict[str, Any]:
    return run_record(run_id, "backup", slot, **extra)


def test_state_fire_accepts_a_slot_and_moves_the_cursor(env) -> None:
    log, read = env
    assert log.fire(rec("r1", S[1])) == {
        "ok": True, "accepted": ["r1"], "fenced": [], "fence_reasons": {}}
    assert read.job_cursors() == {"backup": S[1]}
    run = read.get_run("r1")
    assert (run["status"], run["slot"], run["attempt"], run["peer"]) == ("pending", S[1], 1, "p1")
    assert run["started_at"] is None and run["finished_at"] is None
    assert run["manual"] is False and run["cancel_requested"] is False


@pytest.mark.parametrize("slot", [S[2], S[1]])
def test_state_fire_fences_the_same_or_an_earlier_slot(env, slot: str) -> None:
    log, read = env
    log.fire(rec("r1", S[2]))
    result = log.fire(rec("r2", slot))
    assert result["accepted"] == [] and result["fenced"] == ["r2"]
    assert result["fence_reasons"] == {"r2": "slot_not_after_cursor"}
    assert read.get_run("r2") is None
    assert read.job_cursors()["backup"] == S[2]


def test_state_fire_later_slot_after_fence_is_accepted(env) -> None:
    log, _ = env
    log.fire(rec("r1", S[1]))
    assert log.fire(rec("r2", S[2]))["accepted"] == ["r2"]


def test_state_fire_compares_times_not_strings(env) -> None:
    log, read = env
    # "…:00.5Z" sorts before "…:00Z" as text; the fence must still see it as later.
    log.fire(rec("r1", "2024-05-01T11:00:00Z"))
    assert log.fire(rec("r2", "2024-05-01T11:00:00.500Z"))["accepted"] == ["r2"]
    assert log.fire(rec("r3", "2024-05-01T12:00:00+01:00"))["fenced"] == ["r3"]
    assert read.job_cursors()["backup"] == "2024-05-01T11:00:00.500000Z"


def test_state_fire_manual_runs_bypass_the_fence(env) -> None:
    log, read = env
    log.fire(rec("r1", S[3]))
    assert log.fire(rec("m1", S[1], manual=True))["accepted"] == ["m1"]
    assert read.job_cursors()["backup"] == S[3]  # a manual run leaves the cursor alone
    assert read.get_run("m1")["manual"] is True
    dup = log.fire(rec("m1", S[4], manual=True))
    assert dup["fence_reasons"] == {"m1": "duplicate_run_id"}


def test_state_fire_retries_bypass_the_fence_once(env) -> None:
    log, read = env
    log.fire(rec("r1", S[1]))
    log.fire(rec("r2", S[2]))
    retry = rec("r1b", S[1], retry_of="r1", attempt=2, target="p2")
    assert log.fire(retry)["accepted"] == ["r1b"]
    assert read.get_run("r1b")["retry_of"] == "r1"
    # A second leader proposing the same retry (another run id, another target) is fenced.
    again = log.fire(rec("r1c", S[1], retry_of="r1", attempt=2, target="p3"))
    assert again["fence_reasons"] == {"r1c": "duplicate_retry"}
    assert log.fire(rec("r1d", S[1], retry_of="r1", attempt=3))["accepted"] == ["r1d"]


def test_state_fire_records_skipped_and_missed_as_terminal(env) -> None:
    log, read = env
    log.fire(rec("s1", S[1], status="skipped", reason="previous run still running",
                 fired_at=S[2]), rec("m1", S[2], status="missed", reason="no leader"))
    skipped = read.get_run("s1")
    assert (skipped["status"], skipped["finished_at"], skipped["reason"]) == (
        "skipped", S[2], "previous run still running")
    assert read.get_run("m1")["status"] == "missed"
    log.fire({**rec("m2", S[3], status="missed"), "peer": None, "target": None})
    assert read.get_run("m2")["peer"] is None
    assert read.job_cursors()["backup"] == S[3]
    assert log.fire(rec("r2", S[3]))["fenced"] == ["r2"]


def test_state_fire_many_targets_of_one_slot_in_one_command(env) -> None:
    log, _ = env
    result = log.fire(rec("a", S[1], target="n1"), rec("b", S[1], target="n2"),
                      rec("c", S[1], target="n1"))
    assert result["accepted"] == ["a", "b"]
    assert result["fence_reasons"] == {"c": "duplicate_slot"}


def test_state_fire_catchup_of_many_slots_in_one_command(env) -> None:
    log, read = env
    result = log.fire(*[rec(f"r{i}", S[i]) for i in range(1, 5)])
    assert result["accepted"] == ["r1", "r2", "r3", "r4"]
    assert read.job_cursors()["backup"] == S[4]


def test_state_fire_refuses_runs_of_unknown_jobs(env) -> None:
    log, _ = env
    for extra in ({}, {"manual": True}, {"retry_of": "x", "attempt": 2}):
        result = log.fire({**rec("g", S[1], **extra), "job": "ghost"})
        assert result["fence_reasons"] == {"g": "job_not_found"}


def test_state_fire_refuses_runs_of_a_deleted_job(env) -> None:
    log, read = env
    log.fire(rec("r1", S[1]))
    log("delete_job", {"name": "backup", "at": S[2]})
    assert log.fire(rec("r2", S[3]))["fence_reasons"] == {"r2": "job_not_found"}
    assert read.get_run("r2") is None


def test_state_fire_refuses_duplicate_run_ids(env) -> None:
    log, _ = env
    result = log.fire(rec("r1", S[1]), rec("r1", S[2]))
    assert result["accepted"] == ["r1"] and result["fenced"] == ["r1"]
    assert log.fire(rec("r1", S[3]))["fence_reasons"] == {"r1": "duplicate_run_id"}


def test_state_fire_paused_job_takes_only_manual_runs(env) -> None:
    log, _ = env
    log("set_paused", {"name": "backup", "paused": True, "at": S[0]})
    assert log.fire(rec("r1", S[1]))["fence_reasons"] == {"r1": "job_paused"}
    assert log.fire(rec("m1", S[1], manual=True))["accepted"] == ["m1"]
    log("finish_job", {"name": "backup", "at": S[0]})
    assert log.fire(rec("r2", S[2]))["fence_reasons"] == {"r2": "job_finished"}


def test_state_fire_stops_at_max_runs(env) -> None:
    log, read = env
    log("put_job", {"job": {"name": "backup", "schedule": "0 * * * *", "max_runs": 2},
                    "at": S[0]})
    result = log.fire(rec("r1", S[1]), rec("s1", S[2], status="skipped"), rec("r2", S[3]),
                      rec("r3", S[4]))
    assert result["accepted"] == ["r1", "s1", "r2"]
    assert result["fence_reasons"] == {"r3": "max_runs_reached"}
    assert read.all_jobs_for_scheduler()[0]["fired_count"] == 2
    assert log.fire(rec("m1", S[5], manual=True))["accepted"] == ["m1"]


def test_state_fire_max_runs_counts_slots_not_fan_out(env) -> None:
    log, read = env
    log("put_job", {"job": {"name": "backup", "schedule": "0 * * * *", "max_runs": 2,
                            "hosts": "all"}, "at": S[0]})
    result = log.fire(rec("a1", S[1]), rec("b1", S[1], peer="p2", target="p2"),
                      rec("a2", S[2]), rec("b2", S[2], peer="p2", target="p2"),
                      rec("a3", S[3]))
    assert result["accepted"] == ["a1", "b1", "a2", "b2"]
    assert result["fence_reasons"] == {"a3": "max_runs_reached"}
    assert read.all_jobs_for_scheduler()[0]["fired_count"] == 2


def test_state_fire_a_thousand_records_in_one_entry(env) -> None:
    log, read = env
    for i in range(1, 50):
        log("put_job", {"job": {"name": f"j{i}"}, "at": S[0]})
    records = [{"run_id": f"r{i}", "job": f"j{i % 49 + 1}", "slot": S[1 + i // 49 % 9],
                "peer": f"p{i % 3}", "target": f"n{i}", "fired_at": S[1]} for i in range(1000)]
    result = log.fire(*records)
    assert len(result["accepted"]) == 1000
    assert read.run_counts("j1")["pending"] > 0
