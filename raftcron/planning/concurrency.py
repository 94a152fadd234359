"""Concurrency policies for the slots one plan runs, and the catch-up line: pure.

`concurrency` applies a job's policy (`allow`, `forbid`, `replace`, `queue`; `queue_all` is
`queue_all.py`) to the slots that
one plan would run, against the job's active runs. `in_line` is `catchup = "all"` under
`forbid` or `queue`: the missed slots (the *backlog*) run one after another, oldest first,
each when the previous run has ended, instead of all but the first being `skipped`
(go-etcd-cron: "it will catch up and trigger all jobs that were missed in immediate
succession ... one after the other"). `planning.slots.due_slots` decides which slots are the
backlog; both functions only turn slots into decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from raftcron.durations import format_time
from raftcron.model import Concurrency
from raftcron.planning.job_plan import JobPlan

_Slot = tuple[datetime, datetime]  # (slot, fire_at)


@dataclass(frozen=True)
class SlotDecision:
    """One record to write: `slot` is the nominal time, `fire_at` the slot plus its jitter."""

    slot: datetime
    status: str  # pending | skipped | missed
    reason: str | None
    fire_at: datetime


def concurrency(job: JobPlan, to_run: Sequence[_Slot], active: Sequence[str],
                released_at: datetime | None
                ) -> tuple[list[SlotDecision], list[str], datetime | None]:
    """Apply the job's concurrency policy: decisions, runs to cancel, the held slot.

    `active` names the job's active runs, oldest first (a new slot would overlap the last).
    """
    if not to_run:
        return [], [], None
    policy = job.concurrency
    if policy == Concurrency.ALLOW:
        return [SlotDecision(s, "pending", None, f) for s, f in to_run], [], None
    if policy == Concurrency.REPLACE:
        newest = to_run[-1]
        why = f"replaced by slot {format_time(newest[0])} (concurrency=replace)"
        out = [SlotDecision(s, "skipped", why, f) for s, f in to_run[:-1]]
        return [*out, SlotDecision(newest[0], "pending", None, newest[1])], list(active), None
    busy = active[-1] if active else None  # the run a new slot would overlap
    out: list[SlotDecision] = []
    if policy == Concurrency.QUEUE:
        queue = list(to_run)
        if busy is None and released_at is not None:
            # Slots that came due while the last run was still going: only one of them can
            # have been waiting (the newest); the others found the queue full.
            waited = [x for x in queue if x[1] <= released_at]
            if len(waited) > 1:
                why = f"queue full: slot {format_time(waited[-1][0])} was waiting"
                out += [SlotDecision(s, "skipped", why, f) for s, f in waited[:-1]]
                queue = queue[len(waited) - 1:]
        if busy is None:
            out.append(SlotDecision(queue[0][0], "pending", None, queue[0][1]))
            busy = f"for slot {format_time(queue[0][0])}"
            queue = queue[1:]
        if not queue:
            return out, [], None
        held = queue[-1][0]
        why = f"queue full: slot {format_time(held)} is waiting for run {busy}"
        out += [SlotDecision(s, "skipped", why, f) for s, f in queue[:-1]]
        return out, [], held
    # forbid (the default)
    for s, f in to_run:
        if busy is not None:
            out.append(SlotDecision(s, "skipped", f"previous run {busy} still running", f))
        else:
            out.append(SlotDecision(s, "pending", None, f))
            busy = f"for slot {format_time(s)}"
    return out, [], None


def in_line(job: JobPlan, backlog: Sequence[_Slot], rest: Sequence[_Slot],
            active: Sequence[str], until: datetime
            ) -> tuple[list[SlotDecision], datetime | None, datetime | None]:
    """The catch-up line: (decisions, held slot, `until` still in force or None).

    `backlog` (not empty, oldest first) are the missed slots still owed a run; `rest` the due
    slots after them, which came due while the line's runs were going. While a run is active
    nothing is recorded and the oldest backlog slot is held (the end of the run wakes the
    job). Otherwise the oldest backlog slot runs and the next one is held; no record is
    written past it, since a record for a later slot would move the cursor over the backlog.
    With the last backlog slot the line ends: `rest` found a run going, so the job's policy
    applies to it as to any slot that did (`forbid`: skipped; `queue`: the newest waits).
    """
    if active:
        return [], backlog[0][0], until
    first, *more = backlog
    out = [SlotDecision(first[0], "pending", None, first[1])]
    if more:
        return out, more[0][0], until
    ran, _, held = concurrency(job, rest, [f"for slot {format_time(first[0])}"], None)
    return out + ran, held, None
