"""Apply of what issue 12 items 11 and 12 added: file-managed jobs (put_job's `managed_by`,
release_job, the refusals of API writes) and put_peer; and a schema-1 copy written before
still loading (migration 1 -> 2, for the state file and for a snapshot of it)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from raftcron.db.reader import ReadDb
from raftcron.db.sqlite import SCHEMA_VERSION
from raftcron.state.machine import StateMachine
from tests.support.paths import DATA
from tests.support.state import Log, open_state

T0, T1 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"
V1_COPY = DATA / "state" / "state-v1.sqlite3"
FILE = "file:backup.toml"


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        yield log, read


def put(name: str = "backup", managed_by: Any = "absent", **extra: Any) -> dict[str, Any]:
    args = {"job": {"name": name, "schedule": "0 * * * *", **extra}, "expanded": "0 * * * *",
            "at": T0}
    if managed_by != "absent":
        args["managed_by"] = managed_by
    return args


def test_state_put_job_from_a_file_marks_the_job(env) -> None:
    log, read = env
    assert log("put_job", put(managed_by=FILE))["ok"]
    assert read.get_job("backup")["managed_by"] == FILE
    assert read.managed_jobs() == {"backup": FILE}
    assert log("put_job", put("api-job"))["ok"]
    assert read.get_job("api-job")["managed_by"] is None


@pytest.mark.parametrize("managed_by", ["absent", None])
def test_state_api_put_job_on_a_file_managed_job_is_refused_and_changes_nothing(
        env, managed_by) -> None:
    log, read = env
    log("put_job", put(managed_by=FILE, description="from the file"))
    result = log("put_job", put(managed_by=managed_by, description="from the API"))
    assert result["ok"] is False and result["error"] == "managed" and result["field"] == "name"
    assert "backup.toml" in result["message"] and "--jobs-dir" in result["message"]
    job = read.get_job("backup")
    assert job["description"] == "from the file" and job["version"] == 1


def test_state_api_delete_of_a_file_managed_job_is_refused(env) -> None:
    log, read = env
    log("put_job", put(managed_by=FILE))
    result = log("delete_job", {"name": "backup", "at": T1})
    assert result["error"] == "managed" and "backup.toml" in result["message"]
    assert read.get_job("backup") is not None


def test_state_pause_and_resume_of_a_file_managed_job_are_allowed(env) -> None:
    log, read = env
    log("put_job", put(managed_by=FILE))
    assert log("set_paused", {"name": "backup", "paused": True, "at": T1})["ok"]
    job = read.get_job("backup")
    assert job["status"] == "paused" and job["managed_by"] == FILE


def test_state_a_file_takes_over_a_job_made_through_the_api(env) -> None:
    log, read = env
    log("put_job", put(description="api"))
    assert log("put_job", put(managed_by=FILE, description="file"))["ok"]
    job = read.get_job("backup")
    assert job["managed_by"] == FILE and job["description"] == "file" and job["version"] == 2


def test_state_release_job_hands_the_job_to_the_api(env) -> None:
    log, read = env
    log("put_job", put(managed_by=FILE))
    wrong = log("release_job", {"name": "backup", "managed_by": "file:other.toml", "at": T1})
    assert wrong["ok"] is False and wrong["error"] == "conflict"
    assert read.get_job("backup")["managed_by"] == FILE
    assert log("release_job", {"name": "backup", "managed_by": FILE, "at": T1}) == {
        "ok": True, "version": 2}
    assert read.get_job("backup")["managed_by"] is None
    assert log("put_job", put(description="now the API's"))["ok"]
    assert log("delete_job", {"name": "backup", "at": T1})["ok"]
    missing = log("release_job", {"name": "backup", "managed_by": FILE, "at": T1})
    assert missing["error"] == "not_found"


def test_state_put_peer_records_changes_and_ignores_repeats(env) -> None:
    log, read = env
    args = {"peer": "127.0.0.1:7101", "api": "http://127.0.0.1:9001", "at": T0}
    assert log("put_peer", args) == {"ok": True, "changed": True, "version": 1}
    assert log("put_peer", {**args, "at": T1}) == {"ok": True, "changed": False, "version": 1}
    assert read.get_peer("127.0.0.1:7101")["updated_at"] == T0
    assert log("put_peer", {**args, "api": "https://h:9", "at": T1})["version"] == 2
    assert read.peer_apis() == {"127.0.0.1:7101": "https://h:9"}


@pytest.mark.parametrize("api", ["127.0.0.1:9001", "ftp://x", "http://a b"])
def test_state_put_peer_refuses_what_is_not_an_http_url(env, api) -> None:
    log, read = env
    result = log("put_peer", {"peer": "p", "api": api, "at": T0})
    assert result["ok"] is False and result["error"] == "invalid_args" and result["field"] == "api"
    assert read.peer_apis() == {}


def _columns(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: [tuple(r)[1:] for r in conn.execute(f'PRAGMA table_info("{n}")')]
                for n in names}
    finally:
        conn.close()


def test_state_a_schema_1_copy_written_before_loads_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    shutil.copy(V1_COPY, path)
    sm = StateMachine(path)  # migrates 1 -> 2
    read = ReadDb(path)
    try:
        assert sm.applied_index == 3
        job = read.get_job("backup")
        assert job["managed_by"] is None and job["version"] == 1
        assert read.get_run("r-1")["job"] == "backup"
        assert read.peer_apis() == {}
        log = Log(sm)
        assert log("put_peer", {"peer": "p", "api": "http://h:1", "at": T1})["ok"]
        assert log("put_job", put("other", managed_by=FILE))["ok"]
    finally:
        read.close()
        sm.close()
    fresh = tmp_path / "fresh.sqlite3"
    StateMachine(fresh).close()
    assert _columns(path) == _columns(fresh)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),)
    conn.close()


def test_state_a_schema_1_snapshot_restores_into_a_new_copy(tmp_path: Path) -> None:
    # pysyncobj's dump written before the upgrade: restore_from must accept and migrate it.
    sm = StateMachine(tmp_path / "state.sqlite3")
    try:
        assert sm.restore_from(V1_COPY) is True
        assert sm.applied_index == 3
        log = Log(sm)
        assert log("put_job", put(managed_by=FILE))["ok"]
        # managed_by is the 11th column (schema 3 appended next_slot and next_fire_at).
        assert sm.dump()["jobs"][0][10] == FILE
    finally:
        sm.close()
