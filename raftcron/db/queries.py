"""Every SQL read of the copy, returning API-shaped dicts (docs/api.md names).

Each function takes a `Database` around a read-only connection (see
`db.ReadDb`) and runs short, index-backed queries. Lists are paginated by an opaque cursor
(`paging`: URL-safe base64 of the last row's sort key): jobs and nodes by name, runs newest
first by `(fired_at, id)`. Bad parameters raise `ValidationError` naming the parameter.

Rows are read with the connection's own cursor (`fetch_rows`), not sqlite-utils' `query`: the
API answers thousands of reads a second, and the per-row work is most of a lookup's cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from raftcron import codec
from raftcron.db.paging import _limit, _page, _statuses, decode_cursor
from raftcron.db.schema import ABSENT_CONDITION
from raftcron.db.times import api_time, db_time
from raftcron.errors import ValidationError
from raftcron.model import ACTIVE_STATUSES, JOB_STATUSES, RUN_STATUSES

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database


_RUN_COLUMNS = (
    "id, job, slot, attempt, peer, target, status, fired_at, started_at, finished_at, "
    "exit_code, stdout_tail, stderr_tail, reason, manual, retry_of, cancel_requested, "
    "output_bytes, triggered_by, backfill, slow, output_truncated"
)
RUN_NAMES = tuple(c.strip() for c in _RUN_COLUMNS.split(","))
NEWEST_FIRST = "ORDER BY fired_at DESC, id DESC"
#: Values bound per `IN (...)` (SQLite's default limit is 32,766 variables; small is quick).
IN_CHUNK = 500
#: `status IN ACTIVE_SQL`: the active statuses as an SQL list (also used by `state.runs`).
ACTIVE_SQL = "(" + ", ".join(f"'{status}'" for status in sorted(ACTIVE_STATUSES)) + ")"
#: Runs never pruned: the active ones and the `waiting` ones (not started yet, v4).
UNFINISHED_SQL = ACTIVE_SQL[:-1] + ", 'waiting')"


def fetch_rows(db: Database, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Every row of `sql` as a dict keyed by column name (names are unique in our queries)."""
    cur = db.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- row shapes -----------------------------------------------------------------------------


def job_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A jobs row -> the canonical spec plus the server's read-only fields."""
    out = codec.decode(row["spec"])
    out.update(
        status=row["status"],
        version=row["version"],
        created_at=api_time(row["created_at"]),
        updated_at=api_time(row["updated_at"]),
        expanded_schedule=row["expanded"],
        cursor=api_time(row["cursor"]),
        managed_by=row.get("managed_by"),
        next_slot=api_time(row.get("next_slot")),
        next_fire_at=api_time(row.get("next_fire_at")),
        pause_reason=row.get("pause_reason"),
    )
    return out


def run_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A runs row -> the run resource."""
    out = dict(row)
    for name in ("slot", "fired_at", "started_at", "finished_at"):
        out[name] = api_time(row[name])
    out["backfill"] = bool(row.get("backfill"))
    out["slow"] = bool(row.get("slow"))
    out["output_truncated"] = bool(row.get("output_truncated"))
    # Stored as manual (outside the schedule's fence); shown as what started them.
    out["manual"] = bool(row["manual"]) and not out["backfill"] and not row.get("triggered_by")
    out["cancel_requested"] = bool(row["cancel_requested"])
    return out


def node_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A nodes row -> the canonical node dict plus health."""
    out = json.loads(row["spec"])
    out.update(
        healthy=None if row["healthy"] is None else bool(row["healthy"]),
        health_reason=row["health_reason"],
        health_at=api_time(row["health_at"]),
        created_at=api_time(row["created_at"]),
        updated_at=api_time(row["updated_at"]),
    )
    return out


# --- filters ------------------------------------------------------------------------------


def _in(column: str, values: list[str], params: dict[str, Any], prefix: str) -> str:
    names = []
    for i, v in enumerate(values):
        params[f"{prefix}{i}"] = v
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"


# --- jobs -----------------------------------------------------------------------------------


