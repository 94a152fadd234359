"""The SQLite copy: schema version checks, read-only connections, and every ReadDb query."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from raftcron.db import sqlite as db_module
from raftcron.db.reader import ReadDb
from raftcron.db.sqlite import SCHEMA_VERSION
from raftcron.db.times import api_time, db_time
from raftcron.errors import SchemaVersionError, ValidationError
from raftcron.state.machine import StateMachine
from tests.support.records import run_record
from tests.support.state import Log, open_state

T = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        yield log, read


def put_job(log: Log, name: str, **extra: Any) -> None:
    log("put_job", {"job": {"name": name, **extra}, "at": T[0]})


def _set_version(path: Path, value: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.close()


@pytest.mark.parametrize(
    "text, stored, shown",
    [("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000000Z", "2024-05-01T10:00:00Z"),
     ("2024-05-01T12:00:00.25+02:00", "2024-05-01T10:00:00.250000Z",
      "2024-05-01T10:00:00.250000Z")],
)
def test_db_times_are_stored_fixed_width(text: str, stored: str, shown: str) -> None:
    assert db_time(text) == stored and api_time(stored) == shown
    assert db_time("2024-05-01T10:00:00Z") < db_time("2024-05-01T10:00:00.5Z")


def test_db_schema_version_mismatch_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateMachine(path).close()
    _set_version(path, "99")
    with pytest.raises(SchemaVersionError) as info:
        StateMachine(path)
    message = info.value.message
    assert str(path) in message and "99" in message and str(SCHEMA_VERSION) in message
    with pytest.raises(SchemaVersionError):
        ReadDb(path).applied_index()


def test_db_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE things (x)")
    conn.close()
    with pytest.raises(SchemaVersionError, match="not a raftcron state copy"):
        StateMachine(path)


def test_db_migrations_bring_an_old_copy_up_to_date(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "state.db"
    StateMachine(path).close()
    seen = []
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(db_module, "MIGRATIONS", {SCHEMA_VERSION: lambda c: seen.append(c)})
    StateMachine(path).close()
    assert len(seen) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION + 1),)
    conn.close()


def test_db_read_connection_cannot_write(env) -> None:
    _, read = env
    conn = read._db().conn
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")


def test_db_reads_see_new_applies_from_any_thread(env) -> None:
    log, read = env
    assert read.applied_index() == 0
    put_job(log, "a")
    assert read.applied_index() == 1 and read.get_job("a")["name"] == "a"
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(read.get_job("a")))
    worker.start()
    worker.join()
    assert seen[0]["name"] == "a"


def test_db_missing_things_are_none(env) -> None:
    _, read = env
    assert read.get_job("x") is None and read.get_run("x") is None
    assert read.get_node("x") is None and read.last_run("x") is None
    assert read.list_jobs() == ([], None) and read.list_runs() == ([], None)
    assert read.list_nodes() == ([], None)


def test_db_list_jobs_pages_by_name(env) -> None:
    log, read = env
    names = [f"job{i:02d}" for i in range(25)]
    for name in reversed(names):
        put_job(log, name)
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = read.list_jobs(limit=10, cursor=cursor)
        seen += [j["name"] for j in items]
        pages += 1
        if cursor is None:
            break
    assert seen == names and pages == 3
    items, cursor = read.list_jobs(limit=25)
    assert len(items) == 25 and cursor is None


def test_db_list_jobs_filters(env) -> None:
    log, read = env
    put_job(log, "a", roles=["db", "web"], labels={"team": "data"})
    put_job(log, "b", roles=["web"], labels={"team": "ops"}, paused=True)
    put_job(log, "c")
    names = lambda items_cursor: [j["name"] for j in items_cursor[0]]  # noqa: E731
    assert names(read.list_jobs(role="web")) == ["a", "b"]
    assert names(read.list_jobs(role="db")) == ["a"]
    assert names(read.list_jobs(label="team")) == ["a", "b"]
    assert names(read.list_jobs(label="team=ops")) == ["b"]
    assert names(read.list_jobs(status="paused")) == ["b"]
    assert names(read.list_jobs(status="scheduled", role="web")) == ["a"]


@pytest.mark.parametrize(
    "kwargs, field",
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "10"}, "limit"),
     ({"cursor": "!!"}, "cursor"), ({"cursor": "WzFd"}, "cursor"), ({"status": "gone"}, "status"),
     ({"label": "=x"}, "label")],
)
def test_db_list_jobs_bad_parameters_name_the_field(env, kwargs: dict, field: str) -> None:
    _, read = env
    with pytest.raises(ValidationError) as info:
        read.list_jobs(**kwargs)
    assert info.value.field == field


def test_db_list_runs_pages_newest_first(env) -> None:
    log, read = env
    put_job(log, "a")
    # Three runs share a fired_at: ties are broken by id, newest first.
    runs = [run_record(f"r{i}", "a", T[1], fired_at=T[1 + i // 3], manual=True) for i in range(9)]
    log("fire", {"runs": runs, "at": T[1]})
    seen, cursor = [], None
    while True:
        items, cursor = read.list_runs(limit=4, cursor=cursor)
        seen += [r["id"] for r in items]
        if cursor is None:
            break
    assert seen == ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    with pytest.raises(ValidationError) as info:
        read.list_runs(cursor="WyJ4Il0")  # a jobs cursor is not a runs cursor
    assert info.value.field == "cursor"


def test_db_list_runs_filters(env) -> None:
    log, read = env
    put_job(log, "a")
    put_job(log, "b")
    log("fire", {"runs": [run_record("a1", "a", T[1]), run_record("a2", "a", T[2]),
                          {**run_record("b1", "b", T[3]), "peer": "p2"}], "at": T[3]})
    log("run_finished", {"run_id": "a1", "status": "failed", "at": T[4]})
    ids = lambda got: [r["id"] for r in got[0]]  # noqa: E731
    assert ids(read.list_runs(job="a")) == ["a2", "a1"]
    assert ids(read.list_runs(status="failed")) == ["a1"]
    assert ids(read.list_runs(status=["failed", "pending"], job="a")) == ["a2", "a1"]
    assert ids(read.list_runs(peer="p2")) == ["b1"]
    assert ids(read.list_runs(since=T[2])) == ["b1", "a2"]
    assert ids(read.list_runs(until=T[2])) == ["a1"]
    assert ids(read.list_runs(since="2024-05-01T13:00:00+01:00", until=T[3])) == ["a2"]
    for kwargs, field in [({"since": "x"}, "since"), ({"until": "2024-05-01"}, "until"),
                          ({"status": "weird"}, "status")]:
        with pytest.raises(ValidationError) as info:
            read.list_runs(**kwargs)
        assert info.value.field == field


def test_db_run_resource_has_the_design_fields(env) -> None:
    log, read = env
    put_job(log, "a")
    log("fire", {"runs": [run_record("a1", "a", "2024-05-01T11:00:00.250Z")], "at": T[1]})
    run = read.get_run("a1")
    assert set(run) == {"id", "job", "slot", "attempt", "peer", "target", "status", "fired_at",
                        "started_at", "finished_at", "exit_code", "stdout_tail", "stderr_tail",
                        "reason", "manual", "retry_of", "cancel_requested", "output_bytes",
                        "triggered_by", "backfill", "slow", "output_truncated"}
    assert run["slot"] == "2024-05-01T11:00:00.250000Z"


def test_db_scheduler_reads(env) -> None:
    log, read = env
    put_job(log, "a", keep_runs=5)
    put_job(log, "b")
    log("fire", {"runs": [run_record("a1", "a", T[1]),
                          {**run_record("a2", "a", T[2]), "peer": "p2"},
                          run_record("s1", "a", T[3], status="skipped")], "at": T[3]})
    log("run_started", {"run_id": "a1", "peer": "p1", "at": T[3]})
    assert [r["id"] for r in read.active_runs()] == ["a1", "a2"]
    # What the scheduler's fire reads instead of every active run.
    assert [r["id"] for r in read.active_runs_of(["a"])] == ["a1", "a2"]
    assert read.active_runs_of(["b"]) == [] and read.active_runs_of([]) == []
    assert sorted(read.active_groups()) == [("p1", "p1", 1), ("p2", "p1", 1)]
    assert read.active_run_jobs() == {"a1": "a", "a2": "a"}    # skipped s1 is not active
    assert [{k: r[k] for k in ("id", "job", "peer", "target", "status", "held")}
            for r in read.active_refs()] == [
        {"id": "a1", "job": "a", "peer": "p1", "target": "p1", "status": "running",
         "held": False},
        {"id": "a2", "job": "a", "peer": "p2", "target": "p1", "status": "pending",
         "held": False}]
    assert [r["id"] for r in read.runs_for_peer("p1", ["running"])] == ["a1"]
    assert read.runs_for_peer("p1", []) == []
    assert read.job_cursors() == {"a": T[3], "b": None}
    jobs = {j["name"]: j for j in read.all_jobs_for_scheduler()}
    assert jobs["a"]["spec"] == {"name": "a", "keep_runs": 5}
    assert (jobs["a"]["cursor"], jobs["a"]["fired_count"], jobs["a"]["status"]) == (T[3], 2,
                                                                                    "scheduled")
    assert jobs["b"]["created_at"] == T[0] and jobs["b"]["expanded"] is None
    assert read.recent_assignments(T[1]) == {"p1": 1, "p2": 1}
    assert read.recent_assignments(T[2]) == {"p2": 1}
    assert read.run_counts("a") == {"running": 1, "pending": 1, "skipped": 1}
    assert read.status_counts() == {"running": 1, "pending": 1, "skipped": 1}
    assert read.last_run("a")["id"] == "s1"


def test_db_runs_to_prune_keeps_each_jobs_newest(env) -> None:
    log, read = env
    put_job(log, "a", keep_runs=2)
    put_job(log, "b")
    runs = [run_record(f"a{i}", "a", T[i]) for i in range(1, 6)] + [run_record("b1", "b", T[1])]
    log("fire", {"runs": runs, "at": T[5]})
    for run_id in ("a1", "a2", "a4", "a5", "b1"):
        log("run_finished", {"run_id": run_id, "status": "succeeded", "at": T[6]})
    # a3 is still pending: never pruned, though beyond keep_runs.
    assert read.runs_to_prune(100, None) == ["a1", "a2"]
    assert read.runs_to_prune(0, None) == ["a1", "b1", "a2"]
    assert read.runs_to_prune(100, T[7]) == ["a1", "b1", "a2", "a4", "a5"]
    assert read.runs_to_prune(100, T[7], limit=2) == ["a1", "b1"]


def test_db_list_nodes_pages_by_name(env) -> None:
    log, read = env
    for name in ("n3", "n1", "n2"):
        log("put_node", {"node": {"name": name, "roles": ["x"]}, "at": T[0]})
    first, cursor = read.list_nodes(limit=2)
    rest, end = read.list_nodes(limit=2, cursor=cursor)
    assert [n["name"] for n in first + rest] == ["n1", "n2", "n3"] and end is None
    assert first[0]["healthy"] is None and first[0]["roles"] == ["x"]


def test_stored_times_memo_is_bounded_and_never_keeps_an_error() -> None:
    from raftcron import durations
    from raftcron.db import times
    from raftcron.errors import ValidationError

    for i in range(times._STORED_KEPT + 100):
        text = f"2024-05-01T10:{i // 3600 % 60:02d}:{i % 60:02d}.{i:06d}+02:00"
        expected = f"2024-05-01T08:{i // 3600 % 60:02d}:{i % 60:02d}.{i:06d}Z"
        assert db_time(text) == expected and db_time(text) == expected  # computed, remembered
        assert durations.parse_time(text) == durations.parse_time(expected)
    assert len(times._STORED) <= times._STORED_KEPT
    assert len(durations._PARSED) <= durations._PARSED_KEPT
    for field in ("at", "next.slot"):  # an error is not remembered: each names its own field
        with pytest.raises(ValidationError) as caught:
            db_time("2024-05-01T10:00:00", field=field)  # no offset
        assert caught.value.field == field
