"""Apply handlers for jobs and nodes: put_job, delete_job, set_paused, finish_job, release_job,
put_node, delete_node, node_health.

File-managed jobs: a job written by the `--jobs-dir` seeder carries `managed_by`
("file:<path>"). A put_job or delete_job without `managed_by` (the API's) is refused for such
a job with `managed` (field `name`), here and not only in the API, so a request checked
against a stale copy is refused all the same. Pause, resume and manual runs are operational
and allowed. Only the seeder changes `managed_by`: its put_job sets it (taking over a job
made through the API, or from another file), its release_job clears it.

Each handler takes the write connection (inside apply's transaction, under a savepoint) and
arguments already checked by `commands.validate_args`, and returns a result dict. They read
nothing but their arguments and the copy: every time comes from the command.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from raftcron import codec
from raftcron.db.times import db_time
from raftcron.state.results import error, not_found, ok


def _json(value: Any) -> str:
    # The text json.dumps(..., separators=(",", ":"), ensure_ascii=False) gives, by msgspec:
    # the value came out of a log entry, and `commands.encode` refuses a float that is not
    # finite, where the two would part.
    return codec.encode(value).decode()


def put_job(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a job.

    A replace bumps `version`, keeps `created_at`, the cursor (the fence) and `fired_count`,
    does not touch the job's runs (running ones finish), and sets the status from the job's
    `paused` flag: a finished job that is replaced is scheduled again (the scheduler finishes
    it again if its new schedule has no slot left). The row's `managed_by` becomes the
    command's; a file-managed job is not replaced by a command without one (`managed`).
    `next_slot`/`next_fire_at` become the command's `next` (NULL without one: not known), as
    the proposer computed them for the new schedule.
    """
    job = args["job"]
    name = job["name"]
    at = db_time(args["at"], field="at")
    managed_by = args["managed_by"]
    paused = bool(job.get("paused", False))
    status = "paused" if paused else "scheduled"
    next_slot, next_fire_at = next_times(args.get("next"))
    row = conn.execute("SELECT version, managed_by FROM jobs WHERE name = ?",
                       (name,)).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO jobs (name, spec, expanded, paused, status, version, created_at,"
            " updated_at, cursor, fired_count, managed_by, next_slot, next_fire_at)"
            " VALUES (?, ?, ?, ?, ?, 1, ?, ?, NULL, 0, ?, ?, ?)",
            (name, _json(job), args["expanded"], int(paused), status, at, at, managed_by,
             next_slot, next_fire_at),
        )
        return ok(created=True, version=1, status=status)
    if args["create_only"]:
        return error("exists", f"a job named {name!r} already exists", field="name")
    if row[1] is not None and managed_by is None:
        return managed(name, row[1])
    version = row[0] + 1
    conn.execute(
        "UPDATE jobs SET spec = ?, expanded = ?, paused = ?, status = ?, version = ?,"
        " updated_at = ?, managed_by = ?, next_slot = ?, next_fire_at = ? WHERE name = ?",
        (_json(job), args["expanded"], int(paused), status, version, at, managed_by,
         next_slot, next_fire_at, name),
    )
    return ok(created=False, version=version, status=status)


