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

import sqlite_utils

from raftcron.db.fsmodes import create_private
from raftcron.db.schema import (
    ABSENT_INDEX_SQL,
    BACKFILLS_TABLE,
    HISTORY_INDEX_SQL,
    INDEXES,
    INDEXES_V4,
    MANAGED_INDEX_SQL,
    NEXT_INDEX_SQL,
    OUTBOX_INDEX_SQL,
    TABLES,
    TRIGGER_SQL,
    UNIQUE_SQL,
    WATCH_INDEXES,
)
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
#: 4: the `history` table (the audit history of jobs and nodes: `model.audit`), the
#: `notifications` table (the notification outbox: `model.outbox`), dependencies, backfill,
#: pause on failure, slow runs (`_migrate_3_to_4_triggers`), the `blackouts` table
#: (cluster-wide blackout windows) and the `concurrency_groups` table (API group limits).
#: 5: `runs.held` (a run fired ahead of its slot, started only once confirmed: a pending one
#: can be moved off a silent peer, `state.runs.move_run`).
SCHEMA_VERSION = 5


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
    conn.execute(NEXT_INDEX_SQL)
    conn.execute(ABSENT_INDEX_SQL)
    conn.execute(MANAGED_INDEX_SQL)


def migrate_blackouts(conn: sqlite3.Connection) -> None:
    """Version 4, blackout windows: the `blackouts` table. Idempotent (a step of its own, so
    it composes with the other version-4 additions in one migration)."""
    columns, pk, not_null, defaults = TABLES["blackouts"]
    wrap(conn)["blackouts"].create(columns, pk=pk, not_null=not_null, defaults=defaults,
                                   strict=True, if_not_exists=True)


def migrate_groups(conn: sqlite3.Connection) -> None:
    """Version 4, concurrency groups: the `concurrency_groups` table. Idempotent."""
    columns, pk, not_null, defaults = TABLES["concurrency_groups"]
    wrap(conn)["concurrency_groups"].create(columns, pk=pk, not_null=not_null,
                                            defaults=defaults, strict=True, if_not_exists=True)


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    _create_table(wrap(conn), "history")  # empty: older changes were never recorded
    conn.execute(HISTORY_INDEX_SQL)
    _create_table(wrap(conn), "notifications")
    for sql in OUTBOX_INDEX_SQL:
        conn.execute(sql)
    _migrate_3_to_4_triggers(conn)
    migrate_blackouts(conn)
    migrate_groups(conn)


def _migrate_4_to_5(conn: sqlite3.Connection) -> None:
    # Every run of an older copy was fired without the confirmation rule: not held.
    conn.execute("ALTER TABLE runs ADD COLUMN held INTEGER NOT NULL DEFAULT 0")


#: version n -> function that migrates a copy from n to n+1 inside the open transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2,
                                                                2: _migrate_2_to_3,
                                                                3: _migrate_3_to_4,
                                                                4: _migrate_4_to_5}

def _migrate_3_to_4_triggers(conn: sqlite3.Connection) -> None:
    """Dependencies, backfill, pause on failure, slow runs. Idempotent: each column, table and
    index only when missing, so it composes with the other version-4 steps."""
    def columns(table: str) -> set[str]:
        return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    runs, jobs = columns("runs"), columns("jobs")
    for name, decl in (("triggered_by", "TEXT"), ("backfill", "INTEGER NOT NULL DEFAULT 0"),
                       ("slow", "INTEGER NOT NULL DEFAULT 0"),
                       ("output_truncated", "INTEGER NOT NULL DEFAULT 0")):
        if name not in runs:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
    if "pause_reason" not in jobs:
        conn.execute("ALTER TABLE jobs ADD COLUMN pause_reason TEXT")
    db = wrap(conn)
    if not db["backfills"].exists():
        cols, pk, not_null, defaults = BACKFILLS_TABLE
        db["backfills"].create(cols, pk=pk, not_null=not_null, defaults=defaults, strict=True)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    for table, cols in INDEXES_V4:
        if f"{table}_{'_'.join(cols)}" not in indexes:
            db[table].create_index(cols, index_name=f"{table}_{'_'.join(cols)}")
    for sql in TRIGGER_SQL:
        if sql.split()[2 if sql.startswith("CREATE INDEX") else 3] not in indexes:
            conn.execute(sql)


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


def ensure_watch_indexes(conn: sqlite3.Connection) -> None:
    """Add `schema.WATCH_INDEXES` where missing (a copy made by an older build, or restored
    from its snapshot). They change no row, so no schema version counts them."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    missing = [sql for name, sql in WATCH_INDEXES.items() if name not in have]
    if not missing:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql in missing:
            conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    _check_or_migrate(conn, path)
    ensure_watch_indexes(conn)


def _check_or_migrate(conn: sqlite3.Connection, path: Path) -> None:
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
    for name in TABLES:
        _create_table(db, name)
    for table, cols in INDEXES:
        db[table].create_index(cols, index_name=f"{table}_{'_'.join(cols)}")
    for table, cols in INDEXES_V4:
        db[table].create_index(cols, index_name=f"{table}_{'_'.join(cols)}")
    for sql in (*UNIQUE_SQL, NEXT_INDEX_SQL, ABSENT_INDEX_SQL, MANAGED_INDEX_SQL,
                HISTORY_INDEX_SQL, *OUTBOX_INDEX_SQL, *TRIGGER_SQL, *WATCH_INDEXES.values()):
        conn.execute(sql)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("applied_index", "0")],
    )


def _create_table(db: sqlite_utils.Database, name: str) -> None:
    columns, pk, not_null, defaults = TABLES[name]
    db[name].create(columns, pk=pk, not_null=not_null, defaults=defaults, strict=True)
