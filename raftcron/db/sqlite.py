"""The SQLite copy of the state: schema, version, pragmas and connections.

Every peer keeps one SQLite file, written by exactly one connection (the state machine's, on
pysyncobj's thread) and read by any number of read-only connections (`reader.ReadDb`, one per
thread, used by the API and the scheduler off the event loop). WAL mode lets readers run while apply
writes. The schema carries a version in `meta`; a copy written by another version is refused
on open with `SchemaVersionError`, unless a migration in `MIGRATIONS` leads to this one.

Times are stored in one fixed-width form (`db.times.db_time`) so that string order is time
order for the fence and for every `ORDER BY`; reads turn them back into the `format_time` form.

The only importer of sqlite3 and sqlite-utils besides `queries`, `state*`, `snapshot` and
`restore`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from raftcron.db.fsmodes import create_private
from raftcron.db.times import api_time, db_time
from raftcron.errors import SchemaVersionError

#: The file name of a peer's SQLite copy inside its data directory.
STATE_FILE = "state.sqlite3"

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STATE_FILE",
    "api_time",
    "check_readable",
    "db_time",
    "open_reader",
    "open_writer",
]

#: Bump on any change to the tables below, and add a migration from the previous version.
#: 2: `jobs.managed_by` (the file in `--jobs-dir` that defines a job) and the `peers` table
#: (each peer's API address, announced by the peer itself).
#: 3: `jobs.next_slot` and `jobs.next_fire_at` (the job's next slot and fire time, as its
#: proposer computed them), indexed with `status` so the leader reads only what is due soon;
#: a partial index of the jobs watched for `absent` (the dead man's switch).
#: 4: the `blackouts` table (cluster-wide blackout windows, `put_blackout`) and the
#: `concurrency_groups` table (limits set through the API, `put_group`).
SCHEMA_VERSION = 4


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # ADD COLUMN appends, as create_schema puts the column last: a migrated copy has the
    # same columns in the same order as a new one (`dump()` compares rows positionally).
    conn.execute("ALTER TABLE jobs ADD COLUMN managed_by TEXT")
    # The table as version 2 defined it (a later version migrates it on from there).
    wrap(conn)["peers"].create({"id": str, "api": str, "version": int, "updated_at": str},
                               pk="id", not_null=["api", "version", "updated_at"], strict=True)


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    # The next fire times stay NULL: a migration cannot compute them (that takes the schedule
    # and the clock, which the copy must never depend on). NULL means "not known": the
    # leader's window reads such a job as due now, plans it, and its next `fire` (or an empty
    # one carrying only `next`) writes the value, so old data dirs load and converge.
    conn.execute("ALTER TABLE jobs ADD COLUMN next_slot TEXT")
    conn.execute("ALTER TABLE jobs ADD COLUMN next_fire_at TEXT")
    conn.execute(_NEXT_INDEX_SQL)
    conn.execute(_ABSENT_INDEX_SQL)
    conn.execute(_MANAGED_INDEX_SQL)


def migrate_blackouts(conn: sqlite3.Connection) -> None:
    """Version 4, blackout windows: the `blackouts` table. Idempotent (a step of its own, so
    it composes with the other version-4 additions in one migration)."""
    columns, pk, not_null, defaults = _TABLES["blackouts"]
    wrap(conn)["blackouts"].create(columns, pk=pk, not_null=not_null, defaults=defaults,
                                   strict=True, if_not_exists=True)


def migrate_groups(conn: sqlite3.Connection) -> None:
    """Version 4, concurrency groups: the `concurrency_groups` table. Idempotent."""
    columns, pk, not_null, defaults = _TABLES["concurrency_groups"]
    wrap(conn)["concurrency_groups"].create(columns, pk=pk, not_null=not_null,
                                            defaults=defaults, strict=True, if_not_exists=True)


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    migrate_blackouts(conn)
    migrate_groups(conn)


#: version n -> function that migrates a copy from n to n+1 inside the open transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2,
                                                                2: _migrate_2_to_3,
                                                                3: _migrate_3_to_4}

_TABLES: dict[str, tuple[dict[str, type], str, list[str], dict[str, Any]]] = {
    # table: (columns, primary key, NOT NULL columns, defaults)
    "meta": ({"key": str, "value": str}, "key", ["value"], {}),
    "jobs": (
        {
            "name": str,
            "spec": str,  # the canonical job dict, JSON, as put_job carried it
            "expanded": str,  # the schedule with H fields expanded
            "paused": int,
            "status": str,  # scheduled | paused | finished
            "version": int,
            "created_at": str,
            "updated_at": str,
            "cursor": str,  # the last slot fired (the fence); NULL before the first
            "fired_count": int,  # pending scheduled fires, counted toward max_runs
            # "file:<path in --jobs-dir>" for a job a file defines (the API may not change
            # it); NULL for a job made through the API.
            "managed_by": str,
            # The next slot after the cursor and its fire time (slot + jitter), computed by
            # the command's proposer; NULL when not known (the leader plans the job to learn
            # it). A lower bound: the job is never due before `next_fire_at`.
            "next_slot": str,
            "next_fire_at": str,
        },
        "name",
        ["spec", "paused", "status", "version", "created_at", "updated_at", "fired_count"],
        {"paused": 0, "fired_count": 0},
    ),
    "runs": (
        {
            "id": str,
            "job": str,
            "slot": str,
            "attempt": int,
            "peer": str,
            "target": str,
            "status": str,
            "fired_at": str,
            "started_at": str,
            "finished_at": str,
            "exit_code": int,
            "stdout_tail": str,
            "stderr_tail": str,
            "reason": str,
            "manual": int,
            "retry_of": str,
            "cancel_requested": int,
            "output_bytes": int,
        },
        "id",
        ["job", "slot", "attempt", "status", "fired_at", "stdout_tail", "stderr_tail",
         "manual", "cancel_requested", "output_bytes"],
        {"stdout_tail": "", "stderr_tail": "", "manual": 0, "cancel_requested": 0,
         "output_bytes": 0},
    ),
    "nodes": (
        {
            "name": str,
            "spec": str,
            "healthy": int,
            "health_reason": str,
            "health_at": str,
            "created_at": str,
            "updated_at": str,
        },
        "name",
        ["spec", "created_at", "updated_at"],
        {},
    ),
    "applied_keys": ({"key": str, "idx": int, "result": str}, "key", ["idx", "result"], {}),
    # What each peer announced about itself (put_peer): its API's base URL, for proxying.
    "peers": (
        {"id": str, "api": str, "version": int, "updated_at": str},
        "id",
        ["api", "version", "updated_at"],
        {},
    ),
    # Cluster-wide blackout windows (put_blackout): a cron expression in a zone.
    "blackouts": (
        {"name": str, "schedule": str, "tz": str, "description": str, "version": int,
         "created_at": str, "updated_at": str},
        "name",
        ["schedule", "tz", "description", "version", "created_at", "updated_at"],
        {"description": ""},
    ),
    # Concurrency group limits set through the API (put_group).
    "concurrency_groups": (
        {"name": str, "limit": int, "version": int, "created_at": str, "updated_at": str},
        "name",
        ["limit", "version", "created_at", "updated_at"],
        {},
    ),
}

_INDEXES = [
    ("runs", ["job", "slot"]),
    ("runs", ["job", "fired_at", "id"]),
    ("runs", ["status"]),
    ("runs", ["peer", "status"]),
    ("runs", ["fired_at", "id"]),
    ("applied_keys", ["idx"]),
]

#: The leader's window: scheduled jobs due before a time, in order (`scheduler_queries.due_jobs`).
_NEXT_INDEX_SQL = "CREATE INDEX jobs_status_next_fire_at ON jobs (status, next_fire_at)"
#: The jobs whose `notify.on` lists `absent` (the dead man's switch reads only these:
#: `queries.absent_watched_jobs` repeats this exact condition so SQLite uses the index).
ABSENT_CONDITION = "instr(json_extract(spec, '$.notify.on'), '\"absent\"') > 0"
_ABSENT_INDEX_SQL = f"CREATE INDEX jobs_watch_absent ON jobs (name) WHERE {ABSENT_CONDITION}"
#: The file-managed jobs (`queries.managed_jobs`, read before every batch write).
_MANAGED_INDEX_SQL = "CREATE INDEX jobs_managed ON jobs (name) WHERE managed_by IS NOT NULL"

# Backstops for the fence, which apply checks first: one scheduled run per (job, slot,
# attempt, target), and one retry per (run retried, attempt).
_UNIQUE_SQL = [
    "CREATE UNIQUE INDEX runs_scheduled_unique ON runs (job, slot, attempt, ifnull(target, ''))"
    " WHERE manual = 0 AND retry_of IS NULL",
    "CREATE UNIQUE INDEX runs_retry_unique ON runs (retry_of, attempt) WHERE retry_of IS NOT NULL",
]


def wrap(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """sqlite-utils around one of our connections (no plugins, no pragma changes)."""
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def open_writer(path: Path) -> sqlite3.Connection:
    """The one read-write connection of a copy: creates the schema or checks its version.

    WAL lets readers run while apply writes. `synchronous=NORMAL` does not fsync on each
    commit: pysyncobj never fsyncs its own journal, so a power loss can lose acknowledged
    entries whatever SQLite does, and after a crash of the process (not the machine) WAL with
    NORMAL loses nothing. The caller owns the connection and uses it from one thread at a time.
    """
    # 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
    create_private(path)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        _ensure_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (`mode=ro`): any write through it fails. Checks the version."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        check_version(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def check_version(conn: sqlite3.Connection, path: Path | str) -> None:
    """Raise `SchemaVersionError` unless the copy at `conn` is at `SCHEMA_VERSION`."""
    try:
        found = read_meta(conn, "schema_version")
    except sqlite3.DatabaseError as exc:
        raise SchemaVersionError(f"{path}: not a raftcron state copy ({exc})") from None
    if found != str(SCHEMA_VERSION):
        raise SchemaVersionError(_version_message(path, found))


def check_readable(conn: sqlite3.Connection, path: Path | str) -> int:
    """The schema version of the copy at `conn` if this build can read it, at once or after
    the migrations in `MIGRATIONS` (which `open_writer` runs); `SchemaVersionError` if not."""
    try:
        found = read_meta(conn, "schema_version")
    except sqlite3.DatabaseError as exc:
        raise SchemaVersionError(f"{path}: not a raftcron state copy ({exc})") from None
    version = int(found) if found and found.isdigit() else None
    if version is not None and _migratable(version):
        return version
    raise SchemaVersionError(_version_message(path, found))


def _migratable(version: int) -> bool:
    return version == SCHEMA_VERSION or (
        version < SCHEMA_VERSION and all(v in MIGRATIONS for v in range(version, SCHEMA_VERSION)))


def _version_message(path: Path | str, found: str | None) -> str:
    return (
        f"{path}: state copy has schema version {found}, this build uses {SCHEMA_VERSION}; "
        "run the matching raftcron version, or move the data dir away so this peer "
        "catches up from the others"
    )


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        conn.execute("BEGIN IMMEDIATE")
        try:
            create_schema(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return
    if "meta" not in tables:
        raise SchemaVersionError(f"{path}: not a raftcron state copy (no meta table)")
    found = read_meta(conn, "schema_version")
    version = int(found) if found and found.isdigit() else None
    if version is not None and version < SCHEMA_VERSION and _migratable(version):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for v in range(version, SCHEMA_VERSION):
                MIGRATIONS[v](conn)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(_version_message(path, found))


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table and index in an empty database (inside the caller's transaction)."""
    db = wrap(conn)
    for name, (columns, pk, not_null, defaults) in _TABLES.items():
        db[name].create(columns, pk=pk, not_null=not_null, defaults=defaults, strict=True)
    for table, cols in _INDEXES:
        db[table].create_index(cols, index_name=f"{table}_{'_'.join(cols)}")
    for sql in (*_UNIQUE_SQL, _NEXT_INDEX_SQL, _ABSENT_INDEX_SQL, _MANAGED_INDEX_SQL):
        conn.execute(sql)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("applied_index", "0")],
    )


