"""Reads of rolling fan-outs: the waiting targets, and every record of one slot (indexed by
`runs (status)` and `runs (job, slot)`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.db.queries import _RUN_COLUMNS, run_dict
from raftcron.db.times import db_time

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database


def waiting_runs(db: Database) -> list[dict[str, Any]]:
    """Every `waiting` run, oldest fired first (a cluster has few: one per waiting target)."""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'waiting' ORDER BY fired_at, id"
    return [run_dict(r) for r in db.query(sql)]


def slot_runs(db: Database, job: str, slot: str) -> list[dict[str, Any]]:
    """Every record of one slot of one job (all targets, all attempts; `slot` an API time)."""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? AND slot = ? ORDER BY target, attempt"
    return [run_dict(r) for r in db.query(sql, [job, db_time(slot, field="slot")])]
