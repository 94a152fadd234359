"""`ReadDb`: read-only access to a peer's SQLite copy, one connection per thread.

Each method is one of the typed queries in `queries`, run on the calling thread's own
read-only connection (opened on first use). The daemon calls it off the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from raftcron.db import metric_queries, queries
from raftcron.db.sqlite import open_reader, read_meta, wrap

__all__ = ["ReadDb"]


class ReadDb:
    """Read-only access to a copy, one connection per thread, API-shaped results.

    Safe from any thread; each call is one short read transaction, so it never blocks apply
    (WAL) and sees a consistent state as of some applied index. Lists return
    `(items, next_cursor)`; the cursor is opaque; `limit` defaults to 100, at most 1000.
    Bad filter or paging values raise `ValidationError` naming the parameter.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = open_reader(self.path)
            with self._lock:
                self._all.append(conn)
            db = self._local.db = wrap(conn)
        return db

    def close(self) -> None:
        """Close every thread's connection (call once no thread uses this any more)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def applied_index(self) -> int:
        return int(read_meta(self._db().conn, "applied_index") or 0)

    def get_job(self, name: str) -> dict | None:
        return queries.get_job(self._db(), name)

    def list_jobs(self, *, status: str | None = None, role: str | None = None,
                  label: str | None = None, limit: int | None = None,
                  cursor: str | None = None) -> tuple[list[dict], str | None]:
        return queries.list_jobs(self._db(), status=status, role=role, label=label,
                                 limit=limit, cursor=cursor)

    def get_run(self, run_id: str) -> dict | None:
        return queries.get_run(self._db(), run_id)

    def list_runs(self, *, job: str | None = None, status: str | Iterable[str] | None = None,
                  peer: str | None = None, since: str | None = None, until: str | None = None,
                  limit: int | None = None,
                  cursor: str | None = None) -> tuple[list[dict], str | None]:
        return queries.list_runs(self._db(), job=job, status=status, peer=peer, since=since,
                                 until=until, limit=limit, cursor=cursor)

    def list_nodes(self, *, limit: int | None = None,
                   cursor: str | None = None) -> tuple[list[dict], str | None]:
        return queries.list_nodes(self._db(), limit=limit, cursor=cursor)

    def get_node(self, name: str) -> dict | None:
        return queries.get_node(self._db(), name)

    def peer_apis(self) -> dict[str, str]:
        """Peer id -> the API address it announced (peers that never announced: absent)."""
        return queries.peer_apis(self._db())

    def get_peer(self, peer: str) -> dict | None:
        """A peer's announcement: `id`, `api`, `version`, `updated_at`; None if none."""
        return queries.get_peer(self._db(), peer)

    def active_runs(self) -> list[dict]:
        return queries.active_runs(self._db())

    def runs_for_peer(self, peer: str, statuses: Iterable[str]) -> list[dict]:
        return queries.runs_for_peer(self._db(), peer, statuses)

    def active_run_count(self, peer: str) -> int:
        return queries.active_run_count(self._db(), peer)

    def job_cursors(self) -> dict[str, str | None]:
        return queries.job_cursors(self._db())

    def managed_jobs(self) -> dict[str, str]:
        """Job name -> `managed_by` for every file-managed job."""
        return queries.managed_jobs(self._db())

    def all_jobs_for_scheduler(self) -> list[dict]:
        return queries.all_jobs_for_scheduler(self._db())

    def recent_assignments(self, since: str) -> dict[str, int]:
        return queries.recent_assignments(self._db(), since)

    def run_counts(self, job: str) -> dict[str, int]:
        return queries.run_counts(self._db(), job)

    def last_run(self, job: str) -> dict | None:
        return queries.last_run(self._db(), job)

    def runs_to_prune(self, keep_per_job_default: int, max_age_before: str | None,
                      *, limit: int = 10000) -> list[str]:
        return queries.runs_to_prune(self._db(), keep_per_job_default, max_age_before,
                                     limit=limit)

    def status_counts(self) -> dict[str, int]:
        return queries.status_counts(self._db())

    def metric_counts(self, reason_classes: Sequence[tuple[str, str]],
                      other: str) -> dict[str, Any]:
        """The grouped counts behind /metrics (`metric_queries.metric_counts`)."""
        return metric_queries.metric_counts(self._db(), reason_classes, other)
