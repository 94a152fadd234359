"""The leader's pass over waiting runs: start the next waiting targets of each rolling
fan-out, or skip them after a failure (`planning.fanout.steps`), and the oldest waiting runs
of each concurrency group with room (`planning.groups.release`), as one `fanout_step`.

Run from the recovery pass (every second) and read entirely from the state: the waiting
records and each slot's other records. A new leader therefore carries on where the old one
stopped; a step whose fate it does not know is decided again the same way, and apply starts
only runs still `waiting`, so no target starts twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from raftcron.durations import format_time, parse_time
from raftcron.errors import RaftcronError
from raftcron.model import Hosts
from raftcron.planning.fanout import rolling, steps
from raftcron.planning.groups import release
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import choose_targets, record_assignment
from raftcron.planning.proposals import Placement, Proposal

log = logging.getLogger(__name__)


async def fanout_pass(s: Any, now: datetime,
                      placement: Callable[[], Awaitable[Placement]] | None = None
                      ) -> list[Proposal]:
    """Propose the steps due at `now`, all in one entry. A run started on a peer that is no
    longer reachable is given another executing peer first (`placement`, `_replace`)."""
    read = s.read
    if not hasattr(read, "waiting_runs"):
        return []
    waiting = await s.db(read.waiting_runs)
    slots = sorted({(str(r["job"]), str(r["slot"])) for r in waiting})
    records: list[dict[str, Any]] = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    plans: dict[str, JobPlan] = {}
    for job, slot in slots:
        if job not in plans:
            spec = await s.db(read.get_job, job)
            if spec is None:
                continue  # deleted: its runs went with it
            try:
                plans[job] = JobPlan.of(spec)
            except RaftcronError as exc:
                log.error("job %s: cannot plan its waiting runs: %s", job, exc)
                continue
        plan = plans[job]
        if plan.concurrency_group and not rolling(plan):
            by_group.setdefault(plan.concurrency_group, []).extend(
                r for r in waiting if r["job"] == job and r["slot"] == slot)
            continue
        records += steps(plan, await s.db(read.slot_runs, job, slot), now=now)
    groups = getattr(s, "groups", None)
    if by_group and groups is not None:
        await groups.refresh(s)
        records += release(by_group, await s.db(read.group_loads), groups.limits(), now=now)
    if not records:
        return []
    if placement is not None and any(r["status"] == "pending" for r in records):
        where = await placement()
        records = [_replace(plans[r["job"]], r, where) for r in records]
    decided = ",".join(sorted(f"{r['run_id']}:{r['status']}" for r in records))
    key = "fanout:" + hashlib.sha256(decided.encode()).hexdigest()[:32]
    proposal = Proposal("fanout_step", {"runs": records, "at": format_time(now)}, key)
    await s.propose(proposal)
    return [proposal]


def _replace(plan: JobPlan, rec: dict[str, Any], where: Placement) -> dict[str, Any]:
    """A run about to start whose executing peer is gone: a node target gets the least-loaded
    live peer; a `hosts = "any"` run another eligible target. A `hosts = "all"` target that is
    itself the gone peer keeps it (its run is `lost` after the lease)."""
    live = {p.id for p in where.peers if p.reachable}
    if rec["status"] != "pending" or rec["peer"] in live:
        return rec
    slot = parse_time(rec["slot"])
    if plan.hosts == Hosts.ALL:
        if rec["target"] in (rec["peer"], None):
            return rec
        pairs = [p for p in choose_targets(plan, where.peers, where.nodes, where.load,
                                           where.recent, "all", slot=slot)
                 if p[1] == rec["target"]]
    else:
        pairs = choose_targets(plan, where.peers, where.nodes, where.load, where.recent,
                               "any", slot=slot)
    if not pairs:
        return rec
    record_assignment(where.load, where.recent, *pairs[0])
    return {**rec, "peer": pairs[0][0], "target": pairs[0][1]}
