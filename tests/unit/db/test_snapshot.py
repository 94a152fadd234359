"""Snapshots: SQLite backup and restore, and the container that carries the raft data."""

from __future__ import annotations

import sqlite3
import struct
import threading
from pathlib import Path

import pytest

from raftcron.db import snapshot
from raftcron.db.reader import ReadDb
from raftcron.db.snapshot import SnapshotError, read_snapshot, write_snapshot
from raftcron.errors import SchemaVersionError
from raftcron.model.commands import encode
from raftcron.state.machine import StateMachine

AT = "2024-05-01T10:00:00Z"


def fill(sm: StateMachine, jobs: int, start: int = 1) -> int:
    index = sm.applied_index
    for i in range(start, start + jobs):
        index += 1
        sm.apply(index, encode("put_job", {"job": {"name": f"job{i}"}, "at": AT}, key=f"k{i}"))
    index += 1
    records = [{"run_id": f"r{i}", "job": f"job{i}", "slot": AT, "peer": "p1", "fired_at": AT}
               for i in range(start, start + jobs)]
    sm.apply(index, encode("fire", {"runs": records, "at": AT}))
    return index


@pytest.fixture
def source(tmp_path: Path):
    sm = StateMachine(tmp_path / "source.db")
    fill(sm, 20)
    yield sm
    sm.close()


def test_snapshot_backup_then_restore_gives_an_identical_copy(source, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    source.backup_to(copy)
    target = StateMachine(tmp_path / "target.db")
    assert target.restore_from(copy) is True
    assert target.applied_index == source.applied_index == 21
    assert target.dump() == source.dump()
    # It goes on applying where the copy left off, keys included.
    assert target.apply(22, encode("put_job", {"job": {"name": "job1"}, "at": AT}, key="k1"))[
        "created"] is True
    assert target.apply(23, encode("noop", {}))["ok"]
    target.close()


def test_snapshot_restore_reaches_open_readers(source, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    source.backup_to(copy)
    target = StateMachine(tmp_path / "target.db")
    read = ReadDb(tmp_path / "target.db")
    assert read.applied_index() == 0 and read.get_job("job1") is None
    target.restore_from(copy)
    assert read.applied_index() == 21 and read.get_job("job1")["name"] == "job1"
    read.close()
    target.close()


def test_snapshot_older_copy_is_not_restored_unless_forced(source, tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    source.backup_to(old)
    fill(source, 5, start=100)
    assert source.restore_from(old) is False
    assert source.applied_index == 27
    assert source.restore_from(old, force=True) is True
    assert source.applied_index == 21
    assert len(source.dump()["jobs"]) == 20


def test_snapshot_backup_file_is_self_contained(source, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    source.backup_to(copy)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == [
        "copy.sqlite"]
    assert snapshot.check_copy(copy) == 21


def test_snapshot_backup_while_applying_is_consistent(source, tmp_path: Path) -> None:
    stop = threading.Event()

    def keep_applying() -> None:
        index = source.applied_index
        while not stop.is_set():
            index += 1
            source.apply(index, encode("noop", {}))

    worker = threading.Thread(target=keep_applying)
    worker.start()
    try:
        for i in range(5):
            copy = tmp_path / f"copy{i}.sqlite"
            source.backup_to(copy)
            assert snapshot.check_copy(copy) >= 21
    finally:
        stop.set()
        worker.join()


def test_snapshot_restore_refuses_another_schema_version(source, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    source.backup_to(copy)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("UPDATE meta SET value = '42' WHERE key = 'schema_version'")
    conn.close()
    target = StateMachine(tmp_path / "target.db")
    with pytest.raises(SchemaVersionError, match="42"):
        target.restore_from(copy)
    assert target.applied_index == 0
    target.close()


def test_snapshot_restore_refuses_garbage(tmp_path: Path) -> None:
    target = StateMachine(tmp_path / "target.db")
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises((SchemaVersionError, SnapshotError)):
        target.restore_from(junk)
    with pytest.raises(SnapshotError, match="no such snapshot"):
        target.restore_from(tmp_path / "missing")
    assert target.applied_index == 0
    target.close()


def test_snapshot_restore_into_creates_a_missing_copy(source, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    source.backup_to(copy)
    assert snapshot.restore_into(copy, tmp_path / "fresh.db") == 21
    fresh = StateMachine(tmp_path / "fresh.db")
    assert fresh.dump() == source.dump()
    fresh.close()


def test_snapshot_save_and_load_carry_the_raft_blob(source, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 3
    path = tmp_path / "snap"
    source.save_snapshot(path, blob)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("snap")) == ["snap"]
    target = StateMachine(tmp_path / "target.db")
    assert target.load_snapshot(path) == blob
    assert target.dump() == source.dump()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("snap")) == ["snap"]
    target.close()


def _container(tmp_path: Path, blob: bytes = b"raft", data: bytes = b"sqlite bytes") -> Path:
    src = tmp_path / "part.sqlite"
    src.write_bytes(data)
    path = tmp_path / "snap"
    write_snapshot(path, src, blob)
    return path


def test_snapshot_container_round_trip(tmp_path: Path) -> None:
    path = _container(tmp_path, b"", b"x" * 3_000_000)
    out, blob = read_snapshot(path, tmp_path / "out.sqlite")
    assert blob == b"" and out.read_bytes() == b"x" * 3_000_000


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "magic":
        data[0:4] = b"XXXX"
    elif how == "version":
        data[len(snapshot.MAGIC):len(snapshot.MAGIC) + 2] = struct.pack(">H", 9)
    elif how == "truncated":
        del data[-3:]
    elif how == "flipped":
        data[-1] ^= 0xFF
    elif how == "trailing":
        data += b"!"
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how, words",
    [("magic", "not a raftcron snapshot"), ("version", "newer than this build"),
     ("truncated", "truncated"), ("flipped", "checksum"), ("trailing", "trailing"),
     ("empty", "not a raftcron snapshot")],
)
def test_snapshot_container_damage_is_refused(tmp_path: Path, how: str, words: str) -> None:
    path = _container(tmp_path)
    _damage(path, how)
    with pytest.raises(SnapshotError, match=words):
        read_snapshot(path, tmp_path / "out.sqlite")
    assert not (tmp_path / "out.sqlite").exists()


def test_snapshot_container_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot open"):
        read_snapshot(tmp_path / "nope")
