"""One wake's firing: plan every due job of the table and propose their records.

Moved out of `loop.Scheduler` (it keeps `_fire` as a thin call): for each due job, the pure
planner (`planning.slots.due_slots`) decides its slots, `slot_records` turns them into run
records, and the records go in chunks of at most `max_records_per_fire` (one job's records
always in one chunk) as `fire` (or a `batch` with cancels and finishes). When the cluster
reads command version 3, each planned job's next slot after its records rides in the fire's
`next` (`window.planned_next`), so the state holds the next fire time the window reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from raftcron.model import Concurrency
from raftcron.model.commands import INTRODUCED
from raftcron.planning.ahead import held_by_leader, leader_may_hold, may_fire_early
from raftcron.planning.blackouts import hold as blackouts_hold
from raftcron.planning.blackouts import relabel
from raftcron.planning.placement import counted_loads
from raftcron.planning.proposals import Proposal, slot_records, tick_proposal
from raftcron.planning.slots import SlotPlan, due_slots
from raftcron.scheduler.window import planned_next

log = logging.getLogger(__name__)

#: Seconds of planning after which `fire` lets the event loop run other tasks.
YIELD_EVERY = 0.02
#: A chunk whose proposal failed is planned again this much later.
RETRY_AFTER = timedelta(seconds=1)
#: The command version that added fire's `next`.
NEXT_VERSION = INTRODUCED[("fire", "next")]
#: The command version that added fire's `held` (and `move_run`).
HELD_VERSION = INTRODUCED[("fire", "held")]


class _Chunk:
    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.records: list[dict] = []
        self.cancels: list[str] = []
        self.finishes: list[str] = []
        self.lags: list[float] = []
        self.nexts: dict[str, dict[str, str]] = {}
        #: The runs fired ahead of their slot: held until confirmed (`planning.moves`).
        self.held: list[str] = []


async def fire(sched: Any, names: list[str], now: datetime,
               plan_slots: Callable[..., SlotPlan] = due_slots,
               early: Mapping[str, datetime] | None = None) -> list[Proposal]:
    """Plan and propose `names` (popped from `sched.table`) at `now` with `plan_slots`
    (`due_slots`); what was proposed. Blackout windows (`sched.blackouts`) hold a job while one
    covers `now` and relabel the slots they kept from running (`planning.blackouts`).

    `early` (job -> its due time, after `now`; those jobs are in `names` too): jobs popped
    ahead of their time (`JobTable.pop_early`). Each is planned as of its due time, so its
    records carry that time as `fired_at` and the worker starts them then
    (`planning.ahead`), unless `ahead.may_fire_early` says it must be planned at its time:
    then it goes back to the table (`JobTable.defer`) and is planned when due. When the
    cluster reads version 5 their pending records are *held* (fire's `held`): started only
    once confirmed, moved off a peer gone silent (`planning.moves`). Before that, a job one
    of whose runs lands on this leader and that fires less often than every minute is
    deferred too (`ahead.held_by_leader`, `ahead.leader_may_hold`), and the leader loses
    ties of load for runs fired ahead."""
    early = early or {}
    table = sched.table
    # Only the jobs whose policy looks at their active runs have them read: under overload
    # thousands of runs are active, and reading every one on every wake made the overload
    # worse. Placement needs only how many each peer has, which SQL counts.
    watched = [n for n in names if (e := table.entries.get(n)) is not None
               and e.plan.concurrency != Concurrency.ALLOW]
    by_job: dict[str, list[Mapping[str, Any]]] = {}
    if watched:
        for run in await sched.db(sched.read.active_runs_of, watched):
            by_job.setdefault(str(run.get("job")), []).append(run)
        if hasattr(sched.read, "waiting_runs"):  # a fan-out still rolling counts as going
            for run in await sched.db(sched.read.waiting_runs):
                by_job.setdefault(str(run.get("job")), []).append(run)
    passes = sched.passes
    where = await passes.placement(now, load=counted_loads(
        await sched.db(sched.read.active_groups)))
    with_next = sched.gate.reads(NEXT_VERSION)
    with_held = sched.gate.reads(HELD_VERSION)
    blackouts = getattr(sched, "blackouts", None) is not None
    if blackouts:
        await sched.blackouts.refresh(sched)
    groups = getattr(sched, "groups", None)
    gate = await groups.gate(sched, any(
        (e := table.entries.get(n)) is not None and e.plan.concurrency_group
        for n in names)) if groups is not None else None
    chunks: list[_Chunk] = []
    size = 0
    loop = asyncio.get_running_loop()
    yielded = loop.time()
    for name in names:
        if loop.time() - yielded > YIELD_EVERY:
            # Planning a thousand jobs is hundreds of milliseconds of the loop, and more on
            # a busy machine: let the API and the applied commands in between.
            await asyncio.sleep(0)
            yielded = loop.time()
        entry = table.entries.get(name)
        if entry is None or not entry.schedulable:
            continue
        runs = by_job.get(name, [])
        windows = sched.blackouts.for_job(entry.plan) if blackouts else []
        at = early.get(name, now)  # the time the job is planned as of
        if name in early and not may_fire_early(entry.plan, active=runs, windows=windows,
                                                held=entry.held,
                                                catchup_until=entry.catchup_until):
            table.defer(name, at)
            continue
        try:
            released = await passes.released_at(entry, runs, at)
            plan = blackouts_hold(windows, at, held=entry.held,
                                  catchup_until=entry.catchup_until) or plan_slots(
                entry.plan, entry.schedule, entry.cursor, entry.fired_count, at,
                sched.settings.catchup_cap, active=[str(r.get("id")) for r in runs],
                created_at=entry.created_at, paused_until=entry.changed_at,
                released_at=released, grace=sched.settings.grace, jitter_fn=sched.jitter_fn,
                catchup_until=entry.catchup_until)
            plan = relabel(plan, windows)
            # Ahead and not held (a cluster not reading version 5): the leader loses ties.
            records = slot_records(entry.plan, plan, where, now=at,
                                   new_run_id=sched.new_run_id,
                                   ahead=name in early and not with_held)
            if (name in early and not with_held and held_by_leader(records, where.self_id)
                    and not leader_may_hold(at, plan.next_fire)):
                # A cluster not reading version 5 yet cannot hold runs (`planning.moves`):
                # a run held here until its slot would die with this leader and be recorded
                # lost, where a slot not yet committed is fired by the next leader.
                table.defer(name, at)
                continue
            if gate is not None:  # over its concurrency group's limit: the run waits
                records = gate.apply(entry.plan, records)
            nxt = (planned_next(entry, records, at, sched.jitter_fn)
                   if with_next and records else None)
        except Exception:  # one job's bad data must not stop the others
            log.exception("job %s: planning failed; trying again in a minute", name)
            table.push(name, now + timedelta(minutes=1))
            continue
        table.set_held(name, plan.held)
        entry.catchup_until = plan.catchup_until
        if plan.next_fire is not None:
            table.push(name, plan.next_fire)
        if not chunks or size + len(records) > sched.settings.max_records_per_fire:
            chunks.append(_Chunk())
            size = 0
        chunk = chunks[-1]
        chunk.jobs.append(name)
        chunk.records.extend(records)
        if name in early and with_held:
            chunk.held.extend(r["run_id"] for r in records if r.get("status") == "pending")
        chunk.cancels.extend(r for r in plan.cancel if not _cancel_requested(runs, r))
        if plan.finish:
            chunk.finishes.append(name)
        if nxt is not None:
            chunk.nexts[name] = nxt
        chunk.lags.extend((at - d.fire_at).total_seconds() * 1000 for d in plan.pending)
        size += len(records)
    out = []
    for chunk in chunks:
        proposal = tick_proposal(chunk.records, chunk.cancels, chunk.finishes, now=now,
                                 nexts=chunk.nexts if chunk.records else None,
                                 held=chunk.held)
        if proposal is None:
            continue
        out.append(proposal)
        if await sched.propose(proposal) is None:
            for name in chunk.jobs:  # the outcome is unknown: plan them again shortly
                if name in table.entries:
                    table.set_held(name, None)
                    table.push(name, now + RETRY_AFTER)
        else:
            sched.record_lags(chunk.lags)
    return out


def _cancel_requested(runs: list[Mapping[str, Any]], run_id: str) -> bool:
    return any(str(r.get("id")) == run_id and r.get("cancel_requested") for r in runs)
