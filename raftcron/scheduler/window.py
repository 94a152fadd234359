"""The leader's window: the job table holds the jobs due before `until`, not every job.

Each job row carries `next_fire_at` (a lower bound of when it is next due, written by the
proposer of `put_job`, `set_paused` and `fire`; NULL when not known). The table is filled
from the copy through the (status, next_fire_at) index, in pages of `page` rows read off the
event loop: on becoming leader, every scheduled job with `next_fire_at` NULL or at most
`now + horizon`; as time moves, the jobs whose `next_fire_at` enters `(until, now + horizon]`
(`refill`). A leader change therefore costs one indexed query (a page per `page` jobs due
soon), never a pass over every job, and parsed schedules stay bounded by the window.

Invariant: every scheduled job whose stored `next_fire_at` is NULL or at most `until` is in
the table (or named in `missing`, read on the next tick). A job leaves the table (`evict`)
only when the command that just changed it stored a `next_fire_at` later than `until`, so the
refill that passes that time reads it back (a `put_job` carrying such a time is not even
parsed: `JobTable.until`, so a fill of 100,000 jobs costs the leader no schedule parsing); a
job whose change stored nothing (the cluster does not read `next` yet, the fence refused a
stale one) stays. A resumed job the table does
not hold is read by name (`missing`).

`planned_next` is the leader's side of `fire`'s `next`: the job's first slot after the cursor
its records leave, computed with the same rule the table uses to wake for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from raftcron.db.reader import ReadDb
from raftcron.db.times import db_time
from raftcron.durations import format_time, parse_time
from raftcron.planning.slots import JitterFn, next_slot
from raftcron.scheduler.job_table import JobEntry, JobTable

log = logging.getLogger(__name__)

#: How far ahead the table holds jobs; refilled when half of it has passed.
HORIZON = timedelta(minutes=2)
#: Jobs read per query (and parsed per thread hop).
PAGE = 500
#: `next` values proposed per fire that only fills in unknown ones.
FILL_CHUNK = 1000
_LAST = "\U0010ffff"  # sorts after every job name: a page key past every job at a time


def planned_next(entry: JobEntry, records: Iterable[Mapping[str, Any]], now: datetime,
                 jitter_fn: JitterFn | None) -> dict[str, str] | None:
    """`{slot, fire_at}` of the job's first slot after the cursor `records` leave (the newest
    scheduled slot among them, or the cursor now), or None when it has no slot left."""
    cursor = entry.cursor
    for rec in records:
        if rec.get("manual") or rec.get("retry_of"):
            continue
        slot = parse_time(str(rec["slot"]), field="slot")
        if cursor is None or slot > cursor:
            cursor = slot
    try:
        found = next_slot(entry.plan, entry.schedule, cursor, entry.created_at, now, jitter_fn)
    except Exception:  # the table logs unplannable jobs; the state keeps what it had
        return None
    if found is None:
        return None
    return {"slot": format_time(found[0]), "fire_at": format_time(found[1])}


class Window:
    """Which part of the job table the copy is known to be in (see the module docstring)."""

    def __init__(self, *, horizon: timedelta = HORIZON, page: int = PAGE) -> None:
        self.horizon = horizon
        self.page = page
        self.until: datetime | None = None
        #: Jobs to read by name on the next tick (a resume of a job the table lacks).
        self.missing: set[str] = set()
        #: Loaded jobs whose stored `next_fire_at` is NULL: the leader proposes it.
        self.unknown: set[str] = set()
        #: Queries made (for /status and tests).
        self.queries = 0

    def reset(self) -> None:
        self.until = None
        self.missing.clear()
        self.unknown.clear()

    async def fill(self, read: ReadDb, db: Callable[..., Awaitable[Any]], table: JobTable,
                   now: datetime, check: Callable[[], None]) -> list[str]:
        """Load into `table` every job due up to `now + horizon` not loaded yet: the whole
        window when `until` is None, else only what entered it since. `check()` between
        pages may raise to stop. Returns the names that could not be read."""
        until = now + self.horizon
        after: tuple[str, str] | None = None
        if self.until is not None:
            if until <= self.until:
                return []
            after = (db_time(format_time(self.until)), _LAST)
        bad: list[str] = []
        while True:
            check()
            self.queries += 1
            rows = await db(read.due_jobs, db_time(format_time(until)), after, self.page)
            check()
            fresh = [r for r in rows if r["name"] not in table.entries]
            self.unknown.update(r["name"] for r in fresh if r.get("next_fire_at") is None)
            if fresh:
                bad += await asyncio.to_thread(table.load_more, fresh, now)
            if len(rows) < self.page:
                break
            last = rows[-1]
            at = last.get("next_fire_at")
            after = (db_time(at) if at else "", last["name"])
        self.until = table.until = until
        return bad

    def due_for_refill(self, now: datetime) -> bool:
        return self.until is not None and now + self.horizon / 2 >= self.until

    async def read_missing(self, read: ReadDb, db: Callable[..., Awaitable[Any]],
                           table: JobTable, now: datetime) -> None:
        """Load the jobs named in `missing` (scheduled ones only)."""
        names, self.missing = sorted(self.missing), set()
        await self.load_names(read, db, table, names, now, scheduled_only=True)

    async def load_names(self, read: ReadDb, db: Callable[..., Awaitable[Any]], table: JobTable,
                         names: Iterable[str], now: datetime, *,
                         scheduled_only: bool = False) -> None:
        """Load the named jobs the table lacks (a retry or a run's job outside the window)."""
        wanted = sorted({n for n in names if n not in table.entries})
        if not wanted:
            return
        self.queries += 1
        rows = await db(read.jobs_for_scheduler, wanted)
        fresh = [r for r in rows if r["name"] not in table.entries
                 and (r.get("status") == "scheduled" or not scheduled_only)]
        self.unknown.update(r["name"] for r in fresh if r.get("next_fire_at") is None
                            and r.get("status") == "scheduled")
        if fresh:
            await asyncio.to_thread(table.load_more, fresh, now)

    def after_command(self, table: JobTable, op: str, args: Mapping[str, Any],
                      result: Mapping[str, Any]) -> None:
        """Keep the invariant after an applied command the table has mirrored."""
        if self.until is None or not isinstance(result, Mapping) or result.get("ok") is False:
            return
        if op == "fire":
            stored = set(result.get("next_stored") or ())
            for name, value in (args.get("next") or {}).items():
                if name in stored:
                    self.unknown.discard(name)
                    self._maybe_evict(table, name, value)
        elif op == "put_job":
            name = str((args.get("job") or {}).get("name"))
            if args.get("next"):
                self.unknown.discard(name)
                self._maybe_evict(table, name, args["next"])
            elif name in table.entries:
                self.unknown.add(name)
        elif op == "set_paused" and not args.get("paused"):
            name = str(args.get("name"))
            if name not in table.entries:
                self.missing.add(name)
            elif args.get("next"):
                self.unknown.discard(name)
                self._maybe_evict(table, name, args["next"])
        elif op == "delete_job":
            self.unknown.discard(str(args.get("name")))

    def _maybe_evict(self, table: JobTable, name: str, value: Mapping[str, Any]) -> None:
        assert self.until is not None
        entry = table.entries.get(name)
        if entry is None or entry.held is not None or entry.catchup_until is not None:
            return
        if parse_time(str(value["fire_at"]), field="fire_at") > self.until:
            table.evict(name)

    def fill_proposal_nexts(self, table: JobTable, now: datetime,
                            jitter_fn: JitterFn | None) -> dict[str, dict[str, str]]:
        """Up to `FILL_CHUNK` loaded jobs whose stored next time is unknown, with theirs. Each
        is proposed once: a job whose value the state does not store stays in the table (it
        is not evicted), so nothing is lost and no entry is proposed again and again."""
        out: dict[str, dict[str, str]] = {}
        for name in sorted(self.unknown):
            entry = table.entries.get(name)
            if entry is None or not entry.schedulable:
                self.unknown.discard(name)
                continue
            value = planned_next(entry, (), now, jitter_fn)
            if value is None:
                self.unknown.discard(name)  # no slot left: the planner finishes it
                continue
            out[name] = value
            self.unknown.discard(name)
            if len(out) >= FILL_CHUNK:
                break
        return out
