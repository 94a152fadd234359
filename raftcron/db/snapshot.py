"""Snapshots of the SQLite copy: backup to a file, restore into a live copy, and the container
that carries the copy together with pysyncobj's own raft data.

- `backup_to(conn, path)`: SQLite's online backup API, in one step (one read transaction, so
  the copy is consistent and, in WAL mode, apply keeps writing meanwhile), into a temporary
  file that is fsynced and renamed over `path`. The copy is in rollback-journal mode: one
  self-contained file.
- `restore_into(src_path, db_path)`: checks the file (a schema version this build reads, at
  once or through `MIGRATIONS`; `quick_check`), then
  copies it *into* the live database with the backup API, in one write transaction. Readers
  see the old state or the new one, never a mix. We do not rename a file over a live WAL
  database: its open readers would keep the unlinked old file, and a stale `-wal` beside the
  new file could be replayed into it.
- `write_snapshot(path, sqlite_file, raft_blob)` / `read_snapshot(path)`: a versioned
  container, never pickle: `MAGIC`, version (u16), part count (u16), then per part its
  length (u64), CRC-32 (u32) and bytes. Part 0 is the raft blob, part 1 the SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import zlib
from pathlib import Path

from raftcron.db.fsmodes import create_private, open_private
from raftcron.db.sqlite import check_readable, read_meta
from raftcron.errors import SnapshotError

MAGIC = b"RAFTCRON-SNAPSHOT\n"
CONTAINER_VERSION = 1
_HEAD = struct.Struct(">HH")
_PART = struct.Struct(">QI")
_CHUNK = 1 << 20


def backup_to(conn: sqlite3.Connection, path: Path) -> None:
    """A consistent copy of the database behind `conn`, atomically at `path`.

    `conn` should not be in a write transaction (use a separate read connection so that a
    concurrent apply is neither copied half-done nor blocked).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    create_private(tmp)  # the copy holds every secret of the state: 0600 from the start
    try:
        dest = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not keep a half copy as well
        raise
    _fsync_dir(path.parent)


def check_copy(src_path: Path) -> int:
    """Validate a SQLite copy (schema version, quick_check); return its applied index."""
    src = _open_source(src_path)
    try:
        return _validate(src, src_path)
    finally:
        src.close()


def restore_into(src_path: Path, db_path: Path) -> int:
    """Replace the database at `db_path` (created if missing) by the copy at `src_path`.

    Validates first (`SchemaVersionError`, `SnapshotError`); the replacement is one
    transaction. Returns the restored applied index. Connections already open on `db_path`
    see the new content after their current read transaction.
    """
    dest = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        dest.execute("PRAGMA busy_timeout=10000")
        dest.execute("PRAGMA journal_mode=WAL")
        return restore_into_connection(src_path, dest)
    finally:
        dest.close()


def restore_into_connection(src_path: Path, dest: sqlite3.Connection) -> int:
    """`restore_into` through an open connection (not in a transaction)."""
    src = _open_source(src_path)
    try:
        index = _validate(src, src_path)
        src.backup(dest)
    finally:
        src.close()
    return index


def _open_source(src_path: Path) -> sqlite3.Connection:
    if not Path(src_path).is_file():
        raise SnapshotError(f"{src_path}: no such snapshot file")
    return sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)


def _validate(src: sqlite3.Connection, src_path: Path) -> int:
    # An older schema with a migration path is accepted: the copy is migrated when the state
    # machine reopens it (`open_writer`), so a snapshot or dump written before an upgrade loads.
    check_readable(src, src_path)
    try:
        problems = [r[0] for r in src.execute("PRAGMA quick_check")]
        index = read_meta(src, "applied_index")
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"{src_path}: damaged state copy ({exc})") from None
    if problems != ["ok"]:
        raise SnapshotError(f"{src_path}: damaged state copy: {'; '.join(problems[:3])}")
    if index is None or not index.isdigit():
        raise SnapshotError(f"{src_path}: state copy has no applied index")
    return int(index)


def write_snapshot(path: Path, sqlite_file: Path, raft_blob: bytes) -> None:
    """Pack `raft_blob` and the SQLite file at `sqlite_file` into `path` (atomic rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open_private(tmp) as out:
        out.write(MAGIC + _HEAD.pack(CONTAINER_VERSION, 2))
        out.write(_PART.pack(len(raft_blob), zlib.crc32(raft_blob)) + raft_blob)
        # The SQLite part's header is written after the copy, which computes length and CRC
        # in the one pass over the file.
        head_at = out.tell()
        out.write(_PART.pack(0, 0))
        size = crc = 0
        with open(sqlite_file, "rb") as f:
            while chunk := f.read(_CHUNK):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                out.write(chunk)
        out.seek(head_at)
        out.write(_PART.pack(size, crc))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_snapshot(path: Path, sqlite_out: Path | None = None) -> tuple[Path, bytes]:
    """Unpack a container: the SQLite part goes to `sqlite_out` (default `<path>.sqlite`).

    Returns `(sqlite_path, raft_blob)`. Raises `SnapshotError` for a wrong magic, a newer
    version, a short file, a CRC mismatch or trailing bytes.
    """
    path = Path(path)
    out_path = Path(sqlite_out) if sqlite_out else path.with_name(path.name + ".sqlite")
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped to SnapshotError
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot open snapshot ({exc.strerror})") from None
    with f:
        head = f.read(len(MAGIC) + _HEAD.size)
        if len(head) < len(MAGIC) + _HEAD.size or not head.startswith(MAGIC):
            raise SnapshotError(f"{path}: not a raftcron snapshot")
        version, parts = _HEAD.unpack(head[len(MAGIC):])
        if version > CONTAINER_VERSION:
            raise SnapshotError(
                f"{path}: snapshot version {version} is newer than this build reads "
                f"({CONTAINER_VERSION}): upgrade this peer"
            )
        if parts != 2:
            raise SnapshotError(f"{path}: expected 2 parts, found {parts}")
        total = os.fstat(f.fileno()).st_size
        length, crc = _read_part_head(f, path, total)
        blob = f.read(length)
        if zlib.crc32(blob) != crc:
            raise SnapshotError(f"{path}: raft data fails its checksum")
        length, crc = _read_part_head(f, path, total)
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        _copy_part(f, tmp, length, crc, path)
        if f.read(1):
            tmp.unlink()
            raise SnapshotError(f"{path}: trailing bytes after the last part")
    os.replace(tmp, out_path)
    return out_path, blob


def _read_part_head(f, path: Path, total: int) -> tuple[int, int]:
    raw = f.read(_PART.size)
    if len(raw) < _PART.size:
        raise SnapshotError(f"{path}: snapshot is truncated")
    length, crc = _PART.unpack(raw)
    if f.tell() + length > total:
        raise SnapshotError(f"{path}: snapshot is truncated")
    return length, crc


def _copy_part(f, tmp: Path, length: int, crc: int, path: Path) -> None:
    got = 0
    with open_private(tmp) as out:
        left = length
        while left:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                break
            got = zlib.crc32(chunk, got)
            out.write(chunk)
            left -= len(chunk)
    if left or got != crc:
        tmp.unlink()
        raise SnapshotError(f"{path}: SQLite part fails its checksum")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to fsync a directory.
    with contextlib.suppress(OSError):
        _fsync(path)
