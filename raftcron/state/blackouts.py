"""Apply handlers for cluster-wide blackout windows: put_blackout, delete_blackout.

The API validated the expression and the zone before proposing; apply only stores them (it
never parses a schedule nor reads a clock). Whether a slot falls inside a window is the
leader's decision, carried by the `fire` records it writes (`skipped`, `blackout NAME`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.state.results import not_found, ok


def put_blackout(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a window; a replace bumps `version` and keeps `created_at`."""
    at = db_time(args["at"], field="at")
    name = args["name"]
    row = conn.execute("SELECT version FROM blackouts WHERE name = ?", (name,)).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO blackouts (name, schedule, tz, description, version, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
            (name, args["schedule"], args["tz"], args["description"] or "", at, at))
        return ok(created=True, version=1)
    version = row[0] + 1
    conn.execute(
        "UPDATE blackouts SET schedule = ?, tz = ?, description = ?, version = ?,"
        " updated_at = ? WHERE name = ?",
        (args["schedule"], args["tz"], args["description"] or "", version, at, name))
    return ok(created=False, version=version)


def delete_blackout(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    if conn.execute("DELETE FROM blackouts WHERE name = ?", (args["name"],)).rowcount == 0:
        return not_found("blackout window named", args["name"])
    return ok()
