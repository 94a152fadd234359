"""Apply of a run's life: run_started, run_finished, run_lost, cancel_run, prune_runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raftcron.model.tails import cap_tail
from tests.support.records import run_record
from tests.support.state import open_state

T = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        log("put_job", {"job": {"name": "backup"}, "at": T[0]})
        records = [run_record(f"r{i}", "backup", T[i], target="n1") for i in (1, 2, 3)]
        log("fire", {"runs": records, "at": T[1]})
        yield log, read


def finish(run_id: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "status": "succeeded", "exit_code": 0, "at": T[5], **extra}


def test_state_run_started_moves_pending_to_running(env) -> None:
    log, read = env
    assert log("run_started", {"run_id": "r1", "peer": "p1", "at": T[4]}) == {
        "ok": True, "job": "backup", "status": "running"}
    run = read.get_run("r1")
    assert (run["status"], run["started_at"]) == ("running", T[4])
    again = log("run_started", {"run_id": "r1", "peer": "p1", "at": T[5]})
    assert again["ok"] is True and again["already_running"] is True
    assert read.get_run("r1")["started_at"] == T[4]


def test_state_run_started_by_another_peer_is_refused(env) -> None:
    log, read = env
    result = log("run_started", {"run_id": "r1", "peer": "p2", "at": T[4]})
    assert result["error"] == "wrong_peer" and result["field"] == "peer"
    assert read.get_run("r1")["status"] == "pending"


def test_state_run_ops_report_unknown_runs(env) -> None:
    log, _ = env
    for op, args in [("run_started", {"run_id": "x", "peer": "p1", "at": T[4]}),
                     ("run_finished", finish("x")), ("run_lost", {"run_id": "x", "at": T[4]}),
                     ("cancel_run", {"run_id": "x", "at": T[4]})]:
        assert log(op, args)["error"] == "not_found", op


def test_state_run_finished_records_the_outcome(env) -> None:
    log, read = env
    log("run_started", {"run_id": "r1", "peer": "p1", "at": T[4]})
    result = log("run_finished", finish(status="failed", exit_code=2, stdout_tail="out",
                                        stderr_tail="err", reason="exit status 2",
                                        output_bytes=1234))
    assert result == {"ok": True, "job": "backup", "status": "failed"}
    run = read.get_run("r1")
    assert (run["status"], run["exit_code"], run["stdout_tail"], run["stderr_tail"]) == (
        "failed", 2, "out", "err")
    assert (run["reason"], run["output_bytes"], run["started_at"], run["finished_at"]) == (
        "exit status 2", 1234, T[4], T[5])


def test_state_run_finished_from_pending_takes_started_at(env) -> None:
    log, read = env
    log("run_finished", finish(status="timed_out", started_at=T[4]))
    run = read.get_run("r1")
    assert (run["status"], run["started_at"]) == ("timed_out", T[4])


def test_state_run_finished_caps_tails(env) -> None:
    log, read = env
    long = "é" * 40000  # 80000 UTF-8 bytes
    log("run_finished", finish(stdout_tail=long, stderr_tail="x" * 70000))
    run = read.get_run("r1")
    assert len(run["stdout_tail"].encode()) <= 65536 and run["stdout_tail"] == "é" * 32768
    assert run["stderr_tail"] == "x" * 65536


def test_state_cap_tail_cuts_on_a_character_boundary() -> None:
    assert cap_tail("abc", 10) == "abc"
    assert cap_tail("aé", 2) == "é"  # the last 2 bytes are é whole
    assert cap_tail("aéb", 2) == "b"
    assert cap_tail("aé", 3) == "aé"


def test_state_late_finish_after_lost_changes_nothing(env) -> None:
    log, read = env
    log("run_started", {"run_id": "r1", "peer": "p1", "at": T[4]})
    assert log("run_lost", {"run_id": "r1", "reason": "peer gone", "at": T[5]}) == {
        "ok": True, "job": "backup", "status": "lost"}
    late = log("run_finished", finish())
    assert late["ok"] is False and late["error"] == "not_active" and late["status"] == "lost"
    run = read.get_run("r1")
    assert (run["status"], run["reason"], run["finished_at"]) == ("lost", "peer gone", T[5])


def test_state_run_started_after_lost_is_refused(env) -> None:
    # A late peer confirms a late run by proposing run_started before it spawns anything: a
    # run the leader already gave up on must stay lost, never turn running.
    log, read = env
    log("run_lost", {"run_id": "r1", "reason": "peer gone", "at": T[4]})
    late = log("run_started", {"run_id": "r1", "peer": "p1", "at": T[5]})
    assert (late["ok"], late["error"], late["status"]) == (False, "not_active", "lost")
    run = read.get_run("r1")
    assert (run["status"], run["started_at"]) == ("lost", None)


def test_state_run_lost_on_a_terminal_run_is_not_active(env) -> None:
    log, _ = env
    log("run_finished", finish())
    assert log("run_lost", {"run_id": "r1", "at": T[6]})["error"] == "not_active"


def test_state_cancel_run_marks_an_active_run(env) -> None:
    log, read = env
    assert log("cancel_run", {"run_id": "r1", "at": T[4]}) == {
        "ok": True, "job": "backup", "peer": "p1", "status": "pending"}
    assert read.get_run("r1")["cancel_requested"] is True
    assert read.get_run("r1")["status"] == "pending"
    log("run_finished", finish(status="cancelled"))
    assert log("cancel_run", {"run_id": "r1", "at": T[6]})["error"] == "not_active"


def test_state_prune_runs_deletes_only_terminal_runs(env) -> None:
    log, read = env
    log("run_finished", finish("r1"))
    log("run_lost", {"run_id": "r2", "at": T[6]})
    result = log("prune_runs", {"run_ids": ["r1", "r2", "r3", "nope", "r1"]})
    assert result == {"ok": True, "deleted": ["r1", "r2"]}
    assert read.get_run("r1") is None and read.get_run("r3")["status"] == "pending"
