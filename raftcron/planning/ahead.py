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

A run fired ahead is *held* (fire's `held`, `runs.held`, command version 5): its peer starts
it only once its `run_started` is committed, asked for a moment before its time
(`worker.admission`), so while the state lists it `pending` it has certainly not run. When its
peer goes silent (a leader killed a moment before the slot, a follower cut off), the leader
moves it to a live peer (`planning.moves`, `move_run`) and the slot runs there, late by the
failover, once: the log orders the move and the old peer's confirmation, and refuses whichever
comes second. Only a run confirmed and not yet started when its peer dies (the last
`admission.lead()`, 20-200 ms, before its slot) is recorded `lost`, as a run whose peer dies
mid-run is. Until every peer reads version 5, runs fired ahead are not held and such a run is
`lost` with its peer; the leader then loses ties of load for them (`placement.choose_targets`,
`avoid_on_tie`), and a job one of whose runs lands on the leader itself (`held_by_leader`) is
planned at its time unless it fires again within `LEADER_HOLDS_BELOW` (`leader_may_hold`).

What a user can see: a run is `pending` (and listed) up to `FIRE_AHEAD` before its slot, with
`fired_at` its due time, then `running` from its confirmation (`started_at` its due time
until the run ends; then the process's own start). A change to the job in that moment is
seen by the worker when the time comes (`worker.job_edits`): a paused job's run is cancelled
and never starts, a deleted job's run goes with it, an edited job's run starts as edited. A
run never starts before its time.
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
