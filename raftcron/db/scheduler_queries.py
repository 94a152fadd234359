"""The leader's reads of the job table: rows shaped for the scheduler, and its due window.

Each function takes a `Database` around a read-only connection, like `queries`. The window
(`due_jobs`) is served by the (status, next_fire_at) index: its cost is the page, never the
table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from raftcron.db.schema import NOTIFY_OWN_CONDITION
from raftcron.db.times import api_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

__all__ = ["all_jobs_for_scheduler", "due_jobs", "jobs_for_scheduler", "notify_jobs"]


_SCHEDULER_COLUMNS = ("name, spec, expanded, status, cursor, fired_count, created_at, "
                      "updated_at, version, next_slot, next_fire_at")


def _scheduler_rows(rows: Iterable[dict]) -> list[dict]:
    out = []
    for r in rows:
        r["spec"] = json.loads(r["spec"])
        for name in ("cursor", "created_at", "updated_at", "next_slot", "next_fire_at"):
            r[name] = api_time(r[name])
        out.append(r)
    return out


def all_jobs_for_scheduler(db: Database) -> list[dict]:
    """Every job: name, spec (dict), expanded, status, cursor, fired_count, created_at, ..."""
    return _scheduler_rows(db.query(f"SELECT {_SCHEDULER_COLUMNS} FROM jobs ORDER BY name"))


def jobs_for_scheduler(db: Database, names: list[str]) -> list[dict]:
    """The named jobs (those that exist), shaped as `all_jobs_for_scheduler`."""
    out: list[dict] = []
    for i in range(0, len(names), 500):
        chunk = names[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        out += _scheduler_rows(db.query(
            f"SELECT {_SCHEDULER_COLUMNS} FROM jobs WHERE name IN ({marks}) ORDER BY name", chunk))
    return out


def due_jobs(db: Database, until: str, after: tuple[str, str] | None, limit: int) -> list[dict]:
    """One page of the leader's window: scheduled jobs whose `next_fire_at` (db time) is NULL
    (not known: due now) or at most `until`, in (next_fire_at, name) order, NULLs first,
    strictly after the key `after` (the last row of the previous page; `("", name)` for a
    NULL one). Rows shaped as `all_jobs_for_scheduler`. Served by the (status, next_fire_at)
    index: the cost is the page, never the table."""
    where = "status = 'scheduled' AND (next_fire_at IS NULL OR next_fire_at <= :until)"
    params: dict[str, Any] = {"until": until, "n": limit}
    if after is not None:
        where += (" AND (ifnull(next_fire_at, '') > :at OR"
                  " (ifnull(next_fire_at, '') = :at AND name > :name))")
        params.update(at=after[0], name=after[1])
    sql = (f"SELECT {_SCHEDULER_COLUMNS} FROM jobs INDEXED BY jobs_status_next_fire_at"
           f" WHERE {where} ORDER BY ifnull(next_fire_at, ''), name LIMIT :n")
    return _scheduler_rows(db.query(sql, params))


def notify_jobs(db: Database) -> list[dict]:
    """`{"name", "notify"}` of every job whose spec lists events in `notify.on` and names a
    webhook or an email itself: what a notifier without a cluster target of its own needs
    (`notify/audience.py`; with one, every job counts and nothing is read).

    Read through the partial index `jobs_notify_own` (its condition,
    `schema.NOTIFY_OWN_CONDITION`, repeated exactly so SQLite uses it): a million jobs with
    nobody to tell cost nothing."""
    rows = db.query("SELECT name, json_extract(spec, '$.notify') AS notify FROM jobs"
                    f" WHERE {NOTIFY_OWN_CONDITION} ORDER BY name")
    return [{"name": r["name"], "notify": json.loads(r["notify"]) if r["notify"] else None}
            for r in rows]
