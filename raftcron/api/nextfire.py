"""The proposing peer's `next` for `put_job` and `set_paused`: the job's next slot and fire
time, computed here and carried in the command (the state stores it, never computes it).

The value is a lower bound the leader's window reads (`scheduler.window`): computed from this
peer's copy of the cursor, which can only be behind the state's, so it is never later than
the job is truly due. Left out (the command keeps its older version) until every reachable
peer reads command version 3 (`raft.version_gate`); a job without it is planned by the leader
as soon as it loads it, which then writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raftcron.durations import format_time, parse_time
from raftcron.errors import RaftcronError
from raftcron.model.commands import INTRODUCED
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import next_slot
from raftcron.raft.version_gate import VersionGate
from raftcron.scheduler.parsed import SHARED as PARSED

#: The command version that added `next`.
NEXT_VERSION = INTRODUCED[("put_job", "next")]
def gate(rt: Any) -> VersionGate:
    """This app's gate (one per Runtime)."""
    found = rt.extras.get("version_gate")
    if found is None:
        found = rt.extras["version_gate"] = VersionGate(rt.ctx.node)
    return found


def compute(spec: dict, expanded: str | None, cursor: str | None, created_at: str | None,
            now: Any) -> dict[str, str] | None:
    """`{"slot", "fire_at"}` of `spec`'s first slot after `cursor` (API times), or None when
    the job has none left or cannot be planned (the leader then works it out)."""
    try:
        plan = JobPlan.of(spec)
        created = parse_time(created_at) if created_at else now
        sched = PARSED.get(spec.get("schedule"), expanded, str(spec.get("tz") or "UTC"),
                           plan.name, plan.start_at, created)
        found = next_slot(plan, sched, parse_time(cursor) if cursor else None, created, now)
    except (RaftcronError, ValueError):
        return None
    if found is None:
        return None
    return {"slot": format_time(found[0]), "fire_at": format_time(found[1])}


def add_to_put(rt: Any, args: dict, stored: Mapping[str, Any] | None) -> dict:
    """`put_job` args with `next` added (when the cluster reads it). `stored`: the job as
    this peer's copy holds it (None: a new job), read by the caller."""
    if not gate(rt).reads(NEXT_VERSION) or args["job"].get("paused"):
        return args
    cursor = (stored or {}).get("cursor")
    created = (stored or {}).get("created_at") or args["at"]
    nxt = compute(args["job"], args.get("expanded"), cursor, created, rt.ctx.clock.now())
    return {**args, "next": nxt} if nxt is not None else args


async def add_to_puts(rt: Any, args: list[dict]) -> list[dict]:
    """`add_to_put` for many `put_job` args: one read of the stored jobs for all of them."""
    if not args or not gate(rt).reads(NEXT_VERSION):
        return args
    names = [a["job"]["name"] for a in args]
    stored = {r["name"]: r for r in await rt.db(rt.ctx.read.jobs_for_scheduler, names)}
    now = rt.ctx.clock.now()
    out = []
    for a in args:
        row = stored.get(a["job"]["name"]) or {}
        nxt = None if a["job"].get("paused") else compute(
            a["job"], a.get("expanded"), row.get("cursor"), row.get("created_at") or a["at"],
            now)
        out.append({**a, "next": nxt} if nxt is not None else a)
    return out


async def add_to_resume(rt: Any, args: dict) -> dict:
    """`set_paused` args with `next` added for a resume (when the cluster reads it)."""
    if args["paused"] or not gate(rt).reads(NEXT_VERSION):
        return args
    stored = await rt.quick(rt.ctx.read.get_job, args["name"])
    if stored is None:
        return args
    spec = {**stored, "paused": False}  # JobPlan reads only the spec's own keys
    nxt = compute(spec, stored.get("expanded_schedule"), stored.get("cursor"),
                  stored.get("created_at"), rt.ctx.clock.now())
    return {**args, "next": nxt} if nxt is not None else args