def get_job(db: Database, name: str) -> dict | None:
    rows = fetch_rows(db, "SELECT * FROM jobs WHERE name = ?", [name])
    return job_dict(rows[0]) if rows else None


def list_jobs(db: Database, *, status: str | None = None, role: str | None = None,
              label: str | None = None, limit: int | None = None,
              cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Jobs by name. `label` is `key=value` (that value) or `key` (present)."""
    n = _limit(limit)
    where, params = [], {"n": n + 1}
    statuses = _statuses(status, JOB_STATUSES)
    if statuses:
        where.append(_in("status", statuses, params, "s"))
    if role is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(jobs.spec, '$.roles') WHERE value = :role)")
        params["role"] = role
    if label is not None:
        key, sep, value = label.partition("=")
        if not key:
            raise ValidationError("label: expected key=value or key", field="label")
        cond = "key = :lkey" + (" AND value = :lvalue" if sep else "")
        where.append(f"EXISTS (SELECT 1 FROM json_each(jobs.spec, '$.labels') WHERE {cond})")
        params.update(lkey=key, lvalue=value)
    if cursor is not None:
        where.append("name > :after")
        params["after"] = decode_cursor(cursor, 1)[0]
    sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
    rows = fetch_rows(db, sql + " ORDER BY name LIMIT :n", params)
    return _page(rows, n, lambda r: [r["name"]], job_dict)


def absent_watched_jobs(db: Database, *, limit: int, after: str | None = None
                        ) -> tuple[list[dict], str | None]:
    """Scheduled jobs whose `notify.on` lists `absent`, by name, through the partial index
    `jobs_watch_absent`: the cost is the jobs watched, never every job. `(page, last name)`,
    the name None on the last page."""
    params: dict[str, Any] = {"after": after or "", "n": limit + 1}
    sql = (f"SELECT * FROM jobs INDEXED BY jobs_watch_absent WHERE {ABSENT_CONDITION}"
           " AND status = 'scheduled' AND name > :after ORDER BY name LIMIT :n")
    rows = fetch_rows(db, sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    return [job_dict(r) for r in rows], (rows[-1]["name"] if more and rows else None)


def job_cursors(db: Database) -> dict[str, str | None]:
    """name -> the last slot fired (the fence), or None before the first."""
    rows = fetch_rows(db, "SELECT name, cursor FROM jobs")
    return {r["name"]: api_time(r["cursor"]) for r in rows}


def managed_jobs(db: Database) -> dict[str, str]:
    """Job name -> `managed_by`, for every job a file in `--jobs-dir` defines."""
    return {r["name"]: r["managed_by"] for r in
            fetch_rows(db, "SELECT name, managed_by FROM jobs WHERE managed_by IS NOT NULL")}


# --- runs -----------------------------------------------------------------------------------


def get_run(db: Database, run_id: str) -> dict | None:
    rows = fetch_rows(db, f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id])
    return run_dict(rows[0]) if rows else None


def list_runs(db: Database, *, job: str | None = None,
              status: str | Iterable[str] | None = None, peer: str | None = None,
              since: str | None = None, until: str | None = None, limit: int | None = None,
              cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Runs newest first by (fired_at, id); `since` inclusive, `until` exclusive (fired_at)."""
    n = _limit(limit)
    where, params = [], {"n": n + 1}
    if job is not None:
        where.append("job = :job")
        params["job"] = job
    statuses = _statuses(status, RUN_STATUSES)
    if statuses:
        where.append(_in("status", statuses, params, "s"))
    if peer is not None:
        where.append("peer = :peer")
        params["peer"] = peer
    if since is not None:
        where.append("fired_at >= :since")
        params["since"] = db_time(since, field="since")
    if until is not None:
        where.append("fired_at < :until")
        params["until"] = db_time(until, field="until")
    if cursor is not None:
        where.append("(fired_at, id) < (:cf, :ci)")
        params["cf"], params["ci"] = decode_cursor(cursor, 2)
    sql = f"SELECT {_RUN_COLUMNS} FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    rows = fetch_rows(db, f"{sql} {NEWEST_FIRST} LIMIT :n", params)
    return _page(rows, n, lambda r: [r["fired_at"], r["id"]], run_dict)


def active_runs(db: Database) -> list[dict]:
    """Every pending or running run, oldest fired first."""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE status IN {ACTIVE_SQL} ORDER BY fired_at, id"
    return [run_dict(r) for r in fetch_rows(db, sql)]


def runs_for_peer(db: Database, peer: str, statuses: Iterable[str]) -> list[dict]:
    """Runs assigned to `peer` with one of `statuses`, oldest fired first, each with `held`
    (the worker's view: not an API resource)."""
    params: dict[str, Any] = {"peer": peer}
    wanted = _statuses(list(statuses), RUN_STATUSES) or []
    if not wanted:
        return []
    cond = _in("status", wanted, params, "s")
    # `held` too: the worker confirms a held run before it starts it (`worker.admission`).
    sql = (f"SELECT {_RUN_COLUMNS}, held FROM runs WHERE peer = :peer AND {cond}"
           " ORDER BY fired_at, id")
    return [{**run_dict(r), "held": bool(r["held"])} for r in fetch_rows(db, sql, params)]


def active_runs_of(db: Database, jobs: Sequence[str]) -> list[dict]:
    """Every pending or running run of `jobs`, each job's oldest fired first."""
    out: list[dict] = []
    for at in range(0, len(jobs), IN_CHUNK):
        params: dict[str, Any] = {}
        cond = _in("job", list(jobs[at:at + IN_CHUNK]), params, "j")
        sql = (f"SELECT {_RUN_COLUMNS} FROM runs WHERE status IN {ACTIVE_SQL} AND {cond} "
               "ORDER BY fired_at, id")
        out += [run_dict(r) for r in fetch_rows(db, sql, params)]
    return out


def active_refs(db: Database) -> list[dict]:
    """`id`, `job`, `peer`, `target`, `status`, `fired_at` (stored form) and `held` of every
    pending or running run, oldest fired first: what the leader's recovery pass needs of
    them, without decoding whole runs (under overload thousands are active, and the pass
    runs every second)."""
    sql = (f"SELECT id, job, peer, target, status, fired_at, held FROM runs"
           f" WHERE status IN {ACTIVE_SQL} ORDER BY fired_at, id")
    return [{"id": r[0], "job": r[1], "peer": r[2], "target": r[3], "status": r[4],
             "fired_at": r[5], "held": bool(r[6])} for r in db.conn.execute(sql)]


def active_run_jobs(db: Database) -> dict[str, str]:
    """Run id -> job of every pending or running run: what the notifier tracks, read on the
    loop when leadership starts (under overload thousands are active: two columns from the
    status index, no run decoded)."""
    sql = f"SELECT id, job FROM runs WHERE status IN {ACTIVE_SQL}"
    return {str(r[0]): str(r[1]) for r in db.conn.execute(sql)}


def active_groups(db: Database) -> list[tuple[str | None, str | None, int]]:
    """(peer, target, how many) of the pending and running runs: counted, not read (under
    overload thousands are active; `planning.placement.counted_loads` takes these)."""
    sql = f"SELECT peer, target, count(*) FROM runs WHERE status IN {ACTIVE_SQL} GROUP BY 1, 2"
    return [(r[0], r[1], int(r[2])) for r in db.conn.execute(sql)]


def active_run_count(db: Database, peer: str) -> int:
    """How many pending or running runs are assigned to `peer` (counted, not read)."""
    row = db.conn.execute(f"SELECT count(*) FROM runs WHERE peer = ? AND status IN {ACTIVE_SQL}",
                     [peer]).fetchone()
    return int(row[0]) if row else 0


def recent_assignments(db: Database, since: str) -> dict[str, int]:
    """peer -> runs fired to it (skipped and missed records excluded) at or after `since`."""
    sql = ("SELECT peer, count(*) AS n FROM runs WHERE fired_at >= ? "
           "AND status NOT IN ('skipped', 'missed') GROUP BY peer")
    return {r["peer"]: r["n"] for r in fetch_rows(db, sql, [db_time(since, field="since")])}


def run_counts(db: Database, job: str) -> dict[str, int]:
    """status -> number of runs of `job` (statuses with none are absent)."""
    sql = "SELECT status, count(*) AS n FROM runs WHERE job = ? GROUP BY status"
    return {r["status"]: r["n"] for r in fetch_rows(db, sql, [job])}


def status_counts(db: Database) -> dict[str, int]:
    """status -> number of runs, over every job (for /metrics)."""
    return {r["status"]: r["n"]
            for r in fetch_rows(db, "SELECT status, count(*) AS n FROM runs GROUP BY status")}


def last_run(db: Database, job: str) -> dict | None:
    """The newest run of `job` by (fired_at, id), whatever its status."""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? {NEWEST_FIRST} LIMIT 1"
    rows = fetch_rows(db, sql, [job])
    return run_dict(rows[0]) if rows else None


def runs_to_prune(db: Database, keep_per_job_default: int,
                  max_age_before: str | None, *, limit: int = 10000,
                  job_range: tuple[str, str] | None = None) -> list[str]:
    """Terminal runs to delete, oldest first: beyond each job's newest `keep_runs` runs
    (`keep_per_job_default` when the job sets none), or finished before `max_age_before`.
    With `job_range` (after, last): only the runs of jobs named in (after, last], so one
    retention pass costs the runs of those jobs, not of every job.

    Active runs are never listed, and count toward `keep_runs` like any other.
    """
    before = db_time(max_age_before, field="max_age_before") if max_age_before else None
    within = "WHERE r.job > :after AND r.job <= :last" if job_range else ""
    sql = f"""
        WITH ranked AS (
            SELECT r.id, r.status, r.fired_at, coalesce(r.finished_at, r.fired_at) AS ended,
                   row_number() OVER (PARTITION BY r.job {NEWEST_FIRST}) AS rn,
                   coalesce(json_extract(j.spec, '$.keep_runs'), :keep) AS keep
            FROM runs r LEFT JOIN jobs j ON j.name = r.job {within}
        )
        SELECT id FROM ranked
        WHERE status NOT IN {UNFINISHED_SQL}
          AND (rn > keep OR (:before IS NOT NULL AND ended < :before))
        ORDER BY fired_at, id LIMIT :limit
    """
    params = {"keep": keep_per_job_default, "before": before, "limit": limit}
    if job_range:
        params.update(after=job_range[0], last=job_range[1])
    return [r["id"] for r in fetch_rows(db, sql, params)]


def job_names(db: Database, after: str, limit: int) -> list[str]:
    """Up to `limit` job names after `after`, in order (the primary key: a range read)."""
    return [r["name"] for r in fetch_rows(db,
        "SELECT name FROM jobs WHERE name > ? ORDER BY name LIMIT ?", [after, limit])]


# --- peers ----------------------------------------------------------------------------------


def peer_apis(db: Database) -> dict[str, str]:
    """Peer id -> the API base URL that peer announced (put_peer); peers that never did are
    absent."""
    return {r["id"]: r["api"] for r in fetch_rows(db, "SELECT id, api FROM peers ORDER BY id")}


def get_peer(db: Database, peer: str) -> dict | None:
    rows = fetch_rows(db, "SELECT id, api, version, updated_at FROM peers WHERE id = ?", [peer])
    if not rows:
        return None
    return {**rows[0], "updated_at": api_time(rows[0]["updated_at"])}


# --- nodes ----------------------------------------------------------------------------------


def get_node(db: Database, name: str) -> dict | None:
    rows = fetch_rows(db, "SELECT * FROM nodes WHERE name = ?", [name])
    return node_dict(rows[0]) if rows else None


def list_nodes(db: Database, *, limit: int | None = None,
               cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Nodes by name."""
    n = _limit(limit)
    params: dict[str, Any] = {"n": n + 1}
    where = ""
    if cursor is not None:
        where = " WHERE name > :after"
        params["after"] = decode_cursor(cursor, 1)[0]
    rows = fetch_rows(db, f"SELECT * FROM nodes{where} ORDER BY name LIMIT :n", params)
    return _page(rows, n, lambda r: [r["name"]], node_dict)

