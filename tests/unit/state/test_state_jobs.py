"""Apply of the job and node ops: put_job, delete_job, set_paused, finish_job, put_node,
delete_node, node_health, noop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.records import job_body, put_job_args, run_record
from tests.support.state import Log, open_state

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        yield log, read


def put(name: str = "backup", at: str = T0, **extra: Any) -> dict[str, Any]:
    return put_job_args(job_body(name, **extra), at)


def fire_one(log: Log, run_id: str, slot: str, job: str = "backup") -> dict:
    return log("fire", {"runs": [run_record(run_id, job, slot, target=None)], "at": slot})


def test_state_put_job_creates_a_scheduled_job(env) -> None:
    log, read = env
    assert log("put_job", put(description="nightly")) == {
        "ok": True, "created": True, "version": 1, "status": "scheduled"}
    job = read.get_job("backup")
    assert job["description"] == "nightly" and job["schedule"] == "0 * * * *"
    assert job["status"] == "scheduled" and job["version"] == 1
    assert job["created_at"] == job["updated_at"] == T0
    assert job["expanded_schedule"] == "0 * * * *" and job["cursor"] is None


def test_state_put_job_replace_keeps_created_at_and_cursor(env) -> None:
    log, read = env
    log("put_job", put())
    fire_one(log, "r1", T1)
    result = log("put_job", put(at=T2, description="v2"))
    assert result == {"ok": True, "created": False, "version": 2, "status": "scheduled"}
    job = read.get_job("backup")
    assert (job["created_at"], job["updated_at"], job["cursor"]) == (T0, T2, T1)
    assert job["description"] == "v2"
    # Replacing does not touch the job's runs.
    assert read.get_run("r1")["status"] == "pending"


def test_state_put_job_create_only_refuses_an_existing_name(env) -> None:
    log, read = env
    log("put_job", put())
    result = log("put_job", {**put(description="x"), "create_only": True})
    assert result["ok"] is False and result["error"] == "exists" and result["field"] == "name"
    assert "description" not in read.get_job("backup")


def test_state_put_job_takes_paused_from_the_job(env) -> None:
    log, read = env
    assert log("put_job", put(paused=True))["status"] == "paused"
    assert read.get_job("backup")["status"] == "paused"
    assert log("put_job", put(paused=False))["status"] == "scheduled"


def test_state_put_job_reschedules_a_finished_job(env) -> None:
    log, read = env
    log("put_job", put())
    log("finish_job", {"name": "backup", "at": T1})
    assert read.get_job("backup")["status"] == "finished"
    log("put_job", put(at=T2, schedule="@at 2030-01-01T00:00:00Z"))
    assert read.get_job("backup")["status"] == "scheduled"


def test_state_delete_job_deletes_its_runs(env) -> None:
    log, read = env
    log("put_job", put())
    log("put_job", put("other"))
    fire_one(log, "r1", T1)
    fire_one(log, "o1", T1, job="other")
    assert log("delete_job", {"name": "backup", "at": T2}) == {"ok": True, "deleted_runs": 1}
    assert read.get_job("backup") is None and read.get_run("r1") is None
    assert read.get_run("o1") is not None
    again = log("delete_job", {"name": "backup", "at": T2})
    assert again["ok"] is False and again["error"] == "not_found"


def test_state_set_paused_changes_status_spec_and_version(env) -> None:
    log, read = env
    log("put_job", put())
    assert log("set_paused", {"name": "backup", "paused": True, "at": T1}) == {
        "ok": True, "status": "paused", "paused": True, "version": 2}
    job = read.get_job("backup")
    assert (job["status"], job["paused"], job["version"], job["updated_at"]) == (
        "paused", True, 2, T1)
    # Setting the current value changes nothing.
    log("set_paused", {"name": "backup", "paused": True, "at": T2})
    assert read.get_job("backup")["version"] == 2
    log("set_paused", {"name": "backup", "paused": False, "at": T2})
    assert read.get_job("backup")["status"] == "scheduled"


def test_state_set_paused_keeps_a_finished_job_finished(env) -> None:
    log, read = env
    log("put_job", put())
    log("finish_job", {"name": "backup", "at": T1})
    assert log("set_paused", {"name": "backup", "paused": True, "at": T2})["status"] == "finished"
    assert read.get_job("backup")["status"] == "finished"
    assert read.get_job("backup")["paused"] is True


def test_state_set_paused_and_finish_job_report_unknown_jobs(env) -> None:
    log, _ = env
    assert log("set_paused", {"name": "nope", "paused": True, "at": T0})["error"] == "not_found"
    assert log("finish_job", {"name": "nope", "at": T0})["error"] == "not_found"


def test_state_finish_job_is_idempotent(env) -> None:
    log, read = env
    log("put_job", put())
    assert log("finish_job", {"name": "backup", "at": T1}) == {"ok": True, "status": "finished"}
    assert log("finish_job", {"name": "backup", "at": T2}) == {"ok": True, "status": "finished"}
    assert read.get_job("backup")["updated_at"] == T1


def test_state_put_node_creates_then_replaces_keeping_health(env) -> None:
    log, read = env
    node = {"name": "db1", "connection_type": "ssh", "ssh_host": "10.0.0.5", "roles": ["db"]}
    assert log("put_node", {"node": node, "at": T0}) == {"ok": True, "created": True}
    assert log("node_health", {"name": "db1", "healthy": False, "reason": "refused", "at": T1}) \
        == {"ok": True}
    assert log("put_node", {"node": {**node, "ssh_port": 2222}, "at": T2}) == {
        "ok": True, "created": False}
    got = read.get_node("db1")
    assert got["ssh_port"] == 2222 and got["roles"] == ["db"]
    assert (got["healthy"], got["health_reason"], got["health_at"]) == (False, "refused", T1)
    assert (got["created_at"], got["updated_at"]) == (T0, T2)


def test_state_node_ops_report_unknown_nodes(env) -> None:
    log, _ = env
    assert log("delete_node", {"name": "ghost"})["error"] == "not_found"
    result = log("node_health", {"name": "ghost", "healthy": True, "at": T0})
    assert result["error"] == "not_found"


def test_state_delete_node_removes_it(env) -> None:
    log, read = env
    log("put_node", {"node": {"name": "db1"}, "at": T0})
    assert log("delete_node", {"name": "db1"}) == {"ok": True}
    assert read.get_node("db1") is None


def test_state_noop_changes_only_the_index(env) -> None:
    log, read = env
    assert log("noop", {}) == {"ok": True}
    assert read.applied_index() == 1
