"""Log compaction with the SQLite copy as the snapshot (pysyncobj's serializer hooks).

pysyncobj calls `serializer(tmp_file, raft_data)` and `deserializer(file)` in its own thread.
A synchronous serializer that copies a large SQLite file stalls that thread long enough to
depose the leader, and pysyncobj's default (fork) must never happen with SQLite open. So:

- `serializer` (raft thread) records the raft data and this peer's applied index, starts a
  worker thread and returns at once. pysyncobj then tries to rename `tmp_file`, which we never
  create: that fails quietly and leaves pysyncobj in its "custom serializer running" state, in
  which it polls `checker` every tick.
- The worker thread copies the SQLite file (`StateMachine.backup_to`, which must not block
  `apply` for the duration of the copy), packs it with the raft data
  (`snapshot.write_snapshot`) and atomically replaces the dump file.
- `checker` (raft thread) reports SERIALIZING until the worker is done, then SUCCESS or FAILED
  exactly once; on SUCCESS pysyncobj drops the compacted journal entries.
- `deserializer` (raft thread: at start-up, and when the leader installs a snapshot here)
  unpacks the file and restores the SQLite copy only if this peer's copy is behind the one in
  the snapshot. A copy that is ahead already contains everything the snapshot does (every
  command at or below the snapshot's raft index was applied to it), and `apply` skips the
  entries pysyncobj then replays. That keeps a restart from copying the database.

The raft data (two log entries and the member list) travels as JSON, never pickle.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pysyncobj.config import SERIALIZER_STATE
from pysyncobj.node import TCPNode

from raftcron.db import snapshot
from raftcron.errors import RaftcronError, SnapshotError

log = logging.getLogger(__name__)

RAFT_DATA_VERSION = 1
#: Seconds before a failed snapshot is tried again (the log keeps growing meanwhile).
RETRY_AFTER_FAILURE = 30.0


def encode_raft_data(raft_data: tuple[Any, ...], state_index: int) -> bytes:
    """pysyncobj's `(last_entry, previous_entry, cluster)` + the SQLite copy's index -> JSON."""
    last, prev, cluster = raft_data

    def entry(e: tuple[bytes, int, int]) -> list[Any]:
        return [base64.b64encode(bytes(e[0])).decode("ascii"), int(e[1]), int(e[2])]

    members = sorted(getattr(n, "id", str(n)) for n in cluster)
    doc = {"v": RAFT_DATA_VERSION, "last": entry(last), "prev": entry(prev),
           "cluster": members, "state_index": int(state_index)}
    return json.dumps(doc, sort_keys=True).encode("utf-8")


def decode_raft_data(blob: bytes) -> tuple[tuple[Any, ...], int]:
    """Inverse of `encode_raft_data`: `((last, prev, cluster), state_index)`.

    Entries come back as `(bytes, int, int)` tuples, equal to pysyncobj's journal entries (it
    compares them to decide whether to keep its journal).
    """
    try:
        doc = json.loads(blob.decode("utf-8"))
        if doc.get("v") != RAFT_DATA_VERSION:
            raise SnapshotError(f"raft data version {doc.get('v')!r} is not {RAFT_DATA_VERSION}")

        def entry(e: list[Any]) -> tuple[bytes, int, int]:
            return (base64.b64decode(e[0]), int(e[1]), int(e[2]))

        cluster = {TCPNode(addr) for addr in doc["cluster"]}
        return (entry(doc["last"]), entry(doc["prev"]), cluster), int(doc["state_index"])
    except SnapshotError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SnapshotError(f"unreadable raft data in snapshot: {exc}") from exc


class SnapshotHooks:
    """The serializer / serializeChecker / deserializer trio for one peer.

    `on_loaded(restored)` is called in the raft thread after every successful load (start-up or
    install), `restored` telling whether the SQLite copy was replaced. `on_fatal(message)` is
    called when a snapshot cannot be loaded: carrying on would let this copy diverge.
    """

    def __init__(self, *, state: Any, dump_file: Path,
                 on_loaded: Callable[[bool], None], on_fatal: Callable[[str], None]) -> None:
        self._state = state
        self._dump_file = Path(dump_file)
        self._on_loaded = on_loaded
        self._on_fatal = on_fatal
        self._lock = threading.Lock()
        self._status = SERIALIZER_STATE.NOT_SERIALIZING
        self._thread: threading.Thread | None = None
        self._failed_at = float("-inf")
        self.snapshots_written = 0
        self.snapshots_loaded = 0

    # --- serializing (raft thread starts it, a worker thread does it) ------------------------

    def serializer(self, tmp_file: str, raft_data: tuple[Any, ...]) -> None:
        # pysyncobj renames tmp_file onto the dump after we return: make sure there is
        # nothing there for it to rename, so the real dump is only ever written by the worker.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_file)
        blob = encode_raft_data(raft_data, self._state.applied_index)
        with self._lock:
            self._status = SERIALIZER_STATE.SERIALIZING
        self._thread = threading.Thread(target=self._write, args=(blob,),
                                        name="raftcron-snapshot", daemon=True)
        self._thread.start()

    def _write(self, blob: bytes) -> None:
        part = self._dump_file.with_name(self._dump_file.name + ".sqlite.part")
        packed = self._dump_file.with_name(self._dump_file.name + ".part")
        status = SERIALIZER_STATE.FAILED
        try:
            self._state.backup_to(part)
            snapshot.write_snapshot(packed, part, blob)
            os.replace(packed, self._dump_file)
            status = SERIALIZER_STATE.SUCCESS
            self.snapshots_written += 1
            log.info("snapshot written: %s (%d bytes)", self._dump_file,
                     self._dump_file.stat().st_size)
        except Exception:
            self._failed_at = time.monotonic()
            log.exception("writing the snapshot failed; the log is kept and retried later")
        finally:
            for leftover in (part, packed):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            with self._lock:
                self._status = status

    def checker(self) -> int:
        with self._lock:
            status = self._status
            if status in (SERIALIZER_STATE.SUCCESS, SERIALIZER_STATE.FAILED):
                self._status = SERIALIZER_STATE.NOT_SERIALIZING
            return status

    @property
    def can_start(self) -> bool:
        """No snapshot is being written, and the last failure (if any) is not recent."""
        if self._status != SERIALIZER_STATE.NOT_SERIALIZING:
            return False
        return time.monotonic() - self._failed_at > RETRY_AFTER_FAILURE

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- loading (raft thread) ---------------------------------------------------------------

    def deserializer(self, path: str) -> tuple[Any, ...]:
        extracted: Path | None = None
        try:
            sqlite_path, blob = snapshot.read_snapshot(Path(path))
            extracted = Path(sqlite_path)
            raft_data, snap_index = decode_raft_data(blob)
            restored = False
            if self._state.applied_index < snap_index:
                self._state.restore_from(extracted)
                restored = True
            log.info("snapshot loaded: raft index %d, state index %d (%s)", raft_data[0][1],
                     snap_index, "copy restored" if restored else "copy already ahead, kept")
        except Exception as exc:
            message = exc.message if isinstance(exc, RaftcronError) else repr(exc)
            self._on_fatal(f"cannot load snapshot {path}: {message}")
            raise
        finally:
            if extracted is not None and extracted != Path(path):
                with contextlib.suppress(FileNotFoundError):
                    extracted.unlink()
        self.snapshots_loaded += 1
        self._on_loaded(restored)
        return raft_data
