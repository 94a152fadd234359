"""Apply handlers for runs: fire (with the fence), run_started, move_run, run_finished, run_lost,
cancel_run, prune_runs.

The fence (docs/guarantees.md: a committed slot is never fired again): a *scheduled* record
(`manual=false`, `retry_of=null`) is accepted only if its job exists and is `scheduled`, its
slot is strictly later than the job's cursor as it was before this command, it repeats no
(job, slot, attempt, target) of this command, and, when pending, the job's `max_runs` is not
reached. Accepting it moves the cursor to the newest accepted slot (pending, skipped and
missed alike). `max_runs` counts slots, not records: the fan-out of one slot to every target
(`hosts = "all"`) counts once. Manual runs and retries bypass the cursor, but a retry is
refused when the same (retry_of, attempt) exists already, and every record needs a job and a
run id never seen.
A refused record is not an error: it is listed in `fenced`, with its reason in
`fence_reasons`.

The next fire time moves only forward with the fence: the command's `next[job]` (the leader's
plan) is stored when the job is scheduled, its slot is strictly after the cursor as this
command left it (the fence would admit it) and not before the stored `next_slot`. A deposed
leader's stale plan is thereby dropped, and a job whose `next_slot` is NULL (a migrated copy)
gets one from any `fire` naming it, even one with no records.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from raftcron.db.queries import UNFINISHED_SQL
from raftcron.db.times import db_time
from raftcron.model import ACTIVE_STATUSES
from raftcron.model.fence import CursorFence
from raftcron.model.tails import cap_tail
from raftcron.state.jobs import next_times
from raftcron.state.results import error, not_found, ok


@dataclass
class _JobFence:
    status: str
    fence: CursorFence[str]
    max_runs: int | None
    next_slot: str | None = None
    changed: bool = False


def _load_job(conn: sqlite3.Connection, name: str) -> _JobFence | None:
    row = conn.execute(
        "SELECT status, cursor, fired_count, json_extract(spec, '$.max_runs'), next_slot"
        " FROM jobs WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    status, cursor, fired, max_runs, next_slot = row
    return _JobFence(status, CursorFence(cursor, fired),
                     max_runs if type(max_runs) is int else None, next_slot)


def fire(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Create the runs of one or many slots (the leader batches every fire due at an instant)."""
    jobs: dict[str, _JobFence | None] = {}
    seen_ids: set[str] = set()
    seen_slots: set[tuple[str, str, int, str]] = set()
    seen_retries: set[tuple[str, int]] = set()
    accepted: list[str] = []
    fenced: list[str] = []
    reasons: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    held = frozenset(args.get("held") or ())

    for i, rec in enumerate(args["runs"]):
        run_id, name, attempt = rec["run_id"], rec["job"], rec["attempt"]
        slot = db_time(rec["slot"], field=f"runs[{i}].slot")
        fired_at = db_time(rec["fired_at"], field=f"runs[{i}].fired_at")
        if name not in jobs:
            jobs[name] = _load_job(conn, name)
        job = jobs[name]
        reason = _refusal(conn, job, rec, slot, seen_ids, seen_slots, seen_retries)
        if reason is not None:
            fenced.append(run_id)
            reasons.setdefault(run_id, reason)
            continue
        assert job is not None  # _refusal refuses a missing job
        seen_ids.add(run_id)
        status = rec["status"]
        if not rec["manual"] and rec["retry_of"] is None:
            seen_slots.add((name, slot, attempt, rec["target"] or ""))
            # A waiting run (v4) will run: it counts toward max_runs like a pending one.
            job.fence.accept(slot, pending=status in ("pending", "waiting"))
            job.changed = True
        elif rec["retry_of"] is not None:
            seen_retries.add((rec["retry_of"], attempt))
        # A waiting target (rolling fan-out) is not terminal: `fanout_step` starts or skips it.
        terminal_at = fired_at if status not in ("pending", "waiting") else None
        rows.append((run_id, name, slot, attempt, rec["peer"], rec["target"], status, fired_at,
                     terminal_at, rec["reason"], int(rec["manual"]), rec["retry_of"],
                     int(status == "pending" and run_id in held)))
        accepted.append(run_id)

    conn.executemany(
        "INSERT INTO runs (id, job, slot, attempt, peer, target, status, fired_at, finished_at,"
        " reason, manual, retry_of, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "UPDATE jobs SET cursor = ?, fired_count = ? WHERE name = ?",
        [(j.fence.cursor, j.fence.fired_count, n) for n, j in jobs.items()
         if j is not None and j.changed],
    )
    stored = _store_next(conn, jobs, args.get("next") or {})
    if stored:  # only with `next`: a version-2 fire's result stays as it was
        return ok(accepted=accepted, fenced=fenced, fence_reasons=reasons, next_stored=stored)
    return ok(accepted=accepted, fenced=fenced, fence_reasons=reasons)


