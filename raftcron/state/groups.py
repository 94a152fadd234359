"""Apply handlers for concurrency group limits: put_group, delete_group (v4).

The limit is stored as the API validated it; which runs wait for a group is the leader's
decision (`planning/groups.py`), carried by `fire` (`waiting` records) and `fanout_step`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.state.results import error, not_found, ok


def put_group(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a group's limit (at least 1); a replace bumps `version`."""
    if args["limit"] < 1:
        return error("invalid_args", "limit: must be at least 1", field="limit")
    at = db_time(args["at"], field="at")
    row = conn.execute("SELECT version FROM concurrency_groups WHERE name = ?",
                       (args["name"],)).fetchone()
    if row is None:
        conn.execute("INSERT INTO concurrency_groups (name, \"limit\", version, created_at,"
                     " updated_at) VALUES (?, ?, 1, ?, ?)", (args["name"], args["limit"], at, at))
        return ok(created=True, version=1)
    conn.execute("UPDATE concurrency_groups SET \"limit\" = ?, version = ?, updated_at = ?"
                 " WHERE name = ?", (args["limit"], row[0] + 1, at, args["name"]))
    return ok(created=False, version=row[0] + 1)


def delete_group(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    if conn.execute("DELETE FROM concurrency_groups WHERE name = ?",
                    (args["name"],)).rowcount == 0:
        return not_found("concurrency group named", args["name"])
    return ok()
