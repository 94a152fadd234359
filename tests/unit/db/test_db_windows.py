"""The reads that never walk every job: the leader's window (`due_jobs`, through the
(status, next_fire_at) index, in pages) and the dead man's switch (`absent_watched_jobs`,
through a partial index of the jobs watched for `absent`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.state import open_state

T0 = "2024-05-01T10:00:00Z"


def put(name: str, minute: int | None = None, **spec: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"job": {"name": name, "schedule": "0 * * * *", **spec},
                            "expanded": "0 * * * *", "at": T0}
    if minute is not None:
        at = f"2024-05-01T11:{minute:02d}:00Z"
        args["next"] = {"slot": at, "fire_at": at}
    return args


def db(t: str) -> str:
    return t.replace("Z", ".000000Z")


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        yield log, read


def test_db_due_jobs_pages_unknown_first_then_by_time_up_to_until(env) -> None:
    log, read = env
    for i, minute in enumerate([30, 5, None, 50, 5, None]):
        assert log("put_job", put(f"j{i}", minute))["ok"]
    log("put_job", put("paused", 1, paused=True))
    until = db("2024-05-01T11:40:00Z")
    seen, after = [], None
    while True:
        page = read.due_jobs(until, after, 2)
        seen += [r["name"] for r in page]
        if len(page) < 2:
            break
        last = page[-1]
        after = (db(last["next_fire_at"]) if last["next_fire_at"] else "", last["name"])
    assert seen == ["j2", "j5", "j1", "j4", "j0"]  # NULLs, 11:05 x2, 11:30; not 11:50, paused


def test_db_window_reads_use_their_indexes(env) -> None:
    _, read = env
    conn = read._db().conn
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT name FROM jobs INDEXED BY jobs_status_next_fire_at "
        "WHERE status = 'scheduled' AND next_fire_at <= '9'").fetchall()
    assert "jobs_status_next_fire_at" in str(plan)
    read.absent_watched_jobs(limit=5)  # INDEXED BY: SQLite refuses it if unusable


def test_db_absent_watched_jobs_are_only_those_that_ask(env) -> None:
    log, read = env
    for i in range(20):
        log("put_job", put(f"plain{i:02d}"))
    for name in ("w1", "w2", "w3"):
        log("put_job", put(name, notify={"on": ["absent", "failure"]}))
    log("put_job", put("other", notify={"on": ["failure"]}))
    log("put_job", put("w0", notify={"on": ["absent"]}, paused=True))
    page, after = read.absent_watched_jobs(limit=2)
    assert [j["name"] for j in page] == ["w1", "w2"] and after == "w2"
    page, after = read.absent_watched_jobs(limit=2, after=after)
    assert [j["name"] for j in page] == ["w3"] and after is None


def test_db_runs_to_prune_in_a_job_range_sees_only_those_jobs(env) -> None:
    log, read = env
    for name in ("a", "b", "c"):
        log("put_job", put(name))
        runs = [{"run_id": f"{name}{h}", "job": name, "slot": f"2024-05-01T1{h}:00:00Z",
                 "status": "skipped", "fired_at": f"2024-05-01T1{h}:00:00Z"} for h in range(3)]
        assert log("fire", {"runs": runs, "at": T0})["ok"]
    assert read.job_names("", 2) == ["a", "b"] and read.job_names("b", 2) == ["c"]
    assert sorted(read.runs_to_prune(1, None, job_range=("a", "b"))) == ["b0", "b1"]
    assert len(read.runs_to_prune(1, None)) == 6


def _plans(read: Any, call: Any) -> list[str]:
    """The query plan of each SELECT on jobs that `call()` runs through `read`."""
    conn = read._db().conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [str(conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
            for sql in seen if sql.lstrip().upper().startswith("SELECT") and "jobs" in sql]


def test_db_leadership_start_reads_use_partial_indexes_not_a_scan(env) -> None:
    # A new leader reads these whole; at 1,000,000 jobs a scan of every spec took seconds.
    log, read = env
    for i in range(5):
        log("put_job", put(f"plain{i}"))
    log("put_job", put("told", notify={"on": ["failure"], "webhook": "http://h/x"}))
    log("put_job", put("child", after=["plain0"]))
    log("put_job", put("slow", expected_duration="1m"))
    assert [j["name"] for j in read.notify_jobs()] == ["told"]
    assert sorted(j["name"] for j in read.trigger_index()) == ["child", "slow"]
    log("put_job", put("mailed", notify={"on": ["success"], "email": ["a@b.c"]}))
    log("put_job", put("quiet", notify={"on": [], "webhook": "http://h/x"}))
    assert [j["name"] for j in read.notify_jobs()] == ["mailed", "told"]
    for call, index in ((lambda: read.notify_jobs(), "jobs_notify_own"),
                        (read.trigger_index, "jobs_trigger_watch")):
        plans = _plans(read, call)
        assert plans and all(f"USING INDEX {index}" in p for p in plans), plans


def test_db_a_copy_without_the_watch_indexes_gets_them_on_open(tmp_path: Path) -> None:
    from raftcron.db.sqlite import open_writer
    conn = open_writer(tmp_path / "state.db")
    conn.execute("DROP INDEX jobs_notify_own")
    conn.execute("DROP INDEX jobs_trigger_watch")
    conn.close()
    conn = open_writer(tmp_path / "state.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert {"jobs_notify_own", "jobs_trigger_watch"} <= names
