"""Turn a backup (`GET /backup`, `raftcron backup FILE`) into one peer's data directory.

`prepare_data_dir(backup, data_dir, force=...)` is what `raftcron restore` runs. Run it for
every peer of a NEW cluster with the same backup file, then start the peers: the cluster
starts with the backed-up jobs, nodes and run history, and the leader fires the jobs from
their recorded fences (each job's catch-up policy decides about the slots missed meanwhile).

Why the Raft metadata is reset. The copy records the raft index it last applied
(`meta.applied_index`), and the state machine treats every entry at or below it as already
applied. A new cluster's raft log starts again at index 1, so a copy that kept the old
index would silently skip the new cluster's first N entries. The restored copy therefore has
`applied_index = 0`, and no idempotency keys (`applied_keys` are tied to old log indexes and
to old clients' retries). There is no raft journal or dump in the result: the copy is the
whole state, and the new log replays on top of it.

Every peer must be restored from the SAME file: each then holds the same copy at index 0 and
applies the same new entries, so the copies stay identical. A peer started with an empty data
directory next to restored ones would hold a different state at the same index.

Checks before anything is written: the file is a SQLite database with raftcron's `meta`
table, its schema version is one this build reads (a newer one is refused, naming both
versions), and `PRAGMA quick_check` passes. A data directory that holds anything is refused
unless `force`, which replaces only raftcron's own files (the state copy and the raft
journal and dump) and keeps the rest. The state copy is written under a temporary name and
renamed into place, fully reset, so an interrupted restore never leaves a copy with the old
index behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from raftcron.db import snapshot
from raftcron.db.sqlite import MIGRATIONS, SCHEMA_VERSION, STATE_FILE, read_meta
from raftcron.errors import RestoreError, SchemaVersionError

#: The state copy's file name inside a data directory (the daemon opens this one).
#: raftcron's own files in a data directory: the copy (and its WAL side files) and
#: pysyncobj's journal (+ .meta) and dump, which belong to the old cluster's log.
OWN_FILES = ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm",
             "state.sqlite3-journal")
RAFT_GLOB = "raft.*"
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Restored:
    """What `prepare_data_dir` wrote: the old cluster's applied index and the row counts."""

    state_file: Path
    backup_index: int
    jobs: int
    runs: int
    nodes: int


def check_backup(path: Path) -> int:
    """Validate a backup file; return the applied index it was taken at.

    Raises `RestoreError` (not a raftcron state file, damaged) or `SchemaVersionError`
    (a schema this build cannot read).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise RestoreError(f"{path}: cannot read the backup ({exc.strerror})",
                           field="file") from None
    if head != _SQLITE_MAGIC:
        raise RestoreError(f"{path}: not a raftcron backup (not a SQLite file)", field="file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = _schema_version(conn, path)
    finally:
        conn.close()
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: backup has schema version {found}, newer than this raftcron reads "
            f"({SCHEMA_VERSION}); restore it with a raftcron at least as new as the one that "
            "took it")
    if found < SCHEMA_VERSION and not all(v in MIGRATIONS for v in range(found, SCHEMA_VERSION)):
        raise SchemaVersionError(
            f"{path}: backup has schema version {found}, and this raftcron "
            f"({SCHEMA_VERSION}) has no migration from it; restore it with an older raftcron")
    try:
        return snapshot.check_copy(path) if found == SCHEMA_VERSION else _quick_check(path)
    except snapshot.SnapshotError as exc:
        raise RestoreError(exc.message, field="file") from None


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        found = read_meta(conn, "schema_version")
    except sqlite3.DatabaseError:
        found = None
    if found is None or not found.isdigit():
        raise RestoreError(f"{path}: not a raftcron backup (no schema version)", field="file")
    return int(found)


def _quick_check(path: Path) -> int:
    # An older schema: check_copy insists on this build's version, so check by hand; the
    # daemon migrates the copy when it opens it.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
        index = read_meta(conn, "applied_index")
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{path}: damaged backup ({exc})", field="file") from None
    finally:
        conn.close()
    if problems != ["ok"] or index is None or not index.isdigit():
        raise RestoreError(f"{path}: damaged backup", field="file")
    return int(index)


def prepare_data_dir(backup: Path, data_dir: Path, *, force: bool = False) -> Restored:
    """Write `data_dir/state.sqlite3` from `backup`, reset for a new raft log (module doc).

    Raises `RestoreError` for a bad backup or a non-empty `data_dir` without `force`, and
    `SchemaVersionError` for a schema this build cannot read; nothing is written then.
    """
    backup, data_dir = Path(backup), Path(data_dir)
    backup_index = check_backup(backup)
    if data_dir.exists() and not data_dir.is_dir():
        raise RestoreError(f"{data_dir}: not a directory", field="data_dir")
    present = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
    if present and not force:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise RestoreError(
            f"{data_dir}: data directory is not empty ({shown}); restore into a new directory, "
            "or pass --force to replace its raftcron state and raft log", field="data_dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    staged = data_dir / f".{STATE_FILE}.restore"
    _remove(staged)
    try:
        source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            snapshot.backup_to(source, staged)
        finally:
            source.close()
        counts = _reset_raft_metadata(staged)
        # The old journal and dump must go before the copy appears: pysyncobj would replay
        # the old log into it.
        for name in OWN_FILES:
            _remove(data_dir / name)
        for stale in data_dir.glob(RAFT_GLOB):
            _remove(stale)
        os.replace(staged, data_dir / STATE_FILE)
    finally:
        _remove(staged)
    return Restored(state_file=data_dir / STATE_FILE, backup_index=backup_index, **counts)


def _reset_raft_metadata(path: Path) -> dict[str, int]:
    """Forget the old log: applied index 0, no idempotency keys. Returns the row counts."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'applied_index'")
        conn.execute("DELETE FROM applied_keys")
        conn.execute("COMMIT")
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("jobs", "runs", "nodes")}
        conn.execute("VACUUM")  # the dropped keys leave no pages behind
    finally:
        conn.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # durable before it is renamed into place
    finally:
        os.close(fd)
    return counts


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
