"""The SQL reads behind /metrics' state gauges: grouped counts over indexed columns.

One call, `metric_counts`, so a scrape costs one trip to a read thread. What each query
touches, for a copy with many runs:

- runs by status: `GROUP BY status` walks the `runs(status)` index, not the table;
- runs in flight by peer: the `pending`/`running` range of `runs(status)`;
- `missed`/`skipped` by reason class: only those rows (`runs(status)`), classed in SQL;
- each job's last success: per job, the newest runs by `runs(job, fired_at, id)` until a
  `succeeded` one (a few rows per job, never the whole history);
- SSH node health: the `nodes` table (one row per node).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from raftcron.durations import parse_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database



def metric_counts(db: Database, reason_classes: Sequence[tuple[str, str]],
                  other: str) -> dict[str, Any]:
    """`by_status` {status: n}, `in_flight` {peer: n}, `not_run` {(status, class): n},
    `last_success` {job: seconds since the epoch}, `node_health` {ssh node: bool}.

    `reason_classes` is `(label, substring)` in order of precedence; a reason matching none is
    `other`.
    """
    by_status = {r["status"]: r["n"] for r in
                 db.query("SELECT status, count(*) AS n FROM runs GROUP BY status")}
    in_flight = {r["peer"]: r["n"] for r in db.query(
        "SELECT peer, count(*) AS n FROM runs WHERE status IN ('pending', 'running') "
        "GROUP BY peer")}
    # instr() on lower(): a plain substring test (LIKE would read `_` as a wildcard).
    cases = " ".join("WHEN instr(lower(coalesce(reason, '')), ?) > 0 THEN ?"
                     for _ in reason_classes)
    params: list[Any] = [v for label, needle in reason_classes for v in (needle.lower(), label)]
    sql = (f"SELECT status, CASE {cases} ELSE ? END AS cls, count(*) AS n FROM runs "
           "WHERE status IN ('missed', 'skipped') GROUP BY status, cls")
    not_run = {(r["status"], r["cls"]): r["n"] for r in db.query(sql, [*params, other])}
    last_success: dict[str, float] = {}
    for r in db.query(
            "SELECT j.name AS job, (SELECT r.finished_at FROM runs r WHERE r.job = j.name "
            "AND r.status = 'succeeded' ORDER BY r.fired_at DESC, r.id DESC LIMIT 1) AS at "
            "FROM jobs j"):
        if r["at"] is not None:
            last_success[r["job"]] = parse_time(r["at"]).timestamp()
    node_health = {r["name"]: r["healthy"] is None or bool(r["healthy"]) for r in db.query(
        "SELECT name, healthy FROM nodes "
        "WHERE json_extract(spec, '$.connection_type') = 'ssh'")}
    return {"by_status": by_status, "in_flight": in_flight, "not_run": not_run,
            "last_success": last_success, "node_health": node_health}
