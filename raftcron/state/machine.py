"""The deterministic replicated state machine: `apply(index, payload) -> result` into SQLite.

Thin on purpose (rqlite's fsm): decode, dispatch by op, write, return a result. Every peer
applies the same entries in the same order to its own copy, so the copies stay identical:
apply reads nothing but the entry and the copy (no clock, no randomness, no other file).

- One SQLite transaction per entry, which also records `applied_index`: a restart never
  applies an entry twice nor skips one, and an entry at or below `applied_index` is a no-op.
- Idempotency: an entry (or a batch entry) with a `key` applied before returns the result
  stored then and changes nothing. Keys are forgotten `KEY_RETENTION` indexes later, by
  apply itself, so every copy forgets the same keys at the same entry.
- Business errors are results (`state_results`). A corrupt entry raises `CommandDecodeError`
  before anything is written: it is fatal, on every peer alike. SQLite's own environmental
  failures (disk full, I/O) are re-raised after a rollback rather than turned into results,
  because another peer would not see them and the copies would diverge; pysyncobj then
  retries the entry.

Threads: `apply`, `restore_from`, `load_snapshot` and `close` are serialized by the caller
(pysyncobj's thread). `backup_to`, `save_snapshot` and `result_for_key` use connections of
their own and may run on any thread while apply goes on.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from raftcron.db import snapshot
from raftcron.db.sqlite import open_reader, open_writer, read_meta
from raftcron.errors import ValidationError
from raftcron.model.audit import AUDITED_OPS
from raftcron.model.commands import Command, decode, validate_args
from raftcron.state import blackouts as state_blackouts
from raftcron.state import fanout as state_fanout
from raftcron.state import groups as state_groups
from raftcron.state import jobs as state_jobs
from raftcron.state import outbox
from raftcron.state import peers as state_peers
from raftcron.state import runs as state_runs
from raftcron.state import triggers as state_triggers
from raftcron.state.history import audited
from raftcron.state.results import error, ok

log = logging.getLogger(__name__)

#: An idempotency key is honoured for this many log indexes after it was applied (minutes
#: at the busiest; a client retries within seconds).
KEY_RETENTION = 200_000

Handler = Callable[[sqlite3.Connection, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    # The changes to jobs and nodes are recorded in the audit history (`history.audited`).
    **{op: audited(op, getattr(state_jobs, op)) for op in AUDITED_OPS},
    "finish_job": state_jobs.finish_job,
    "node_health": state_jobs.node_health,
    "fire": state_runs.fire,
    "run_started": state_runs.run_started,
    "move_run": state_runs.move_run,
    "run_finished": state_runs.run_finished,
    "run_lost": state_runs.run_lost,
    "cancel_run": state_runs.cancel_run,
    "prune_runs": state_runs.prune_runs,
    "put_peer": state_peers.put_peer,
    "notify_intent": outbox.notify_intent,
    "notify_result": outbox.notify_result,
    "put_blackout": state_blackouts.put_blackout,
    "delete_blackout": state_blackouts.delete_blackout,
    "fanout_step": state_fanout.fanout_step,
    "put_group": state_groups.put_group,
    "delete_group": state_groups.delete_group,
    "noop": lambda conn, args: ok(),
    # Version 4 (model.commands_v4).
    "trigger": state_triggers.trigger,
    "backfill": state_triggers.backfill,
    "pause_reason": state_triggers.pause_reason,
    "run_slow": state_triggers.run_slow,
}


class StateMachine:
    """One peer's copy of the state, written only through `apply`."""

    def __init__(self, db_path: Path) -> None:
        """Open (or create) the copy at `db_path`; `SchemaVersionError` if another version."""
        self.db_path = Path(db_path)
        self._conn = open_writer(self.db_path)
        self._applied = int(read_meta(self._conn, "applied_index") or 0)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    @property
    def applied_index(self) -> int:
        return self._applied

    def apply(self, index: int, payload: bytes) -> dict[str, Any]:
        """Apply the log entry at `index`; see the module docstring for the guarantees.
        Raises `CommandDecodeError` for an entry that is not a command this build reads."""
        if index <= self._applied:
            return {"ok": True, "duplicate_index": True}
        return self.apply_command(index, decode(payload))

    def apply_command(self, index: int, command: Command) -> dict[str, Any]:
        """`apply` for an entry its caller has decoded already (`commands.decode`)."""
        if index <= self._applied:
            return {"ok": True, "duplicate_index": True}
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = self._run(command, index)
            if index > KEY_RETENTION:
                conn.execute("DELETE FROM applied_keys WHERE idx <= ?", (index - KEY_RETENTION,))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'applied_index'", (str(index),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._applied = index
        return result

    def _run(self, command: Command, index: int, *, own_savepoint: bool = True
             ) -> dict[str, Any]:
        """One command, honouring its idempotency key (batch entries have their own).
        `own_savepoint=False`: the caller undoes the whole command when it is refused (an
        atomic batch's entries), so it needs no savepoint of its own."""
        conn = self._conn
        if command.key is not None:
            row = conn.execute("SELECT result FROM applied_keys WHERE key = ?",
                               (command.key,)).fetchone()
            if row is not None:
                return json.loads(row[0])
        if command.op == "batch" and command.problem is not None:
            result = error("invalid_args", command.problem, field="commands")
        elif command.op == "batch" and command.args.get("atomic") is True:
            result = self._run_atomic(command, index)
        elif command.op == "batch":
            result = ok(results=[self._run_entry(child, index) for child in command.children])
        else:
            result = self._dispatch(command, own_savepoint=own_savepoint)
        if command.key is not None:
            conn.execute(
                "INSERT INTO applied_keys (key, idx, result) VALUES (?, ?, ?)",
                (command.key, index, json.dumps(result, ensure_ascii=False, allow_nan=False)),
            )
        return result

    def _run_atomic(self, command: Command, index: int) -> dict[str, Any]:
        """An atomic batch: every entry applies, or none does. The first refused entry's
        error is the result, its `field` prefixed with the entry (`commands[3].name`) and its
        position in `index`."""
        conn = self._conn
        conn.execute("SAVEPOINT atomic_batch")
        results = []
        for i, child in enumerate(command.children):
            # Entries share the batch's savepoint: a refused one undoes them all anyway, and
            # two statements fewer per entry is a tenth of a 1,000-job batch's apply.
            result = self._run_entry(child, index, own_savepoint=False)
            if not result.get("ok", True):
                conn.execute("ROLLBACK TO atomic_batch")
                conn.execute("RELEASE atomic_batch")
                field = result.get("field")
                return {**result, "index": i,
                        "field": f"commands[{i}]" + (f".{field}" if field else "")}
            results.append(result)
        conn.execute("RELEASE atomic_batch")
        return ok(results=results)

    def _run_entry(self, child: Command, index: int, *, own_savepoint: bool = True
                   ) -> dict[str, Any]:
        if child.op == "batch":
            return error("invalid_args", "a batch cannot contain a batch", field="op")
        return self._run(child, index, own_savepoint=own_savepoint)

    def _dispatch(self, command: Command, *, own_savepoint: bool = True) -> dict[str, Any]:
        try:
            args = validate_args(command.op, command.args)
        except ValidationError as exc:
            return error("invalid_args", exc.message, field=exc.field)
        conn = self._conn
        # A savepoint per command, so a refused command inside a batch leaves nothing behind.
        if own_savepoint:
            conn.execute("SAVEPOINT command")
        try:
            result = HANDLERS[command.op](conn, args)
        except ValidationError as exc:
            result = error("invalid_args", exc.message, field=exc.field)
        except sqlite3.IntegrityError as exc:
            result = error("conflict", f"refused by the state's constraints: {exc}")
        except (sqlite3.Error, MemoryError, RecursionError):
            if own_savepoint:
                conn.execute("ROLLBACK TO command")
                conn.execute("RELEASE command")
            raise
        except Exception as exc:
            # Deterministic (same entry, same copy, same code on every peer): a result, so
            # the peer keeps applying, rather than an exception that would stop it for good.
            log.exception("apply %s failed", command.op)
            result = error("internal", f"{type(exc).__name__}: {exc}")
        if own_savepoint:
            if not result.get("ok"):
                conn.execute("ROLLBACK TO command")
            conn.execute("RELEASE command")
        return result

    def result_for_key(self, key: str) -> dict[str, Any] | None:
        """The stored result of the entry applied with idempotency key `key`, if remembered."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = open_reader(self.db_path)
            row = self._reader.execute("SELECT result FROM applied_keys WHERE key = ?",
                                       (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def backup_to(self, path: Path) -> None:
        """A consistent copy of the state at `path` (SQLite backup API, atomic rename).

        Its applied index is at least the one when the call started: never behind.
        """
        source = open_reader(self.db_path)
        try:
            snapshot.backup_to(source, Path(path))
        finally:
            source.close()

    def restore_from(self, path: Path, *, force: bool = False) -> bool:
        """Replace the state by the copy at `path` (validated, one transaction).

        A copy whose applied index is not newer than this one's is not restored (returns
        False) unless `force`: entries are applied in one order everywhere, so this copy
        already holds that state, and the log entries after it are no-ops here. That keeps a
        restart fast when pysyncobj reloads an older dump.
        """
        path = Path(path)
        if not force and snapshot.check_copy(path) <= self._applied:
            return False
        snapshot.restore_into_connection(path, self._conn)
        # A fresh connection: nothing cached from the old content survives.
        self._conn.close()
        self._conn = open_writer(self.db_path)
        self._applied = int(read_meta(self._conn, "applied_index") or 0)
        return True

    def save_snapshot(self, path: Path, raft_blob: bytes) -> None:
        """`backup_to` plus `raft_blob`, packed in one container file (snapshot.py)."""
        path = Path(path)
        copy = path.with_name(path.name + ".sqlite")
        try:
            self.backup_to(copy)
            snapshot.write_snapshot(path, copy, raft_blob)
        finally:
            copy.unlink(missing_ok=True)

    def load_snapshot(self, path: Path) -> bytes:
        """Restore from a container written by `save_snapshot`; return its raft blob."""
        path = Path(path)
        copy, blob = snapshot.read_snapshot(path, path.with_name(path.name + ".restore"))
        try:
            self.restore_from(copy)
        finally:
            copy.unlink(missing_ok=True)
        return blob

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in primary-key order: two copies that applied the same
        entries dump equal (tests and convergence checks)."""
        out = {}
        for (name,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall():
            out[name] = self._conn.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
        return out

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self._conn.close()
