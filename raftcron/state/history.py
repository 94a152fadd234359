"""The audit history, recorded by apply: one row per change to a job or a node.

`audited(kind, op, handler)` wraps an apply handler of `model.audit.AUDITED_OPS`: it reads the
resource's spec and version before the handler runs and, when the handler succeeded and
changed something, records a row with the command's time (`at`), the token's name (`by`, v4;
null before or without a token), the version after the change and the redacted field diff
(`model.audit.changes`). Everything comes from the command and the copy, so every peer records
the same rows with the same ids.

Bounded (`model.audit`): at most `HISTORY_PER_RESOURCE` rows per job or node, the oldest
dropped first; and every 1,000th row trims the whole table to `HISTORY_MAX_ROWS` (deleted
jobs' histories, oldest first).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from raftcron.db.times import db_time
from raftcron.model.audit import HISTORY_MAX_ROWS, HISTORY_PER_RESOURCE, changes

Handler = Callable[[sqlite3.Connection, dict[str, Any]], dict[str, Any]]

#: op -> (kind, what the history calls the change when the resource existed before).
_OPS: dict[str, tuple[str, str]] = {
    "put_job": ("job", "update"),
    "delete_job": ("job", "delete"),
    "set_paused": ("job", "pause"),
    "release_job": ("job", "release"),
    "put_node": ("node", "update"),
    "delete_node": ("node", "delete"),
}
_TABLE = {"job": "jobs", "node": "nodes"}
_TRIM_EVERY = 1_000


def audited(op: str, handler: Handler) -> Handler:
    """`handler`, recording its change in the history (see the module docstring)."""
    kind, changed = _OPS[op]

    def apply(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
        name = _name(kind, args)
        before = _spec(conn, kind, name)
        result = handler(conn, args)
        if not result.get("ok"):
            return result
        if before is None:
            if op == "put_job" or op == "put_node":
                _record(conn, kind, name, 1 if kind == "job" else _version(result, 1),
                        "create", args, None)
            return result
        old_spec, old_version = before
        if op in ("delete_job", "delete_node"):
            _record(conn, kind, name, old_version, "delete", args, None)
            return result
        after = _spec(conn, kind, name)
        if after is None or after == before:
            return result
        new_spec, new_version = after
        what = changed
        if op == "set_paused":
            what = "pause" if new_spec.get("paused") else "resume"
        _record(conn, kind, name, new_version, what, args, changes(old_spec, new_spec))
        return result

    apply.__name__ = getattr(handler, "__name__", op)
    apply.__doc__ = handler.__doc__
    return apply


def _name(kind: str, args: dict[str, Any]) -> str:
    resource = args.get(kind)
    return str(resource["name"]) if isinstance(resource, dict) else str(args["name"])


def _version(result: dict[str, Any], default: int) -> int:
    value = result.get("version")
    return value if isinstance(value, int) else default


def _spec(conn: sqlite3.Connection, kind: str, name: str) -> tuple[dict, int] | None:
    """The stored spec and version (nodes have no version: counted by their history)."""
    if kind == "job":
        row = conn.execute("SELECT spec, version FROM jobs WHERE name = ?", (name,)).fetchone()
        return None if row is None else (json.loads(row[0]), int(row[1]))
    row = conn.execute("SELECT spec FROM nodes WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    last = conn.execute("SELECT max(version) FROM history WHERE kind = 'node' AND name = ?",
                        (name,)).fetchone()[0]
    return json.loads(row[0]), int(last or 1)


def _record(conn: sqlite3.Connection, kind: str, name: str, version: int, op: str,
            args: dict[str, Any], diff: dict[str, Any] | None) -> None:
    if kind == "node" and op == "update":
        version += 1  # a node's version counts its changes
    at = args.get("at")
    cur = conn.execute(
        "INSERT INTO history (kind, name, version, op, at, by, changes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, name, version, op, db_time(at, field="at") if at else _last_at(conn),
         args.get("by"),
         None if diff is None else json.dumps(diff, ensure_ascii=False, separators=(",", ":"))),
    )
    row_id = int(cur.lastrowid or 0)
    cutoff = _cutoff(conn, kind, name)
    if cutoff:
        conn.execute("DELETE FROM history WHERE kind = ? AND name = ? AND id <= ?",
                     (kind, name, cutoff))
    if row_id % _TRIM_EVERY == 0:
        conn.execute("DELETE FROM history WHERE id <= ?", (row_id - HISTORY_MAX_ROWS,))


def _cutoff(conn: sqlite3.Connection, kind: str, name: str) -> int:
    """The id at and below which the resource's rows are past the per-resource bound."""
    row = conn.execute(
        "SELECT id FROM history WHERE kind = ? AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
        (kind, name, HISTORY_PER_RESOURCE),
    ).fetchone()
    return int(row[0]) if row else 0


def _last_at(conn: sqlite3.Connection) -> str:
    # delete_node before v4 carries no time: the newest time the history holds (never the
    # clock: apply must not read it), or the epoch on an empty history.
    row = conn.execute("SELECT max(at) FROM history").fetchone()
    return row[0] if row and row[0] else db_time("1970-01-01T00:00:00Z", field="at")
