"""The leader's in-memory job table: one entry per job and a heap of when each is next due.

Built from the state when a peer becomes leader (`load`), then kept current from the commands
it applies (`on_command`), so the loop never rescans 100,000 jobs: it sleeps until the head of
the heap. Each update mirrors what `state.apply` does with the same command (the fence moves
the cursor to the newest accepted scheduled slot and counts accepted pending records), and is
idempotent: a command already reflected in the rows loaded is recognized by its slot not being
after the cursor, so replaying it changes nothing.

The heap uses lazy deletion: `_due[name]` is the one valid time for a job; older heap entries
for it are skipped when popped. A second, small heap holds the jobs that must be planned at
their time, not ahead of it (`defer`): `pop_early` never takes those, and `next_wake` wakes
for them at their time.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from raftcron.durations import parse_time
from raftcron.model.fence import CursorFence
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import JitterFn, ScheduleLike, first_fire
from raftcron.scheduler.parsed import ParsedSchedules, ParseFn, default_parse

log = logging.getLogger(__name__)



@dataclass
class JobEntry:
    plan: JobPlan
    schedule: ScheduleLike
    status: str  # scheduled | paused | finished
    cursor: datetime | None
    fired_count: int
    created_at: datetime | None
    #: The job's last change (put or resume): slots due before it are not caught up.
    changed_at: datetime | None
    #: `queue`, or a catch-up line: a due slot waiting for the active run to end.
    held: datetime | None = None
    #: A catch-up line in progress (`SlotPlan.catchup_until`). Only this leader knows it: a
    #: new leader starts the line again from what is late when it first plans the job.
    catchup_until: datetime | None = None

    @property
    def schedulable(self) -> bool:
        return self.status == "scheduled" and not self.plan.paused


class JobTable:
    def __init__(self, *, parse: ParseFn = default_parse, jitter_fn: JitterFn | None = None
                 ) -> None:
        self._jitter_fn = jitter_fn
        self.entries: dict[str, JobEntry] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._due: dict[str, datetime] = {}
        #: Jobs `defer`red to their exact time (not planned ahead): (due, name), lazy too.
        self._on_time: list[tuple[datetime, str]] = []
        self._parsed = ParsedSchedules(parse)
        self._held: set[str] = set()  # jobs with a queue slot waiting (few; checked each pass)
        #: The leader's window end (`Window.fill` sets it): a put whose carried next fire time
        #: is later is not parsed into the table at all (the window reads it back when due).
        self.until: datetime | None = None

    # --- building -----------------------------------------------------------------------------

    def load(self, rows: Iterable[Mapping[str, Any]], now: datetime) -> list[str]:
        """Replace everything with `ReadDb.all_jobs_for_scheduler()` rows; schedule each job.

        Returns the names of jobs that could not be read (logged and left out, never fatal).
        """
        self.entries, self._heap, self._due, self._on_time = {}, [], {}, []
        return self.load_more(rows, now)

    def load_more(self, rows: Iterable[Mapping[str, Any]], now: datetime) -> list[str]:
        """`load` without emptying the table first: one chunk of a load done in chunks."""
        bad = []
        for row in rows:
            name = str(row.get("name"))
            try:
                self.entries[name] = self._entry(row["spec"], row.get("expanded"), row)
            except Exception as exc:  # one bad row must not stop scheduling the others
                log.error("job %s cannot be scheduled: %s", name, exc)
                bad.append(name)
                continue
            self.reschedule(name, now)
        return bad

    def _entry(self, spec: Mapping[str, Any], expanded: str | None,
               row: Mapping[str, Any]) -> JobEntry:
        plan = JobPlan.of(spec)
        created = _time(row.get("created_at"))
        return JobEntry(
            plan=plan,
            schedule=self._schedule(spec.get("schedule"), expanded, str(spec.get("tz") or "UTC"),
                                    plan.name, plan.start_at, created),
            status=str(row.get("status") or ("paused" if plan.paused else "scheduled")),
            cursor=_time(row.get("cursor")),
            fired_count=int(row.get("fired_count") or 0),
            created_at=created,
            changed_at=_time(row.get("updated_at")),
        )

    def _schedule(self, schedule: Any, expanded: str | None, tz: str, name: str,
                  start_at: datetime | None, created_at: datetime | None) -> ScheduleLike:
        return self._parsed.get(schedule, expanded, tz, name, start_at, created_at)

    # --- the heap -----------------------------------------------------------------------------

    def reschedule(self, name: str, now: datetime) -> None:
        """Put the job in the heap at its next fire time (now when it has no slot left, so the
        planner finishes it), or take it out when it is not scheduled."""
        entry = self.entries.get(name)
        if entry is None or not entry.schedulable:
            self._due.pop(name, None)
            return
        lower = entry.cursor
        if entry.held is not None and (lower is None or entry.held > lower):
            lower = entry.held  # a held slot is due already: wake for the one after it
        try:
            due = first_fire(entry.plan, entry.schedule, lower, entry.created_at, now,
                             self._jitter_fn)
        except Exception as exc:
            log.error("job %s: cannot compute its next slot: %s", name, exc)
            self._due.pop(name, None)
            return
        self.push(name, due if due is not None else now)

    def push(self, name: str, due: datetime) -> None:
        self._due[name] = due
        heapq.heappush(self._heap, (due, name))

    def drop(self, name: str) -> None:
        self._due.pop(name, None)

    def evict(self, name: str) -> None:
        """Forget the job entirely (the window reads it back when it is due again)."""
        self._due.pop(name, None)
        self.entries.pop(name, None)
        self._held.discard(name)
        if len(self._heap) + len(self._on_time) > 2 * len(self._due) + 1000:
            # Stale entries of evicted jobs would wait for their time to reach the head.
            deferred = {n for _, n in self._on_time}
            self._heap = [(due, n) for n, due in self._due.items() if n not in deferred]
            self._on_time = [(due, n) for n, due in self._due.items() if n in deferred]
            heapq.heapify(self._heap)
            heapq.heapify(self._on_time)

    def defer(self, name: str, due: datetime) -> None:
        """Put the job back at `due`, to be planned at that time and not ahead of it (its
        concurrency policy or a blackout must see the cluster as it is then)."""
        self._due[name] = due
        heapq.heappush(self._on_time, (due, name))

    def _head(self, heap: list[tuple[datetime, str]]) -> datetime | None:
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # stale
        return heap[0][0] if heap else None

    def next_due(self) -> datetime | None:
        """The earliest time a job is due (None: none is)."""
        heads = [h for h in (self._head(self._heap), self._head(self._on_time)) if h is not None]
        return min(heads) if heads else None

    def next_wake(self, ahead: timedelta) -> datetime | None:
        """When the loop must next wake to plan: `ahead` before the earliest job that may be
        planned ahead, or the earliest deferred job's time, whichever comes first."""
        early = self._head(self._heap)
        heads = [h for h in (early - ahead if early is not None else None,
                             self._head(self._on_time)) if h is not None]
        return min(heads) if heads else None

    def pop_due(self, now: datetime) -> list[str]:
        """Every job due at or before `now`, each once, taken out of the heap."""
        out = []
        for heap in (self._heap, self._on_time):
            while (head := self._head(heap)) is not None and head <= now:
                _, name = heapq.heappop(heap)
                del self._due[name]
                out.append(name)
        return out

    def pop_early(self, until: datetime) -> dict[str, datetime]:
        """The jobs due at or before `until`, with their due times, taken out of the heap: to
        be planned ahead of their time. Called right after `pop_due(now)`, so each is due
        after `now`. Deferred jobs are never among them."""
        out: dict[str, datetime] = {}
        while (head := self._head(self._heap)) is not None and head <= until:
            due, name = heapq.heappop(self._heap)
            del self._due[name]
            out[name] = due
        return out

    def scheduled_count(self) -> int:
        return len(self._due)

    def set_held(self, name: str, slot: datetime | None) -> None:
        """Record the `queue` slot a job holds (None: nothing waits)."""
        entry = self.entries.get(name)
        if entry is not None:
            entry.held = slot
        if slot is None or entry is None:
            self._held.discard(name)
        else:
            self._held.add(name)

    def held(self) -> list[str]:
        """The jobs holding a `queue` slot."""
        return [n for n in self._held
                if n in self.entries and self.entries[n].held is not None]

    # --- keeping current ----------------------------------------------------------------------

    def on_command(self, op: str, args: Mapping[str, Any], result: Mapping[str, Any],
                   now: datetime) -> set[str]:
        """Mirror one applied command (not `batch`: the caller walks its children). Returns the
        jobs whose schedule position may have changed."""
        if not isinstance(result, Mapping) or result.get("ok") is False:
            return set()
        if op == "put_job":
            return self._on_put(args, result, now)
        if op in ("delete_job", "finish_job", "set_paused"):
            name = str(args.get("name"))
            entry = self.entries.get(name)
            if op == "delete_job":
                self.entries.pop(name, None)
            elif entry is not None and op == "finish_job":
                entry.status = "finished"
            elif entry is not None:
                self._on_paused(entry, args, result)
            self.reschedule(name, now)
            return {name}
        if op == "fire":
            return self._on_fire(args, result)
        return set()

    def _on_put(self, args: Mapping[str, Any], result: Mapping[str, Any],
                now: datetime) -> set[str]:
        spec = args.get("job")
        if not isinstance(spec, Mapping):
            return set()
        name = str(spec.get("name"))
        old = self.entries.get(name)
        if self._beyond_window(args.get("next"), old):
            # A fill of 100,000 jobs would otherwise parse each one here only for the window
            # to evict it right after: the state stored this time, so the refill finds it.
            self.evict(name)
            return {name}
        at = args.get("at")
        row = {"created_at": old.created_at if old else at, "updated_at": at,
               "cursor": old.cursor if old else None,
               "fired_count": old.fired_count if old else 0, "status": result.get("status")}
        try:
            self.entries[name] = self._entry(spec, args.get("expanded"), row)
        except Exception as exc:
            log.error("job %s cannot be scheduled: %s", name, exc)
            self.entries.pop(name, None)
        self.reschedule(name, now)
        return {name}

    def _beyond_window(self, value: Any, old: JobEntry | None) -> bool:
        """Whether a put's `next` (stored with it) is after `until`, for a job holding no
        slot of its own (a queue slot or a catch-up line stays in the table)."""
        if self.until is None or not isinstance(value, Mapping):
            return False
        if old is not None and (old.held is not None or old.catchup_until is not None):
            return False
        try:
            fire_at = _time(value.get("fire_at"))
        except Exception:  # validated at apply; the table never stops on a bad value
            return False
        return fire_at is not None and fire_at > self.until

    @staticmethod
    def _on_paused(entry: JobEntry, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        paused = bool(args.get("paused"))
        if paused == entry.plan.paused:
            return  # the state changed nothing, so its updated_at did not move either
        entry.plan = dataclasses.replace(entry.plan, paused=paused)
        entry.status = str(result.get("status") or ("paused" if paused else "scheduled"))
        entry.changed_at = _time(args.get("at")) or entry.changed_at

    def _on_fire(self, args: Mapping[str, Any], result: Mapping[str, Any]) -> set[str]:
        accepted = set(result.get("accepted") or ())
        fences: dict[str, CursorFence[datetime]] = {}  # as the state: one per job per command
        touched = set()
        for rec in args.get("runs") or ():
            if rec.get("run_id") not in accepted or rec.get("manual") or rec.get("retry_of"):
                continue
            entry = self.entries.get(str(rec.get("job")))
            slot = _time(rec.get("slot"))
            if entry is None or slot is None:
                continue
            name = str(rec["job"])
            fence = fences.setdefault(name, CursorFence(entry.cursor, entry.fired_count))
            if not fence.admits(slot):
                continue  # already in the rows this table was loaded from
            fence.accept(slot, pending=rec.get("status", "pending") in ("pending", "waiting"))
            entry.cursor, entry.fired_count = fence.cursor, fence.fired_count
            if entry.held is not None and slot >= entry.held:
                self.set_held(name, None)
            touched.add(name)
        return touched


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_time(str(value), field="time")
