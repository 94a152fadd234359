"""Reads of the notification outbox (`state/outbox.py` writes it).

`pending_notifications` feeds a new leader (what is still to deliver, oldest first);
`list_notifications` the API (`GET /notifications`), newest first, without the target's
secrets (`notify.decisions.redact_url` is the sender's business; here the target of a webhook
is reduced to scheme, host and path by the caller).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from raftcron.db.paging import _limit, _page, decode_cursor
from raftcron.db.times import api_time
from raftcron.errors import ValidationError
from raftcron.model.outbox import STATUSES

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

__all__ = ["known_notifications", "list_notifications", "pending_notifications"]


def pending_notifications(db: Database, *, after: int = 0, limit: int = 500) -> list[dict]:
    """Pending notifications with `seq` > `after`, oldest first, as the sender needs them."""
    rows = db.query(
        "SELECT seq, id, job, event, run_id, kind, target, payload FROM notifications"
        " WHERE status = 'pending' AND seq > ? ORDER BY seq LIMIT ?", [after, limit])
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


def known_notifications(db: Database, ids: list[str]) -> set[str]:
    """Which of `ids` the outbox holds (pending or finished)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(r["id"] for r in db.query(
            f"SELECT id FROM notifications WHERE id IN ({marks})", chunk))
    return found


def list_notifications(db: Database, *, status: str | None = None, job: str | None = None,
                       limit: int | None = None,
                       cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Notifications newest first (filtered by status and job), paged by `seq`."""
    n = _limit(limit)
    where: list[str] = []
    params: dict[str, Any] = {"n": n + 1}
    if status is not None:
        if status not in STATUSES:
            raise ValidationError(f"status: expected one of {', '.join(STATUSES)}",
                                  field="status")
        where.append("status = :status")
        params["status"] = status
    if job is not None:
        where.append("job = :job")
        params["job"] = job
    if cursor is not None:
        before = decode_cursor(cursor, 1)[0]
        if not before.isdigit():
            raise ValidationError("cursor: not a cursor returned by this list", field="cursor")
        where.append("seq < :before")
        params["before"] = int(before)
    sql = ("SELECT seq, id, job, event, run_id, kind, target, status, attempts, error,"
           " created_at, updated_at FROM notifications"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq DESC LIMIT :n")
    rows = list(db.query(sql, params))
    return _page(rows, n, lambda r: [str(r["seq"])], _entry)


def _entry(row: dict) -> dict:
    out = {k: row[k] for k in ("id", "job", "event", "run_id", "kind", "target", "status",
                               "attempts", "error")}
    out["created_at"], out["updated_at"] = api_time(row["created_at"]), api_time(row["updated_at"])
    return out
