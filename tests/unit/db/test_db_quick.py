"""`ReadDb.quick` (reads on the calling thread, the pool as the fallback) and the one-statement
job view reads behind `GET /jobs/{name}` and `GET /jobs` (`load_job`, `last_runs`)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from raftcron.db.reader import QUICK_MAX_RUNS
from tests.support.records import run_record
from tests.support.state import Log, open_state

T = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        yield log, read


def put_job(log: Log, name: str, **extra: Any) -> None:
    log("put_job", {"job": {"name": name, **extra}, "at": T[0]})


def _history(log: Log) -> None:
    put_job(log, "a", keep_runs=5, env={"K": "v"})
    put_job(log, "b")
    put_job(log, "c")
    log("fire", {"runs": [run_record("a1", "a", T[1]), run_record("a2", "a", T[2]),
                          run_record("s1", "a", T[3], status="skipped"),
                          run_record("b1", "b", T[1])], "at": T[3]})
    log("run_started", {"run_id": "a1", "peer": "p1", "at": T[3]})
    log("run_finished", {"run_id": "b1", "status": "succeeded", "at": T[4]})


def test_load_job_is_the_job_its_newest_run_and_its_counts(env) -> None:
    log, read = env
    _history(log)
    for name in ("a", "b", "c"):
        job = read.load_job(name)
        assert job == {**read.get_job(name), "last_run": read.last_run(name),
                       "counts": read.run_counts(name)}
    assert read.load_job("a")["last_run"]["id"] == "s1"
    assert read.load_job("a")["counts"] == {"pending": 1, "running": 1, "skipped": 1}
    assert read.load_job("c")["last_run"] is None and read.load_job("c")["counts"] == {}
    assert read.load_job("nope") is None


def test_last_runs_reads_each_jobs_newest_run_at_once(env) -> None:
    log, read = env
    _history(log)
    names = ["a", "b", "c", "nope"]
    assert read.last_runs(names) == {n: read.last_run(n) for n in names}
    assert read.last_runs([]) == {}


async def test_quick_reads_on_the_calling_thread(env) -> None:
    log, read = env
    _history(log)
    seen: list[int] = []

    def job(name: str) -> dict | None:
        seen.append(threading.get_ident())
        return read.load_job(name)

    assert (await read.quick(job, "a"))["counts"]["running"] == 1
    assert seen == [threading.get_ident()]


async def test_quick_defers_a_long_history_to_a_reader_thread(env) -> None:
    log, read = env
    put_job(log, "big", keep_runs=QUICK_MAX_RUNS + 1)
    log("fire", {"runs": [run_record("r1", "big", T[1])], "at": T[1]})
    seen: list[int] = []

    def job() -> dict | None:
        seen.append(threading.get_ident())
        return read.load_job("big")

    loaded = await read.quick(job)
    assert loaded["counts"] == {"pending": 1} and loaded["last_run"]["id"] == "r1"
    assert seen[0] == threading.get_ident() and seen[1] != threading.get_ident()


async def test_quick_goes_to_a_thread_when_sqlite_is_busy(env) -> None:
    log, read = env
    put_job(log, "a")
    loop_thread = threading.get_ident()

    def job() -> dict | None:
        if threading.get_ident() == loop_thread:
            raise sqlite3.OperationalError("database is locked")
        return read.get_job("a")

    assert (await read.quick(job))["name"] == "a"


async def test_quick_raises_other_errors_as_they_are(env) -> None:
    _, read = env

    def broken() -> None:
        raise sqlite3.OperationalError("no such table: nope")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await read.quick(broken)


def test_quick_connection_never_waits_for_a_lock(env) -> None:
    log, read = env
    put_job(log, "a")

    async def busy_timeout() -> int:
        return await read.quick(lambda: read._db().conn.execute("PRAGMA busy_timeout")
                                .fetchone()[0])

    assert asyncio.run(busy_timeout()) == 0
    assert read._db().conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
