"""Loading the leader's job table from the copy: `Scheduler.reload` (`TableLoading`, the base
of `loop.Scheduler`, whose `__init__` sets the attributes annotated below).

Contract: a load rebuilds the job table from the state (on start, after a snapshot, after a
clock jump): the window is read through the index in pages of `LOAD_CHUNK` jobs, each parsed
off the event loop (`window.Window.fill`), into a new `JobTable` that replaces the old one
only when the whole window is read. Commands applied meanwhile are queued (`_loading`) and
replayed on the new table after (each update is idempotent); then the passes and triggers
reload and the table is marked loaded. One load at a time (`_load_lock`: a second caller
waits, then loads afresh). A load belongs to the leadership (`_term`) that started it: once
`stop`, `on_leadership(False)` or a newer `start` moved the term on, it stops at its next
page, replaces nothing and leaves the table unloaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raftcron.scheduler.job_table import JobTable, ParseFn

if TYPE_CHECKING:
    from raftcron.clock import Clock
    from raftcron.db.reader import ReadDb
    from raftcron.planning.slots import JitterFn
    from raftcron.scheduler.passes import Passes
    from raftcron.scheduler.triggers import Triggers
    from raftcron.scheduler.window import Window

log = logging.getLogger(__name__)

#: Jobs read and parsed per page when the window is loaded. Between pages the load returns
#: to the event loop (which may stop it) and lets go of the GIL, so the raft thread keeps
#: sending and answering heartbeats while a new leader loads a large window.
LOAD_CHUNK = 500


class _StaleLoad(Exception):
    """The leadership a load was started for is over: the load stops."""


class TableLoading:
    """`reload`: the job table loaded afresh for the current leadership."""

    read: ReadDb
    clock: Clock
    window: Window
    _parse: ParseFn
    _jitter_fn: JitterFn | None
    _table: JobTable
    _passes: Passes
    _triggers: Triggers
    _live: bool
    _loaded: bool
    _loading: list[tuple[str, Any, Any]] | None
    _load_lock: asyncio.Lock
    _term: int

    if TYPE_CHECKING:
        async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

        def _apply_one(self, op: str, args: Any, result: Any, now: datetime) -> None: ...

    async def reload(self) -> None:
        """Rebuild the job table from the state (on start, after a snapshot or a clock jump).

        Commands applied meanwhile are queued and replayed after (each update is idempotent).
        One load at a time (a second caller waits, then loads afresh). The jobs are parsed in
        chunks of `LOAD_CHUNK` off the event loop; a load whose leadership ended (`stop`,
        `on_leadership(False)`, a newer `start`) stops at the next chunk and changes nothing.
        """
        term = self._term
        async with self._load_lock:
            try:
                await self._reload(term)
            except _StaleLoad:
                log.info("scheduler load stopped: leadership changed")

    async def _reload(self, term: int) -> None:
        def check() -> None:
            if term != self._term:
                raise _StaleLoad

        check()
        self._live = True
        self._loading = []
        try:
            now = self.clock.now()
            table = JobTable(parse=self._parse, jitter_fn=self._jitter_fn)
            self.window.reset()
            self.window.page = LOAD_CHUNK
            bad = await self.window.fill(self.read, self.db, table, now, check)
            check()
            backlog, self._loading = self._loading, None
            self._table = table
            for op, args, result in backlog:
                self._apply_one(op, args, result, now)
            await self._passes.reload(now)
            await self._triggers.reload(now)
            self._loaded = True
            log.info("scheduler loaded %d jobs (%d unreadable); next due %s",
                     len(table.entries), len(bad), table.next_due())
        finally:
            self._loading = None
