"""Which slots of one job are due now, and what becomes of each: pure, table-tested.

`due_slots` takes every input as a parameter (`now` included) and returns a `SlotPlan`: one
`SlotDecision` per slot that gets a record (`pending` to run, `skipped` or `missed` with a
reason), the active runs to cancel (`replace`), whether the job is finished, a slot held back
for `queue`, and when the job next needs planning. Nothing here reads a clock, a random source
or the state; the scheduler supplies them, and placement turns pending decisions into run
records (`placement.py`).

The order of the rules, each applied to the slots strictly after the job's cursor:

1. Bounds: no slot before `start_at` (nor before the job existed), none after `end_at`.
2. Pause: slots that came due while the job was paused, or before its last change (more than
   `grace` before `paused_until`), are `skipped`: a resume or an edit never causes catch-up.
3. Window: a slot later than `catchup_window` is `missed`; a long backlog is counted, not
   enumerated past `scan_cap`, and summarized in one record.
4. Catch-up: slots within `grace` of their time all run; among late ones `latest` runs the
   newest, `all` runs up to `catchup_cap`, `none` runs none; the rest are `missed`.
5. Concurrency against the job's active runs (and the runs this plan fires before it). Under
   `forbid` and `queue`, `catchup = "all"` forms a line instead: the slots due when the job
   fell behind run one after another, each when the previous run ends
   (`planning.concurrency.in_line`;
   the plan holds the next one and returns `catchup_until` for the next plan).
6. `max_runs`: the last repeat finishes the job; slots after it get no record.

Records come out in slot order, so the state's fence (a slot must be later than the cursor)
accepts them in one `fire`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from raftcron.durations import format_duration, format_time
from raftcron.model import Catchup, Concurrency
from raftcron.planning.concurrency import SlotDecision, concurrency, in_line
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.queue_all import queue_all

#: Late by at most this much, a slot is on time: it runs whatever the catch-up policy.
DEFAULT_GRACE = timedelta(seconds=5)
#: catchup = "all" runs at most this many late slots in one plan (the newest ones).
DEFAULT_CATCHUP_CAP = 100
#: More `missed`/`skipped` records than this for one job in one plan become one summary.
DEFAULT_RECORD_CAP = 20
#: Slots older than the window are enumerated up to this many, then skipped over in one jump.
DEFAULT_SCAN_CAP = 10_000

_TICK = timedelta(microseconds=1)
#: Policies under which a due slot waits for the active run (late only from its end).
_WAITING = (Concurrency.QUEUE, Concurrency.QUEUE_ALL)
PAUSED_REASON = "due while the job was paused, or before its last change"

JitterFn = Callable[[str, datetime, timedelta, "datetime | None"], timedelta]


class ScheduleLike(Protocol):
    """What planning needs of `schedule.Schedule`."""

    def next_after(self, t: datetime) -> datetime | None: ...

    def iter_after(self, t: datetime) -> Iterator[datetime]: ...


@dataclass(frozen=True)
class SlotPlan:
    decisions: tuple[SlotDecision, ...] = ()
    #: Active run ids to cancel before the new run starts (`replace`).
    cancel: tuple[str, ...] = ()
    #: No slot is left (past `end_at`, the last of `max_runs`, a fired one-shot): `finish_job`.
    finish: bool = False
    #: `queue`: the due slot waiting for the active run to end (no record yet).
    held: datetime | None = None
    #: When to plan this job again: the next slot's fire time (None: finished). A held slot
    #: is planned again then too (it is skipped if its run still goes), or when the run ends.
    next_fire: datetime | None = None
    #: A catch-up line in progress (`catchup = "all"` under forbid/queue): slots due at or
    #: before this instant are its backlog. The caller keeps it for the job's next plan.
    catchup_until: datetime | None = None

    @property
    def pending(self) -> list[SlotDecision]:
        return [d for d in self.decisions if d.status == "pending"]


_Slot = tuple[datetime, datetime]  # (slot, fire_at)


@dataclass
class _Scan:
    paused: list[_Slot]
    old: list[_Slot]
    due: deque[_Slot]
    jumped_paused: bool = False  # the counts are lower bounds: part of the range was skipped
    jumped_old: bool = False
    #: Due slots beyond the newest `scan_cap` (a huge window): counted, first and last kept.
    evicted: list[_Slot] = field(default_factory=list)
    n_evicted: int = 0
    exhausted: bool = False
    next_fire: datetime | None = None


def due_slots(
    job: JobPlan,
    schedule: ScheduleLike,
    cursor: datetime | None,
    fired_count: int,
    now: datetime,
    catchup_cap: int = DEFAULT_CATCHUP_CAP,
    *,
    active: Sequence[str] = (),
    created_at: datetime | None = None,
    paused_until: datetime | None = None,
    released_at: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
    record_cap: int = DEFAULT_RECORD_CAP,
    scan_cap: int = DEFAULT_SCAN_CAP,
    jitter_fn: JitterFn | None = None,
    catchup_until: datetime | None = None,
) -> SlotPlan:
    """Plan one job at `now`.

    `cursor` is the last slot recorded for the job (None: never fired; then `created_at`
    bounds the first slot, strictly after it). `fired_count` counts the job's pending fires so
    far (toward `max_runs`). `active` lists the job's pending/running run ids, oldest first.
    `paused_until`: when the job was last resumed or changed; slots due more than `grace`
    before it are `skipped` (PAUSED_REASON).
    `released_at` (`queue` only): when the job's last run ended, or `now` while one is still
    active; a slot that waited for it is judged late from then, not from its own time (the
    catch-up window still counts from the slot's own time). `jitter_fn(job, slot, max,
    next_slot)` is `schedule.jitter` (default), called only when the job has a jitter.
    `catchup_until`: the previous plan's `SlotPlan.catchup_until` (a catch-up line in
    progress; None when there is none, or when it is not known, as on a new leader).
    """
    if job.max_runs is not None and fired_count >= job.max_runs:
        return SlotPlan(finish=True)
    # A slot due just before an edit was simply not fired yet: it is on time, not paused.
    unpaused = paused_until - grace if paused_until is not None else None
    scan = _scan(job, schedule, _lower_bound(job, cursor, created_at, now), now,
                 unpaused, scan_cap, jitter_fn)
    due = list(scan.due)
    late = [s for s in due if _lateness(job, s[1], now, released_at) > grace]
    on_time = due[len(late):]  # lateness only falls with the slot, so a suffix is on time
    lined = job.catchup == Catchup.ALL and job.concurrency in (Concurrency.FORBID,
                                                               Concurrency.QUEUE)
    until = catchup_until if lined else None
    backlog = [s for s in due if s[1] <= until] if until is not None else []
    cancel: list[str] = []
    if backlog:
        # A line in progress: its backlog runs on (the newest `catchup_cap` of it).
        keep = backlog[max(0, len(backlog) - catchup_cap):]
        why = f"beyond the catch-up cap of {catchup_cap} late slots (catchup=all runs the newest)"
        behind = [(s, f, why) for s, f in backlog[: len(backlog) - len(keep)]]
        ran, held, until = in_line(job, keep, due[len(backlog):], active, until)
    elif lined and until is None and late:
        # Missed slots: a line starts; every slot due now is in it.
        to_run, behind = _catch_up(job, late, on_time, catchup_cap)
        ran, held, until = (in_line(job, to_run, [], active, now) if to_run
                            else ([], None, None))
    else:
        if until is not None:
            # The line has run its backlog: what came due meanwhile found a run going, and is
            # not caught up (else a job whose runs outlast its period would never stop).
            late, on_time = [], due
        until = None
        to_run, behind = _catch_up(job, late, on_time, catchup_cap)
        ran, cancel, held = (queue_all(job, to_run, active)
                             if job.concurrency == Concurrency.QUEUE_ALL
                             else concurrency(job, to_run, active, released_at))

    decisions: list[SlotDecision] = []
    decisions += _bulk(scan.paused, "skipped", PAUSED_REASON, record_cap,
                       scan.jumped_paused)
    decisions += _bulk_missed(job, scan, behind, record_cap)
    decisions += ran

    finish = scan.exhausted and held is None
    if job.max_runs is not None:
        left = job.max_runs - fired_count
        kept: list[SlotDecision] = []
        for d in decisions:
            kept.append(d)
            if d.status == "pending":
                left -= 1
                if left == 0:
                    finish, held, until = True, None, None
                    break
        decisions = kept
    next_fire = None if finish else scan.next_fire
    return SlotPlan(decisions=tuple(decisions), cancel=tuple(cancel), finish=finish,
                    held=held, next_fire=next_fire, catchup_until=until)


def first_fire(job: JobPlan, schedule: ScheduleLike, cursor: datetime | None,
               created_at: datetime | None, now: datetime,
               jitter_fn: JitterFn | None = None) -> datetime | None:
    """When the job next needs planning: its first slot after the cursor, plus jitter.

    None when the schedule has no slot left within `end_at`. Used to build the scheduler's
    heap without planning every job.
    """
    found = next_slot(job, schedule, cursor, created_at, now, jitter_fn)
    return found[1] if found is not None else None


def next_slot(job: JobPlan, schedule: ScheduleLike, cursor: datetime | None,
              created_at: datetime | None, now: datetime, jitter_fn: JitterFn | None = None
              ) -> tuple[datetime, datetime] | None:
    """`(slot, fire time)` of the job's first slot after the cursor (what `first_fire` waits
    for), or None when no slot is left within `end_at`. What a proposer puts in a command's
    `next` (the state stores it, never computes it)."""
    lower = _lower_bound(job, cursor, created_at, now)
    slot = _utc(schedule.next_after(lower))
    if slot is None or (job.end_at is not None and slot > job.end_at):
        return None
    if job.jitter <= timedelta(0):
        return slot, slot
    nxt = _utc(schedule.next_after(slot))
    return slot, slot + _jitter(job, slot, nxt, jitter_fn)


def _lower_bound(job: JobPlan, cursor: datetime | None, created_at: datetime | None,
                 now: datetime) -> datetime:
    # Slots strictly after this instant are candidates. A job that never fired starts after its
    # creation (or now, when that is unknown: never invent a past for it); start_at is
    # inclusive, hence the microsecond before it.
    lower = cursor if cursor is not None else (created_at if created_at is not None else now)
    if job.start_at is not None:
        lower = max(lower, job.start_at - _TICK)
    return lower


def _lateness(job: JobPlan, fire_at: datetime, now: datetime,
              released_at: datetime | None) -> timedelta:
    if job.concurrency in _WAITING and released_at is not None:
        return now - max(fire_at, released_at)
    return now - fire_at


def _scan(job: JobPlan, schedule: ScheduleLike, lower: datetime, now: datetime,
          paused_until: datetime | None, scan_cap: int, jitter_fn: JitterFn | None) -> _Scan:
    """Walk the slots after `lower` up to the first one not yet due, sorting them.

    The window is judged on a slot's own lateness (a `queue` slot waiting for a run is still
    bounded by it); only the on-time test of `due_slots` credits the wait.
    """
    scan = _Scan(paused=[], old=[], due=deque())
    slots = _pairs(schedule, lower)
    counted = {"paused": 0, "old": 0}
    while True:
        pair = next(slots, None)
        if pair is None or (job.end_at is not None and pair[0] > job.end_at):
            scan.exhausted = True
            return scan
        slot, nxt = pair
        fire_at = slot + _jitter(job, slot, nxt, jitter_fn)
        if fire_at > now:
            scan.next_fire = fire_at
            return scan
        if paused_until is not None and fire_at < paused_until:
            kind, end_of_kind = "paused", paused_until
            scan.paused.append((slot, fire_at))
        elif now - fire_at > job.catchup_window:
            kind, end_of_kind = "old", now - job.catchup_window
            scan.old.append((slot, fire_at))
        else:
            scan.due.append((slot, fire_at))
            if len(scan.due) > scan_cap:
                gone = scan.due.popleft()
                if scan.n_evicted == 0:
                    scan.evicted = [gone, gone]
                scan.evicted[1] = gone
                scan.n_evicted += 1
            continue
        counted[kind] += 1
        # Weeks of per-second slots: past `scan_cap` stop counting and resume just before the
        # end of this kind of slot (less the largest jitter, so no slot of the next kind is
        # passed over). At most once per kind, so the scan is bounded.
        jump = end_of_kind - job.jitter
        if counted[kind] == scan_cap and jump > slot:
            setattr(scan, f"jumped_{kind}", True)
            slots = _pairs(schedule, jump)


def _pairs(schedule: ScheduleLike, after: datetime) -> Iterator[tuple[datetime, datetime | None]]:
    """(slot, next slot) in UTC, for the jitter bound."""
    it = schedule.iter_after(after)
    cur = _utc(next(it, None))
    while cur is not None:
        nxt = _utc(next(it, None))
        yield cur, nxt
        cur = nxt


def _utc(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC) if t is not None else None


def _jitter(job: JobPlan, slot: datetime, nxt: datetime | None,
            jitter_fn: JitterFn | None) -> timedelta:
    if job.jitter <= timedelta(0):
        return timedelta(0)
    if jitter_fn is None:
        from raftcron.schedule import jitter as jitter_fn  # the one jitter every peer agrees on
    return jitter_fn(job.name, slot, job.jitter, nxt)


def _catch_up(job: JobPlan, late: list[tuple[datetime, datetime]],
              on_time: list[tuple[datetime, datetime]], cap: int
              ) -> tuple[list[tuple[datetime, datetime]], list[tuple[datetime, datetime, str]]]:
    """Split due slots into those that run and those `missed` (with why), both oldest first."""
    if not late:
        return on_time, []
    policy = job.catchup
    if policy == Catchup.ALL:
        keep = late[max(0, len(late) - cap):]
        why = f"beyond the catch-up cap of {cap} late slots (catchup=all runs the newest)"
        return keep + on_time, [(s, f, why) for s, f in late[: len(late) - len(keep)]]
    if policy == Catchup.NONE:
        return on_time, [(s, f, "late and catchup=none") for s, f in late]
    # latest: the newest due slot runs (on time or not); older late ones are superseded.
    newest = (on_time or late)[-1][0]
    why = f"superseded by slot {format_time(newest)} (catchup=latest)"
    if on_time:
        return on_time, [(s, f, why) for s, f in late]
    return late[-1:], [(s, f, why) for s, f in late[:-1]]


def _bulk(items: list[tuple[datetime, datetime]], status: str, why: str, cap: int,
          jumped: bool) -> list[SlotDecision]:
    if not items:
        return []
    if len(items) <= cap and not jumped:
        return [SlotDecision(s, status, why, f) for s, f in items]
    # One summary record, at the newest slot so the cursor moves past them all.
    count = f"at least {len(items)}" if jumped else str(len(items))
    first, last = items[0][0], items[-1]
    reason = f"{count} slots from {format_time(first)} to {format_time(last[0])} {status}: {why}"
    return [SlotDecision(last[0], status, reason, last[1])]


def _bulk_missed(job: JobPlan, scan: _Scan, behind: list[tuple[datetime, datetime, str]],
                 cap: int) -> list[SlotDecision]:
    """The `missed` records: one each, or one summary when there are too many to list."""
    window = format_duration(job.catchup_window)
    why_old = f"older than catchup_window {window} when scheduling resumed"
    total = len(scan.old) + scan.n_evicted + len(behind)
    if total <= cap and not scan.jumped_old and not scan.n_evicted:
        return ([SlotDecision(s, "missed", why_old, f) for s, f in scan.old]
                + [SlotDecision(s, "missed", why, f) for s, f, why in behind])
    parts = []
    if scan.old:
        least = "at least " if scan.jumped_old else ""
        parts.append(f"{least}{len(scan.old)} older than catchup_window {window}")
    if scan.n_evicted:
        parts.append(f"{scan.n_evicted} more than one plan considers")
    if behind:
        parts.append(f"{len(behind)} not run under catchup={job.catchup.value}")
    ends = [*scan.old, *scan.evicted, *((s, f) for s, f, _ in behind)]
    (first, _), last = ends[0], ends[-1]
    count = f"at least {total}" if scan.jumped_old else str(total)
    reason = (f"{count} slots from {format_time(first)} to {format_time(last[0])} missed: "
              + "; ".join(parts))
    return [SlotDecision(last[0], "missed", reason, last[1])]
