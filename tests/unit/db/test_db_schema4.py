"""The schema-4 step for dependencies, backfill, pause and slow runs is idempotent: run twice
(as it may be when combined with the other version-4 steps) it changes nothing more."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from raftcron.db import sqlite as db


def _shape(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_db_schema4_trigger_step_is_idempotent(tmp_path: Path) -> None:
    conn = db.open_writer(tmp_path / "state.db")
    try:
        before = _shape(conn)
        conn.execute("BEGIN IMMEDIATE")
        db._migrate_3_to_4_triggers(conn)
        db._migrate_3_to_4_triggers(conn)
        conn.execute("COMMIT")
        assert _shape(conn) == before
        cols = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
        assert {"triggered_by", "backfill", "slow", "output_truncated"} <= cols
        assert "pause_reason" in {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
    finally:
        conn.close()
