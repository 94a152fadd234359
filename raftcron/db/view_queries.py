"""The reads behind the API's job views, one statement each: a job with its newest run and
its run counts (`GET /jobs/{name}`), and the newest run of each job of a page (`GET /jobs`).

They run on the event loop (`ReadDb.quick`); `Defer` sends one to a reader thread when it
finds more work than that should take.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from raftcron import codec
from raftcron.db.queries import NEWEST_FIRST, RUN_NAMES, fetch_rows, job_dict, run_dict

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database


class Defer(Exception):
    """A read found more work than it should do on the event loop: `ReadDb.quick` runs it
    on a reader thread instead."""


#: One job with its newest run (columns `run_<name>`) and its run counts (`run_counts`, a
#: JSON object by status): one statement, so a `GET /jobs/{name}` is one read, not three.
#: With `:max` not NULL, the counts are not read (NULL) for a job keeping more runs than it.
_JOB_VIEW_SQL = (
    "SELECT jobs.*, CASE WHEN :max IS NOT NULL AND"
    " coalesce(json_extract(jobs.spec, '$.keep_runs'), 0) > :max THEN NULL ELSE"
    " (SELECT json_group_object(status, n) FROM (SELECT status, count(*) AS n"
    " FROM runs WHERE job = jobs.name GROUP BY status ORDER BY status)) END AS run_counts, "
    + ", ".join(f"r.{c} AS run_{c}" for c in RUN_NAMES)
    + f" FROM jobs LEFT JOIN runs AS r ON r.id = (SELECT id FROM runs WHERE job = jobs.name"
    f" {NEWEST_FIRST} LIMIT 1) WHERE jobs.name = :name"
)


def load_job(db: Database, name: str, *, max_runs: int | None = None) -> dict | None:
    """`get_job` plus `last_run` and `counts` (what `GET /jobs/{name}` shows), or None.

    With `max_runs`: `Defer` when the job keeps more runs than that (`keep_runs`): the
    count reads every run of the job, which is then better done off the event loop."""
    cur = db.conn.execute(_JOB_VIEW_SQL, {"name": name, "max": max_runs})
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description]
    split = names.index("run_counts")  # jobs.* | run_counts | run_<column>...
    counts = row[split]
    if counts is None:  # not counted: the job keeps more runs than `max_runs`
        raise Defer(name)
    job = job_dict(dict(zip(names[:split], row[:split], strict=True)))
    run = row[split + 1:]
    job["last_run"] = None if run[0] is None else run_dict(
        dict(zip(RUN_NAMES, run, strict=True)))
    job["counts"] = codec.decode(counts)
    return job


def last_runs(db: Database, names: list[str] | tuple[str, ...]) -> dict[str, dict | None]:
    """Each of `names` -> its newest run by (fired_at, id), None when it has none: one
    statement, one index probe per job."""
    out: dict[str, dict | None] = dict.fromkeys(names)
    if not names:
        return out
    columns = ", ".join(f"runs.{c}" for c in RUN_NAMES)  # json_each has an `id` too
    sql = (f"SELECT {columns} FROM json_each(:names) AS j JOIN runs ON runs.id = "
           f"(SELECT id FROM runs WHERE job = j.value {NEWEST_FIRST} LIMIT 1)")
    for row in fetch_rows(db, sql, {"names": json.dumps(list(names))}):
        out[row["job"]] = run_dict(row)
    return out
