"""put_blackout / delete_blackout applied to real SQLite copies, and the schema 4 migration."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from raftcron.db.reader import ReadDb
from raftcron.db.sqlite import SCHEMA_VERSION, migrate_blackouts
from raftcron.model.commands import encode
from raftcron.state.machine import StateMachine
from tests.support.paths import DATA

AT = "2024-05-01T10:00:00Z"
LATER = "2024-05-02T10:00:00Z"


def put(name: str, schedule: str, at: str = AT, **extra: str) -> bytes:
    return encode("put_blackout", {"name": name, "schedule": schedule, "tz": "UTC", "at": at,
                                   **extra})


def test_state_blackouts_put_replace_delete(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    read = ReadDb(tmp_path / "s.db")
    try:
        assert sm.apply(1, put("weekend", "* 0-6 * * sat,sun")) == {
            "ok": True, "created": True, "version": 1}
        assert sm.apply(2, put("weekend", "* 0-5 * * sat,sun", LATER, description="ops")) == {
            "ok": True, "created": False, "version": 2}
        assert read.get_blackout("weekend") == {
            "name": "weekend", "schedule": "* 0-5 * * sat,sun", "tz": "UTC",
            "description": "ops", "source": "api", "version": 2, "created_at": AT,
            "updated_at": LATER}
        sm.apply(3, put("backups", "* 2 * * *"))
        assert [w["name"] for w in read.list_blackouts()] == ["backups", "weekend"]
        assert sm.apply(4, encode("delete_blackout", {"name": "weekend", "at": AT}))["ok"]
        result = sm.apply(5, encode("delete_blackout", {"name": "weekend", "at": AT}))
        assert result["ok"] is False and result["error"] == "not_found"
        assert [w["name"] for w in read.list_blackouts()] == ["backups"]
    finally:
        read.close()
        sm.close()


def test_state_blackouts_two_copies_agree(tmp_path: Path) -> None:
    entries = [put("a", "* 0 * * *"), put("b", "* 1 * * *"), put("a", "* 2 * * *", LATER),
               encode("delete_blackout", {"name": "b", "at": LATER}),
               encode("delete_blackout", {"name": "nope", "at": LATER})]
    dumps = []
    for copy in ("one", "two"):
        sm = StateMachine(tmp_path / f"{copy}.db")
        for i, entry in enumerate(entries, start=1):
            sm.apply(i, entry)
        dumps.append(sm.dump())
        sm.close()
    assert dumps[0] == dumps[1]


def test_state_blackouts_table_after_migrating_an_old_copy(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    shutil.copy(DATA / "state" / "state-v1.sqlite3", path)
    sm = StateMachine(path)
    try:
        sm.apply(sm.applied_index + 1, put("w", "* 0 * * *"))
    finally:
        sm.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        migrate_blackouts(conn)  # idempotent: a second run changes nothing
        assert conn.execute("SELECT name, schedule FROM blackouts").fetchall() == [
            ("w", "* 0 * * *")]
    finally:
        conn.close()


def test_state_groups_put_replace_delete(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "s.db")
    read = ReadDb(tmp_path / "s.db")
    try:
        put = encode("put_group", {"name": "db", "limit": 2, "at": AT})
        assert sm.apply(1, put) == {"ok": True, "created": True, "version": 1}
        again = encode("put_group", {"name": "db", "limit": 3, "at": LATER})
        assert sm.apply(2, again) == {"ok": True, "created": False, "version": 2}
        assert read.get_group("db")["limit"] == 3
        zero = sm.apply(3, encode("put_group", {"name": "x", "limit": 0, "at": AT}))
        assert zero["ok"] is False and zero["field"] == "limit"
        assert [g["name"] for g in read.list_groups()] == ["db"]
        assert sm.apply(4, encode("delete_group", {"name": "db", "at": AT}))["ok"]
        assert sm.apply(5, encode("delete_group", {"name": "db", "at": AT}))["error"] == (
            "not_found")
    finally:
        read.close()
        sm.close()