def _store_next(conn: sqlite3.Connection, jobs: dict[str, _JobFence | None],
                nexts: dict[str, Any]) -> list[str]:
    """Store each `next[job]` that moves forward with the fence (see the module docstring);
    the names stored."""
    rows = []
    for name, value in sorted(nexts.items()):
        slot, fire_at = next_times(value, where=f"next.{name}")
        if name not in jobs:
            jobs[name] = _load_job(conn, name)
        job = jobs[name]
        if job is None or job.status != "scheduled" or slot is None:
            continue
        if job.fence.cursor is not None and slot <= job.fence.cursor:
            continue  # behind the fence: a stale plan
        if job.next_slot is not None and slot < job.next_slot:
            continue  # never backward
        rows.append((slot, fire_at, name))
    conn.executemany("UPDATE jobs SET next_slot = ?, next_fire_at = ? WHERE name = ?", rows)
    return [r[2] for r in rows]


def _refusal(conn: sqlite3.Connection, job: _JobFence | None, rec: dict[str, Any], slot: str,
             seen_ids: set[str], seen_slots: set[tuple[str, str, int, str]],
             seen_retries: set[tuple[str, int]]) -> str | None:
    """Why `rec` is fenced, or None when it is accepted."""
    run_id = rec["run_id"]
    if job is None:
        return "job_not_found"
    if run_id in seen_ids or conn.execute(
        "SELECT 1 FROM runs WHERE id = ?", (run_id,)
    ).fetchone():
        return "duplicate_run_id"
    retry_of, attempt = rec["retry_of"], rec["attempt"]
    if retry_of is not None:
        if (retry_of, attempt) in seen_retries or conn.execute(
            "SELECT 1 FROM runs WHERE retry_of = ? AND attempt = ?", (retry_of, attempt)
        ).fetchone():
            return "duplicate_retry"
        return None
    if rec["manual"]:
        return None
    if job.status != "scheduled":
        return f"job_{job.status}"
    if not job.fence.admits(slot):
        return "slot_not_after_cursor"
    if (rec["job"], slot, attempt, rec["target"] or "") in seen_slots:
        return "duplicate_slot"
    if rec["status"] == "pending" and job.fence.reaches_max(slot, job.max_runs):
        return "max_runs_reached"
    return None


