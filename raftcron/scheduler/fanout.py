"""The leader's rolling fan-out pass: start the next waiting targets of each slot, or skip
them after a failure (`planning.fanout.steps`), as one `fanout_step` entry.

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
from raftcron.planning.fanout import steps
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import choose_targets, record_assignment
from raftcron.planning.proposals import Placement, Proposal

log = logging.getLogger(__name__)


async def fanout_pass(s: Any, now: datetime,
                      placement: Callable[[], Awaitable[Placement]] | None = None
                      ) -> list[Proposal]:
    """Propose the steps due at `now` (one entry for every slot that has one). A node target
    whose recorded executing peer is no longer reachable is given another (`placement`)."""
    read = s.read
    if not hasattr(read, "waiting_runs"):
        return []
    waiting = await s.db(read.waiting_runs)
    slots = sorted({(str(r["job"]), str(r["slot"])) for r in waiting})
    records: list[dict[str, Any]] = []
    for job, slot in slots:
        spec = await s.db(read.get_job, job)
        if spec is None:
            continue  # deleted: its runs went with it
        try:
            plan = JobPlan.of(spec)
        except RaftcronError as exc:
            log.error("job %s: cannot plan its fan-out: %s", job, exc)
            continue
        found = steps(plan, await s.db(read.slot_runs, job, slot), now=now)
        if placement is not None and any(r["status"] == "pending" for r in found):
            found = _replace(plan, found, await placement())
        records += found
    if not records:
        return []
    decided = ",".join(sorted(f"{r['run_id']}:{r['status']}" for r in records))
    key = "fanout:" + hashlib.sha256(decided.encode()).hexdigest()[:32]
    proposal = Proposal("fanout_step", {"runs": records, "at": format_time(now)}, key)
    await s.propose(proposal)
    return [proposal]


def _replace(plan: JobPlan, records: list[dict[str, Any]], where: Placement
             ) -> list[dict[str, Any]]:
    """Started node targets whose executing peer is gone get the least-loaded live one (a
    peer target runs on itself: if it is gone, its run is `lost` after the lease)."""
    live = {p.id for p in where.peers if p.reachable}
    out = []
    for rec in records:
        if rec["status"] == "pending" and rec["peer"] not in live and rec["target"] not in (
                rec["peer"], None):
            pairs = [p for p in choose_targets(plan, where.peers, where.nodes, where.load,
                                               where.recent, "all",
                                               slot=parse_time(rec["slot"]))
                     if p[1] == rec["target"]]
            if pairs:
                record_assignment(where.load, where.recent, *pairs[0])
                rec = {**rec, "peer": pairs[0][0]}
        out.append(rec)
    return out
