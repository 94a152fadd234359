"""`concurrency = "queue_all"`: every slot that overlaps a run waits its turn. Pure.

Under `queue` one slot waits and the others are `skipped`; under `queue_all` every due slot
waits, and they run one after another, oldest first, each when the run before it has ended.
A waiting slot has no record yet: the state's fence admits only slots later than the job's
cursor, so a record for a later slot would shut out the earlier ones still waiting. When more
than the job's `queue_cap` slots wait, the oldest of them are recorded `skipped` (the only
ones the fence still allows to be written: the cursor moves over them, not over the slots
that keep waiting). A leader change loses nothing: what waits is exactly the due slots after
the cursor, which a new leader reads from the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from raftcron.durations import format_time
from raftcron.planning.concurrency import SlotDecision
from raftcron.planning.job_plan import JobPlan

_Slot = tuple[datetime, datetime]  # (slot, fire_at)


def queue_all(job: JobPlan, to_run: Sequence[_Slot], active: Sequence[str]
              ) -> tuple[list[SlotDecision], list[str], datetime | None]:
    """(decisions, runs to cancel (none), the held slot) for the due slots `to_run`, oldest
    first. With no active run the oldest runs; the rest wait, at most `job.queue_cap` of
    them. The held slot is the newest waiting one (the job is planned again when the run
    ends, and its next wake is the slot after it)."""
    if not to_run:
        return [], [], None
    queue = list(to_run)
    out: list[SlotDecision] = []
    if not active:
        first = queue.pop(0)
        out.append(SlotDecision(first[0], "pending", None, first[1]))
    over = max(0, len(queue) - job.queue_cap)
    if over:
        why = (f"queue full: {job.queue_cap} later slots are waiting (queue_cap, "
               f"concurrency=queue_all); next to run is slot {format_time(queue[over][0])}")
        out += [SlotDecision(s, "skipped", why, f) for s, f in queue[:over]]
        queue = queue[over:]
    return out, [], (queue[-1][0] if queue else None)