def _active_run(conn: sqlite3.Connection, run_id: str,
                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(row, None) for an active run, else (None, the error result)."""
    row = conn.execute("SELECT job, peer, status, cancel_requested FROM runs WHERE id = ?",
                       (run_id,)).fetchone()
    if row is None:
        return None, not_found("run with id", run_id)
    job, peer, status, cancel = row
    if status not in ACTIVE_STATUSES:
        return None, error("not_active", f"run {run_id!r} is already {status}", status=status)
    return {"job": job, "peer": peer, "status": status, "cancel_requested": bool(cancel)}, None


def run_started(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """pending -> running, reported by the peer the run was assigned to."""
    run, err = _active_run(conn, args["run_id"])
    if run is None:
        return err or {}
    if run["peer"] != args["peer"]:
        return error("wrong_peer", f"run {args['run_id']!r} is assigned to {run['peer']}",
                     field="peer")
    if run["status"] == "running":
        return ok(job=run["job"], status="running", already_running=True)
    conn.execute("UPDATE runs SET status = 'running', started_at = ? WHERE id = ?",
                 (db_time(args["at"], field="at"), args["run_id"]))
    return ok(job=run["job"], status="running")


def move_run(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """A held run still pending on `from_peer` -> pending on `peer` (v5).

    Only a held run (fired ahead, `runs.held`) moves: it starts only once its `run_started`
    is committed, so while it is pending here it has certainly not run, and once moved its
    old peer's `run_started` is refused (`wrong_peer`). Refused (`not_movable`) when the run
    started meanwhile, ended, was never held, or is no longer on `from_peer`: the log's order
    decides between a move and a confirmation, on every copy alike."""
    row = conn.execute("SELECT job, peer, status, held FROM runs WHERE id = ?",
                       (args["run_id"],)).fetchone()
    if row is None:
        return not_found("run with id", args["run_id"])
    job, peer, status, held = row
    if status != "pending" or not held or peer != args["from_peer"]:
        return error("not_movable", f"run {args['run_id']!r} is {status} on {peer}"
                     + ("" if held else ", not held"), status=status)
    conn.execute("UPDATE runs SET peer = ?, target = ? WHERE id = ?",
                 (args["peer"], args.get("target"), args["run_id"]))
    return ok(job=job, status="pending", peer=args["peer"])


def run_finished(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """pending|running -> succeeded|failed|timed_out|cancelled, with the output tails.

    A run already terminal (a late finish after `lost`) is `not_active` and keeps its status.
    `started_at` fills a start never recorded; for a held run (v5) it replaces the time its
    confirmation stamped (its due time, asked for before the process existed) with the
    process's own start.
    """
    run, err = _active_run(conn, args["run_id"])
    if run is None:
        return err or {}
    started = db_time(args["started_at"], field="started_at") if args["started_at"] else None
    conn.execute(
        "UPDATE runs SET status = ?, exit_code = ?, stdout_tail = ?, stderr_tail = ?, reason = ?,"
        " finished_at = ?, output_bytes = ?,"
        " started_at = CASE WHEN held = 1 THEN coalesce(?, started_at)"
        " ELSE coalesce(started_at, ?) END,"
        " output_truncated = ? WHERE id = ?",
        (args["status"], args["exit_code"], cap_tail(args["stdout_tail"]),
         cap_tail(args["stderr_tail"]), args["reason"], db_time(args["at"], field="at"),
         args["output_bytes"], started, started, int(bool(args["output_truncated"])),
         args["run_id"]),
    )
    return ok(job=run["job"], status=args["status"])


def run_lost(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """pending|running -> lost (its peer is gone past the lease, or restarted mid-run)."""
    run, err = _active_run(conn, args["run_id"])
    if run is None:
        return err or {}
    conn.execute("UPDATE runs SET status = 'lost', reason = ?, finished_at = ? WHERE id = ?",
                 (args["reason"], db_time(args["at"], field="at"), args["run_id"]))
    return ok(job=run["job"], status="lost")


def cancel_run(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Mark an active run `cancel_requested`; its peer kills it and reports `cancelled`."""
    run, err = _active_run(conn, args["run_id"])
    if run is None:
        return err or {}
    if not run["cancel_requested"]:
        conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (args["run_id"],))
    return ok(job=run["job"], peer=run["peer"], status=run["status"])


def prune_runs(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Delete the listed runs that are terminal; active or unknown ones are skipped."""
    deleted = []
    for run_id in dict.fromkeys(args["run_ids"]):
        cur = conn.execute(f"DELETE FROM runs WHERE id = ? AND status NOT IN {UNFINISHED_SQL}",
                           (run_id,))
        if cur.rowcount:
            deleted.append(run_id)
    return ok(deleted=deleted)
