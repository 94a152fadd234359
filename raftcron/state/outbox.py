"""Apply handlers of the notification outbox: `notify_intent` and `notify_result`.

`notify_intent` records each item whose id is new as `pending` (an id already there — the
same event decided again, by this leader or the next — is left as it is: the intent is
recorded once) and answers the ids it recorded. `notify_result` moves a `pending`
notification to `delivered` or `failed` with its attempts and error; a notification already
finished is left alone (two leaders may both report one), so the first result stands.

Bounded: past `OUTBOX_KEEP` finished notifications, the oldest finished ones are deleted
(pending ones are never deleted). Every time is the command's.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.model.outbox import OUTBOX_KEEP
from raftcron.state.results import error, ok

_TRIM_EVERY = 100


def notify_intent(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Record the new intents as pending; `recorded` lists their ids, in order."""
    at = db_time(args["at"], field="at")
    recorded: list[str] = []
    for item in args["items"]:
        payload = json.dumps(item["payload"], ensure_ascii=False, sort_keys=True,
                             separators=(",", ":"))
        cur = conn.execute(
            "INSERT OR IGNORE INTO notifications (id, job, event, run_id, kind, target,"
            " payload, status, attempts, error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, NULL, ?, ?)",
            (item["id"], item["job"], item["event"], item["run_id"], item["kind"],
             item["target"], payload, at, at),
        )
        if cur.rowcount:
            recorded.append(item["id"])
            if int(cur.lastrowid or 0) % _TRIM_EVERY == 0:
                _trim(conn)
    return ok(recorded=recorded)


def notify_result(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Finish a pending notification; `changed` says whether this result was the first."""
    row = conn.execute("SELECT status FROM notifications WHERE id = ?",
                       (args["id"],)).fetchone()
    if row is None:
        return error("not_found", f"no notification {args['id']!r}")
    if row[0] != "pending":
        return ok(changed=False, status=row[0])
    conn.execute(
        "UPDATE notifications SET status = ?, attempts = ?, error = ?, updated_at = ?"
        " WHERE id = ?",
        (args["status"], args["attempts"], args["error"], db_time(args["at"], field="at"),
         args["id"]),
    )
    return ok(changed=True, status=args["status"])


def _trim(conn: sqlite3.Connection) -> None:
    row = conn.execute(
        "SELECT seq FROM notifications WHERE status != 'pending' ORDER BY seq DESC"
        " LIMIT 1 OFFSET ?", (OUTBOX_KEEP,)).fetchone()
    if row is not None:
        conn.execute("DELETE FROM notifications WHERE status != 'pending' AND seq <= ?",
                     (row[0],))
