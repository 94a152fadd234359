"""Firing ahead: a slot is committed a moment before its time and started at its time.

Between the leader deciding a slot and a process starting lie the planning, a Raft round
trip, the apply on every copy, the worker's preparation and its started.log fsync: tens of
milliseconds with a hundred jobs due at once, more with a thousand. So the leader plans a job
up to `FIRE_AHEAD` before it is due (`JobTable.pop_early`) and stamps its records with the due
time as `fired_at`; each worker prepares the run, records it in started.log, and holds it
until `fired_at` has come by both its own clock and the majority's (`start_delay`). The
commit and the apply then happen while the slot is still ahead, and what is left after it is
the spawn.

Only a job whose decision cannot change in that moment is planned ahead (`may_fire_early`):
one whose concurrency policy does not look at its active runs (`allow`) or that has none; no
queued slot or catch-up line; no blackout window that could begin; no concurrency group (its
limit counts runs that may end). The others are planned at their time, as before.

A run held until its slot dies with its peer and is recorded `lost` (it never runs, whatever
`catchup` says), where a slot not yet committed when the leader dies is fired by the next
one; and leader kills are the failover everyone rehearses (three every-second jobs on three
peers: 9 of 20 leader kills lost a slot this way). So placement lets a run fired ahead lose
its ties of load to another peer (`placement.choose_targets`, `avoid_on_tie`), and a job one
of whose runs still lands on the leader itself (`held_by_leader`) is planned at its time
unless it fires again within `LEADER_HOLDS_BELOW` (`leader_may_hold`): for a job that fires
every few seconds the head start is the point and a lost slot is one of many, the next comes
soon; for a daily backup the 300 ms are worth nothing and a lost slot costs a day. (Planned at
its time, a leader's own run of ten every-second jobs started with a p99 of 35-38 ms instead
of 14.) A follower that dies holding a run still loses it: the cost of firing ahead
(docs/design/scheduler.md).

What a user can see: a run is `pending` (and listed) up to `FIRE_AHEAD` before its slot, with
`fired_at` its due time. A change to the job in that moment is seen by the worker when the
time comes (`worker.job_edits`): a paused job's run is cancelled and never starts, a deleted
job's run goes with it, an edited job's run starts as edited. A run never starts before its
time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from raftcron.model import Concurrency
from raftcron.planning.job_plan import JobPlan

#: How far ahead of its time a job may be planned and committed.
FIRE_AHEAD = timedelta(milliseconds=300)
#: A job that fires again within this may have a run held by the leader (`leader_may_hold`).
LEADER_HOLDS_BELOW = timedelta(minutes=1)


def may_fire_early(plan: JobPlan, *, active: Sequence[Any], windows: Sequence[Any],
                   held: datetime | None, catchup_until: datetime | None) -> bool:
    """True when the job's next slot may be decided ahead of its time: nothing that decision
    reads can change before then (see the module docstring)."""
    if held is not None or catchup_until is not None or windows or plan.concurrency_group:
        return False
    return plan.concurrency == Concurrency.ALLOW or not active


def held_by_leader(records: Sequence[Mapping[str, Any]], leader: str) -> bool:
    """True when one of a job's records would be held by `leader` until its slot (a pending
    run it executes or drives)."""
    return any(r.get("status") == "pending" and r.get("peer") == leader for r in records)


def leader_may_hold(due: datetime, next_fire: datetime | None) -> bool:
    """Whether a job due at `due` may be committed ahead with a run on the leader itself: only
    when its next slot follows within `LEADER_HOLDS_BELOW` (see the module docstring)."""
    return next_fire is not None and next_fire - due < LEADER_HOLDS_BELOW


def start_delay(fired_at: datetime, *, own: datetime, majority: datetime) -> float:
    """Seconds a run stamped `fired_at` must still wait before it starts: until that time has
    come by this peer's clock and by the majority's (0 when it has)."""
    return max(0.0, (fired_at - own).total_seconds(), (fired_at - majority).total_seconds())
