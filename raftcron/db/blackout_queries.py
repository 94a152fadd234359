"""Reads of the cluster-wide blackout windows (`blackouts` table), API-shaped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.db.times import api_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database


def blackout_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "schedule": row["schedule"], "tz": row["tz"],
            "description": row["description"] or "", "source": "api",
            "version": row["version"], "created_at": api_time(row["created_at"]),
            "updated_at": api_time(row["updated_at"])}


def list_blackouts(db: Database) -> list[dict[str, Any]]:
    """Every window, by name (a cluster has few)."""
    return [blackout_dict(r) for r in db.query("SELECT * FROM blackouts ORDER BY name")]


def get_blackout(db: Database, name: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM blackouts WHERE name = ?", [name]))
    return blackout_dict(rows[0]) if rows else None
