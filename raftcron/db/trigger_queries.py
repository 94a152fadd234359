"""Reads for dependencies, backfills and pause on failure (`scheduler.triggers`, the API).

Only the jobs that list `after` are read when a run ends (the partial index
`jobs_with_after`; `dependents` repeats its condition so SQLite uses it), never every job.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from raftcron.db.queries import job_dict
from raftcron.db.schema import AFTER_CONDITION, TRIGGER_WATCH_CONDITION
from raftcron.db.times import api_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

#: Statuses of a run that did not run: they are not a job's "last run" for `after`.
NOT_RUN = ("skipped", "missed")


def dependents(db: Database, job: str) -> list[dict]:
    """The jobs whose `after` lists `job`, by name."""
    sql = (f"SELECT * FROM jobs INDEXED BY jobs_with_after WHERE {AFTER_CONDITION} AND "
           "EXISTS (SELECT 1 FROM json_each(jobs.spec, '$.after') WHERE value = ?) ORDER BY name")
    return [job_dict(r) for r in db.query(sql, [job])]


def graph_jobs(db: Database) -> dict[str, tuple[list[str], list[str]]]:
    """Every job name -> its (after, on_failure): the dependency graph checked on a write."""
    sql = ("SELECT name, json_extract(spec, '$.after') AS a,"
           " json_extract(spec, '$.on_failure') AS f FROM jobs")
    return {r["name"]: (json.loads(r["a"] or "[]"), json.loads(r["f"] or "[]"))
            for r in db.query(sql)}


def last_fired(db: Database, job: str) -> str | None:
    """When `job` last ran (its newest record that is not skipped or missed); API form."""
    row = db.execute("SELECT max(fired_at) FROM runs WHERE job = ? AND status NOT IN (?, ?)",
                     [job, *NOT_RUN]).fetchone()
    return api_time(row[0]) if row and row[0] else None


def latest_success(db: Database, job: str) -> dict[str, Any] | None:
    """The newest succeeded run of `job` by `finished_at`: `{id, finished_at}`, or None."""
    row = db.execute("SELECT id, finished_at FROM runs WHERE job = ? AND status = 'succeeded'"
                     " ORDER BY finished_at DESC, id DESC LIMIT 1", [job]).fetchone()
    return None if row is None else {"id": row[0], "finished_at": api_time(row[1])}


def triggered_runs(db: Database, job: str, parent: str) -> int:
    return db.execute("SELECT count(*) FROM runs WHERE job = ? AND triggered_by = ?",
                      [job, parent]).fetchone()[0]


def backfills(db: Database, *, job: str | None = None, open_only: bool = False) -> list[dict]:
    """Backfills (of `job`, or all; only those with slots left when `open_only`), oldest
    first: `{id, job, slots, done, total, created_at, updated_at}` (times in API form)."""
    where, params = [], []
    if job is not None:
        where.append("job = ?")
        params.append(job)
    if open_only:
        where.append("done < total")
    sql = "SELECT * FROM backfills" + (" WHERE " + " AND ".join(where) if where else "")
    out = []
    for r in db.query(sql + " ORDER BY created_at, id", params):
        out.append({**r, "slots": [api_time(s) for s in json.loads(r["slots"])],
                    "created_at": api_time(r["created_at"]),
                    "updated_at": api_time(r["updated_at"])})
    return out


def trigger_index(db: Database) -> list[dict[str, Any]]:
    """The jobs the leader's triggers pass watches: with `after`, `on_failure`,
    `pause_after_failures` or `expected_duration` (read when leadership starts, through the
    partial index `jobs_trigger_watch`: its condition repeated exactly, so SQLite uses it)."""
    sql = ("SELECT name, json_extract(spec, '$.after') AS after,"
           " json_extract(spec, '$.on_failure') AS on_failure,"
           " json_extract(spec, '$.pause_after_failures') AS pause_after_failures,"
           " json_extract(spec, '$.expected_duration') AS expected_duration FROM jobs"
           f" WHERE {TRIGGER_WATCH_CONDITION}")
    return [{**r, "after": json.loads(r["after"] or "[]"),
             "on_failure": json.loads(r["on_failure"] or "[]")} for r in db.query(sql)]
