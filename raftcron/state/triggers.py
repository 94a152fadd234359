"""Apply handlers of command version 4 (`model.commands_v4`): trigger, backfill,
pause_reason, run_slow. They store what the leader decided; the refusals below make a
decision apply once whichever leader proposes it (and however often).

- `trigger` follows a `fire` in one atomic batch and marks the runs it created. Refused
  (`conflict`, so the batch and its runs are rolled back) when a run is missing or of another
  job, when the job already has a run started by the same parent (`after`, `on_failure`),
  or, for `backfill`, when the backfill is unknown, finished, or `index` is not the next slot
  (a deposed leader's late proposal, or a retry of an applied one).
- `backfill` stores the slots (oldest first); `exists` if the id is taken, `not_found` if the
  job is.
- `pause_reason` stores the reason on a paused job (the batch's `set_paused` paused it);
  `state.jobs.set_paused` clears it on resume.
- `run_slow` flags a run; flagging it again changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.model.commands_v4 import CAUSES
from raftcron.state.results import error, not_found, ok


def trigger(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    job, cause, run_ids = args["job"], args["cause"], list(dict.fromkeys(args["run_ids"]))
    if cause not in CAUSES:
        return error("invalid_args", f"cause: expected one of {', '.join(CAUSES)}",
                     field="cause")
    if not run_ids:
        return error("invalid_args", "run_ids: at least one run", field="run_ids")
    marks = ",".join("?" * len(run_ids))
    found = dict(conn.execute(f"SELECT id, job FROM runs WHERE id IN ({marks})", run_ids))
    for run_id in run_ids:
        if found.get(run_id) != job:
            return error("conflict", f"run {run_id!r} is not a new run of job {job!r}",
                         field="run_ids")
    if cause == "backfill":
        refused = _next_backfill_slot(conn, args)
        if refused is not None:
            return refused
        conn.execute(f"UPDATE runs SET backfill = 1 WHERE id IN ({marks})", run_ids)
        return ok(job=job, backfill=args["backfill"], index=args["index"])
    parent = args["triggered_by"]
    if parent is None:
        return error("invalid_args", "triggered_by: a dependency names its parent run",
                     field="triggered_by")
    if conn.execute(f"SELECT 1 FROM runs WHERE job = ? AND triggered_by = ? AND id NOT IN"
                    f" ({marks}) LIMIT 1", [job, parent, *run_ids]).fetchone():
        return error("conflict", f"job {job!r} already ran for run {parent!r}",
                     field="triggered_by", duplicate=True)
    conn.execute(f"UPDATE runs SET triggered_by = ? WHERE id IN ({marks})", [parent, *run_ids])
    return ok(job=job, triggered_by=parent)


def _next_backfill_slot(conn: sqlite3.Connection, args: dict[str, Any]) -> dict | None:
    """None when `args` fires the next slot of its backfill (and counts it), else why not."""
    bf, index = args["backfill"], args["index"]
    if bf is None or index is None:
        return error("invalid_args", "a backfill trigger names its backfill and index",
                     field="backfill")
    row = conn.execute("SELECT job, done, total FROM backfills WHERE id = ?", (bf,)).fetchone()
    if row is None or row[0] != args["job"]:
        return not_found("backfill", bf)
    _, done, total = row
    if index != done or done >= total:
        return error("conflict", f"backfill {bf!r} is at slot {done} of {total}, not {index}",
                     field="index", duplicate=True)
    conn.execute("UPDATE backfills SET done = ?, updated_at = ? WHERE id = ?",
                 (done + 1, db_time(args["at"], field="at"), bf))
    return None


def backfill(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    if conn.execute("SELECT 1 FROM jobs WHERE name = ?", (args["job"],)).fetchone() is None:
        return not_found("job named", args["job"])
    if conn.execute("SELECT 1 FROM backfills WHERE id = ?", (args["id"],)).fetchone():
        return error("exists", f"backfill {args['id']!r} exists", field="id")
    slots = [db_time(s, field=f"slots[{i}]") for i, s in enumerate(args["slots"])]
    if slots != sorted(set(slots)):
        return error("invalid_args", "slots: oldest first, each once", field="slots")
    at = db_time(args["at"], field="at")
    conn.execute("INSERT INTO backfills (id, job, slots, done, total, created_at, updated_at)"
                 " VALUES (?, ?, ?, 0, ?, ?, ?)",
                 (args["id"], args["job"], json.dumps(slots), len(slots), at, at))
    return ok(id=args["id"], job=args["job"], total=len(slots))


def pause_reason(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute("SELECT paused FROM jobs WHERE name = ?", (args["name"],)).fetchone()
    if row is None:
        return not_found("job named", args["name"])
    if not row[0]:
        return error("conflict", f"job {args['name']!r} is not paused", field="name")
    conn.execute("UPDATE jobs SET pause_reason = ? WHERE name = ?", (args["reason"], args["name"]))
    return ok(name=args["name"], reason=args["reason"])


def run_slow(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute("SELECT job, slow FROM runs WHERE id = ?", (args["run_id"],)).fetchone()
    if row is None:
        return not_found("run with id", args["run_id"])
    if not row[1]:
        conn.execute("UPDATE runs SET slow = 1 WHERE id = ?", (args["run_id"],))
    return ok(job=row[0], already=bool(row[1]))
