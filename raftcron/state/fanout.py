"""Apply handler for `fanout_step` (v4): a rolling fan-out's waiting targets started or
skipped, as the leader decided (`planning/fanout.py`).

Only a `waiting` run changes: to `pending` (its `fired_at` becomes the step's time, so the
executing peer judges its lateness from now; its peer and target the step's, which the leader
may have moved off a peer that went silent since the fire), or
to `skipped` with the step's reason (terminal at once). Anything else is left as it is and
listed in `refused`: a step proposed twice, or after the job was deleted, starts nothing
twice. The result lists the runs `started` and `skipped`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.state.results import ok


def fanout_step(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    at = db_time(args["at"], field="at")
    started: list[str] = []
    skipped: list[str] = []
    refused: list[str] = []
    for rec in args["runs"]:
        run_id = rec["run_id"]
        if rec["status"] == "pending":
            cur = conn.execute("UPDATE runs SET status = 'pending', fired_at = ?, reason = NULL,"
                               " peer = ?, target = ? WHERE id = ? AND status = 'waiting'",
                               (at, rec["peer"], rec["target"], run_id))
            (started if cur.rowcount else refused).append(run_id)
        elif rec["status"] == "skipped":
            cur = conn.execute("UPDATE runs SET status = 'skipped', finished_at = ?, reason = ?"
                               " WHERE id = ? AND status = 'waiting'",
                               (at, rec["reason"], run_id))
            (skipped if cur.rowcount else refused).append(run_id)
        else:
            refused.append(run_id)
    return ok(started=started, skipped=skipped, refused=refused)
