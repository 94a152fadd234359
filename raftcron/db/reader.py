"""`ReadDb`: read-only access to a peer's SQLite copy, one connection per thread.

Each method is one of the typed queries in `queries`, run on the calling thread's own
read-only connection (opened on first use). On the daemon's event loop a read goes through
one of two helpers:

- `ReadDb.call` runs it on a reader thread: a slow query never stalls the loop, the API or
  the scheduler. Any read whose cost grows with the data (a scan, a count over many rows, a
  big page) goes here.
- `ReadDb.quick` runs it right on the loop, for reads an index bounds (a primary-key lookup,
  a short page): those take tens of microseconds, less than the hop to a thread and back
  (and the GIL hand-offs the hop costs everyone else). Its connection never waits for a
  lock (`busy_timeout` 0): should SQLite answer busy, or the read raise `Defer` (it found
  more work than it wants to do on the loop), the same read goes to a reader thread.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from raftcron.db import (
    blackout_queries,
    dashboard_queries,
    fanout_queries,
    group_queries,
    history_queries,
    metric_queries,
    outbox_queries,
    queries,
    scheduler_queries,
    trigger_queries,
    view_queries,
)
from raftcron.db.sqlite import open_reader, read_meta, wrap
from raftcron.db.view_queries import Defer

__all__ = ["Defer", "ReadDb"]

T = TypeVar("T")
#: Reader threads of a `ReadDb`'s own pool (each keeps one read-only connection).
READ_THREADS = 4
#: Inside `quick`: the most runs a job may keep (`keep_runs`) for its counts to be read on
#: the loop (a count reads every run of the job: about a microsecond each).
QUICK_MAX_RUNS = 1000


class ReadDb:
    """Read-only access to a copy, one connection per thread, API-shaped results.

    Safe from any thread; each call is one short read transaction, so it never blocks apply
    (WAL) and sees a consistent state as of some applied index. Lists return
    `(items, next_cursor)`; the cursor is opaque; `limit` defaults to 100, at most 1000.
    Bad filter or paging values raise `ValidationError` naming the parameter.
    """

    def __init__(self, path: Path | str, *, threads: int = READ_THREADS) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def call(self, fn: Callable[..., T], *args: Any, executor: Executor | None = None,
                   **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` (a method of this `ReadDb`, or a function that reads the
        copy through one) on a reader thread, awaited from the event loop. `executor` is a
        pool of the caller's own (the API keeps one, so its reads never queue behind the
        scheduler's); by default this reader's pool."""
        if executor is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._threads,
                                                    thread_name_prefix="raftcron-read")
                executor = self._pool
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))

    async def quick(self, fn: Callable[..., T], *args: Any, executor: Executor | None = None,
                    **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the calling thread (the event loop), on a connection of
        its own that never waits for a lock; `call` with the same arguments instead when
        SQLite answers busy or `fn` raises `Defer`. Only for reads an index bounds."""
        local = self._local
        if not getattr(local, "quick", False):  # not re-entered (fn calling quick again)
            local.quick = True
            try:
                return fn(*args, **kwargs)
            except Defer:
                pass
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            finally:
                local.quick = False
        return await self.call(fn, *args, executor=executor, **kwargs)

    def _db(self) -> sqlite_utils.Database:
        local = self._local
        if getattr(local, "quick", False):
            db = getattr(local, "quick_db", None)
            if db is None:
                db = local.quick_db = wrap(self._open(busy_timeout_ms=0))
            return db
        db = getattr(local, "db", None)
        if db is None:
            db = local.db = wrap(self._open())
        return db

    def _open(self, busy_timeout_ms: int | None = None) -> sqlite3.Connection:
        conn = open_reader(self.path)
        if busy_timeout_ms is not None:
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        with self._lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        """Stop the reader pool and close every thread's connection (call once no thread
        uses this any more)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def load_job(self, name: str) -> dict | None:
        """The job with `last_run` and `counts`, or None. Inside `quick`, a job that keeps
        more than `QUICK_MAX_RUNS` runs is deferred to a thread (counting reads them all)."""
        bound = QUICK_MAX_RUNS if getattr(self._local, "quick", False) else None
        return view_queries.load_job(self._db(), name, max_runs=bound)

    def last_runs(self, names: Sequence[str]) -> dict[str, dict | None]:
        """Each job's newest run (None for a job without runs), in one query."""
        return view_queries.last_runs(self._db(), names)

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

    def pending_notifications(self, *, after: int = 0, limit: int = 500) -> list[dict]:
        """Notifications still to deliver, oldest first (`outbox_queries`)."""
        return outbox_queries.pending_notifications(self._db(), after=after, limit=limit)

    def known_notifications(self, ids: list[str]) -> set[str]:
        """Which of `ids` the outbox holds."""
        return outbox_queries.known_notifications(self._db(), ids)

    def list_notifications(self, *, status: str | None = None, job: str | None = None,
                           limit: int | None = None,
                           cursor: str | None = None) -> tuple[list[dict], str | None]:
        """The outbox, newest first (`GET /notifications`)."""
        return outbox_queries.list_notifications(self._db(), status=status, job=job,
                                                 limit=limit, cursor=cursor)

    def history(self, kind: str, name: str, *, limit: int | None = None,
                cursor: str | None = None) -> tuple[list[dict], str | None]:
        """The audit history of a job or node (`kind` "job" / "node"), newest first."""
        return history_queries.history(self._db(), kind, name, limit=limit, cursor=cursor)

    def waiting_runs(self) -> list[dict]:
        return fanout_queries.waiting_runs(self._db())

    def slot_runs(self, job: str, slot: str) -> list[dict]:
        return fanout_queries.slot_runs(self._db(), job, slot)

    def list_groups(self) -> list[dict]:
        return group_queries.list_groups(self._db())

    def get_group(self, name: str) -> dict | None:
        return group_queries.get_group(self._db(), name)

    def group_loads(self) -> dict[str, dict[str, int]]:
        return group_queries.group_loads(self._db())

    def list_blackouts(self) -> list[dict]:
        return blackout_queries.list_blackouts(self._db())

    def get_blackout(self, name: str) -> dict | None:
        return blackout_queries.get_blackout(self._db(), name)

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

    def active_runs_of(self, jobs: Sequence[str]) -> list[dict]:
        return queries.active_runs_of(self._db(), jobs)

    def active_run_jobs(self) -> dict[str, str]:
        return queries.active_run_jobs(self._db())

    def active_refs(self) -> list[dict]:
        return queries.active_refs(self._db())

    def active_groups(self) -> list[tuple[str | None, str | None, int]]:
        return queries.active_groups(self._db())

    def active_run_count(self, peer: str) -> int:
        return queries.active_run_count(self._db(), peer)

    def job_cursors(self) -> dict[str, str | None]:
        return queries.job_cursors(self._db())

    def managed_jobs(self) -> dict[str, str]:
        """Job name -> `managed_by` for every file-managed job."""
        return queries.managed_jobs(self._db())

    def all_jobs_for_scheduler(self) -> list[dict]:
        return scheduler_queries.all_jobs_for_scheduler(self._db())

    def absent_watched_jobs(self, *, limit: int, after: str | None = None
                            ) -> tuple[list[dict], str | None]:
        return queries.absent_watched_jobs(self._db(), limit=limit, after=after)

    def jobs_for_scheduler(self, names: list[str]) -> list[dict]:
        return scheduler_queries.jobs_for_scheduler(self._db(), names)

    def due_jobs(self, until: str, after: tuple[str, str] | None, limit: int) -> list[dict]:
        return scheduler_queries.due_jobs(self._db(), until, after, limit)

    def notify_jobs(self) -> list[dict]:
        return scheduler_queries.notify_jobs(self._db())

    def recent_assignments(self, since: str) -> dict[str, int]:
        return queries.recent_assignments(self._db(), since)

    def run_counts(self, job: str) -> dict[str, int]:
        return queries.run_counts(self._db(), job)

    def last_run(self, job: str) -> dict | None:
        return queries.last_run(self._db(), job)

    # Dependencies, backfills, pause on failure (`db.trigger_queries`).

    def dependents(self, job: str) -> list[dict]:
        return trigger_queries.dependents(self._db(), job)

    def graph_jobs(self) -> dict[str, tuple[list[str], list[str]]]:
        return trigger_queries.graph_jobs(self._db())

    def last_fired(self, job: str) -> str | None:
        return trigger_queries.last_fired(self._db(), job)

    def latest_success(self, job: str) -> dict | None:
        return trigger_queries.latest_success(self._db(), job)

    def triggered_runs(self, job: str, parent: str) -> int:
        return trigger_queries.triggered_runs(self._db(), job, parent)

    def trigger_index(self) -> list[dict]:
        return trigger_queries.trigger_index(self._db())

    def backfills(self, *, job: str | None = None, open_only: bool = False) -> list[dict]:
        return trigger_queries.backfills(self._db(), job=job, open_only=open_only)

    def runs_to_prune(self, keep_per_job_default: int, max_age_before: str | None,
                      *, limit: int = 10000,
                      job_range: tuple[str, str] | None = None) -> list[str]:
        return queries.runs_to_prune(self._db(), keep_per_job_default, max_age_before,
                                     limit=limit, job_range=job_range)

    def job_names(self, after: str, limit: int) -> list[str]:
        return queries.job_names(self._db(), after, limit)

    def status_counts(self) -> dict[str, int]:
        return queries.status_counts(self._db())

    def dashboard_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs with their last outcomes and the status counts
        (`dashboard_queries.job_page`)."""
        return dashboard_queries.job_page(self._db(), **filters)

    def job_runs(self, job: str, limit: int) -> list[dict]:
        return dashboard_queries.job_runs(self._db(), job, limit)

    def retry_chain(self, run_id: str) -> list[dict]:
        return dashboard_queries.retry_chain(self._db(), run_id)

    def metric_counts(self, reason_classes: Sequence[tuple[str, str]],
                      other: str) -> dict[str, Any]:
        """The grouped counts behind /metrics (`metric_queries.metric_counts`)."""
        return metric_queries.metric_counts(self._db(), reason_classes, other)


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite answered busy or locked (what `busy_timeout` would have waited out)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text
