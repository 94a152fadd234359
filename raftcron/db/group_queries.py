"""Reads of concurrency groups: the limits set through the API (`concurrency_groups`), and
how many runs of each group's jobs are active or waiting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.db.times import api_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

_GROUP = "json_extract(j.spec, '$.concurrency_group')"


def group_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "limit": row["limit"], "source": "api",
            "version": row["version"], "created_at": api_time(row["created_at"]),
            "updated_at": api_time(row["updated_at"])}


def list_groups(db: Database) -> list[dict[str, Any]]:
    return [group_dict(r) for r in db.query("SELECT * FROM concurrency_groups ORDER BY name")]


def get_group(db: Database, name: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM concurrency_groups WHERE name = ?", [name]))
    return group_dict(rows[0]) if rows else None


def group_loads(db: Database) -> dict[str, dict[str, int]]:
    """group -> {"active": pending or running runs, "waiting": waiting runs} of its jobs."""
    sql = (f"SELECT {_GROUP} AS g, r.status AS status, count(*) AS n FROM runs r"
           " JOIN jobs j ON j.name = r.job WHERE r.status IN ('pending', 'running', 'waiting')"
           f" AND {_GROUP} IS NOT NULL GROUP BY g, r.status")
    out: dict[str, dict[str, int]] = {}
    for row in db.query(sql):
        entry = out.setdefault(str(row["g"]), {"active": 0, "waiting": 0})
        entry["waiting" if row["status"] == "waiting" else "active"] += int(row["n"])
    return out