def delete_job(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Delete a job and every run of it (history included).

    An active run's process is not stopped by this; its later run_finished finds no run
    (`not_found`) and changes nothing.
    """
    name = args["name"]
    row = conn.execute("SELECT managed_by FROM jobs WHERE name = ?", (name,)).fetchone()
    if row is None:
        return not_found("job named", name)
    if row[0] is not None:
        return managed(name, row[0])
    runs = conn.execute("DELETE FROM runs WHERE job = ?", (name,)).rowcount
    conn.execute("DELETE FROM jobs WHERE name = ?", (name,))
    conn.execute("DELETE FROM backfills WHERE job = ?", (name,))
    return ok(deleted_runs=runs)


def set_paused(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Pause or resume: sets the spec's `paused` and the status (a finished job stays
    finished). A change bumps `version` and stores the command's `next` (the resumed job's
    next slot as the proposer computed it; NULL: not known); setting the current value
    changes nothing."""
    name, paused = args["name"], args["paused"]
    row = conn.execute("SELECT spec, paused, status, version FROM jobs WHERE name = ?",
                       (name,)).fetchone()
    if row is None:
        return not_found("job named", name)
    spec_text, was_paused, status, version = row
    if bool(was_paused) == paused:
        return ok(status=status, paused=paused, version=version)
    spec = json.loads(spec_text)
    spec["paused"] = paused
    if status != "finished":
        status = "paused" if paused else "scheduled"
    version += 1
    next_slot, next_fire_at = next_times(args.get("next"))
    conn.execute(
        "UPDATE jobs SET spec = ?, paused = ?, status = ?, version = ?, updated_at = ?,"
        " next_slot = ?, next_fire_at = ?, pause_reason = NULL WHERE name = ?",
        (_json(spec), int(paused), status, version, db_time(args["at"], field="at"),
         next_slot, next_fire_at, name),
    )
    return ok(status=status, paused=paused, version=version)


def next_times(value: Any, where: str = "next") -> tuple[str | None, str | None]:
    """A command's `{slot, fire_at}` as stored (db times), or (None, None) when absent."""
    if not value:
        return None, None
    return (db_time(value["slot"], field=f"{where}.slot"),
            db_time(value["fire_at"], field=f"{where}.fire_at"))


def finish_job(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """No slot left (end_at passed, max_runs reached, a one-shot fired): status finished."""
    name = args["name"]
    cur = conn.execute(
        "UPDATE jobs SET status = 'finished', updated_at = ?"
        " WHERE name = ? AND status != 'finished'",
        (db_time(args["at"], field="at"), name),
    )
    if cur.rowcount == 0 and conn.execute(
        "SELECT 1 FROM jobs WHERE name = ?", (name,)
    ).fetchone() is None:
        return not_found("job named", name)
    return ok(status="finished")


def release_job(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Clear `managed_by` if it is still `args["managed_by"]` (its file is gone): the job
    stays, now changed through the API. A change bumps `version`."""
    name = args["name"]
    row = conn.execute("SELECT managed_by, version FROM jobs WHERE name = ?", (name,)).fetchone()
    if row is None:
        return not_found("job named", name)
    if row[0] != args["managed_by"]:
        return error("conflict", f"job {name!r} is not managed by {args['managed_by']}",
                     field="managed_by")
    version = row[1] + 1
    conn.execute("UPDATE jobs SET managed_by = NULL, version = ?, updated_at = ? WHERE name = ?",
                 (version, db_time(args["at"], field="at"), name))
    return ok(version=version)


def managed(name: str, managed_by: str) -> dict[str, Any]:
    """The refusal of an API write to a job a file defines (`managed_by` "file:<path>")."""
    source = managed_by.removeprefix("file:")
    return error("managed", f"job {name!r} is defined by file {source} in --jobs-dir; "
                 "edit the file", field="name", managed_by=managed_by)


def put_node(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Create or replace an SSH/local node; a replace keeps its health."""
    node = args["node"]
    name = node["name"]
    at = db_time(args["at"], field="at")
    cur = conn.execute("UPDATE nodes SET spec = ?, updated_at = ? WHERE name = ?",
                       (_json(node), at, name))
    if cur.rowcount:
        return ok(created=False)
    conn.execute(
        "INSERT INTO nodes (name, spec, healthy, health_reason, health_at, created_at,"
        " updated_at) VALUES (?, ?, NULL, NULL, NULL, ?, ?)",
        (name, _json(node), at, at),
    )
    return ok(created=True)


def delete_node(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    if conn.execute("DELETE FROM nodes WHERE name = ?", (args["name"],)).rowcount == 0:
        return not_found("node named", args["name"])
    return ok()


def node_health(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Record a node's health as judged by the leader (unknown nodes: `not_found`)."""
    cur = conn.execute(
        "UPDATE nodes SET healthy = ?, health_reason = ?, health_at = ? WHERE name = ?",
        (int(args["healthy"]), args["reason"], db_time(args["at"], field="at"), args["name"]),
    )
    if cur.rowcount == 0:
        return not_found("node named", args["name"])
    return ok()
