"""From dependency, backfill and pause decisions to commands (command version 4). Pure.

A run started by a dependency or a backfill is a `fire` record (manual: outside the schedule's
fence, so it neither moves the cursor nor counts toward `max_runs`) followed, in one atomic
`batch`, by the `trigger` that marks it. The state refuses the `trigger` of a second run for
one parent, or of a backfill slot other than the next, and the atomic batch then takes the
`fire` back too: whichever leader proposes a decision, and however often, it applies once.
Keys name the decision (`after:<job>:<parent>`, `backfill:<id>:<index>`), not the run ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from raftcron.durations import format_time
from raftcron.model.commands import batch_entry
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import NO_TARGET_REASON, choose_targets, record_assignment
from raftcron.planning.proposals import Placement, Proposal


def trigger_records(job: JobPlan, slot: datetime, where: Placement, *, now: datetime,
                    reason: str, new_run_id: Callable[[], str],
                    skip: str | None = None) -> list[dict[str, Any]]:
    """The records of one triggered run (one per target for `hosts = "all"`): `skipped`
    with `skip` (or no eligible target) as the reason when it cannot run."""
    def record(peer: str, target: str | None, status: str, why: str) -> dict[str, Any]:
        return {"run_id": new_run_id(), "job": job.name, "slot": format_time(slot),
                "attempt": 1, "peer": peer, "target": target, "status": status,
                "reason": why, "manual": True, "retry_of": None, "fired_at": format_time(now)}

    if skip is not None:
        return [record(where.self_id, None, "skipped", f"{reason}: {skip}")]
    pairs = choose_targets(job, where.peers, where.nodes, where.load, where.recent, slot=slot)
    if not pairs:
        return [record(where.self_id, None, "skipped", f"{reason}: {NO_TARGET_REASON}")]
    out = []
    for peer, target in pairs:
        record_assignment(where.load, where.recent, peer, target)
        out.append(record(peer, target, "pending", reason))
    return out


def trigger_proposal(job: str, cause: str, records: list[dict[str, Any]], *, now: datetime,
                     triggered_by: str | None = None, backfill: str | None = None,
                     index: int | None = None) -> Proposal:
    """The atomic `batch` [fire, trigger] for `records` of `job`."""
    at = format_time(now)
    mark: dict[str, Any] = {"job": job, "cause": cause,
                            "run_ids": [r["run_id"] for r in records], "at": at}
    if backfill is not None:
        mark.update(backfill=backfill, index=index)
        key = f"backfill:{backfill}:{index}"
    else:
        mark["triggered_by"] = triggered_by
        key = f"{cause}:{job}:{triggered_by}"
    entries = [batch_entry("fire", {"runs": records, "at": at}),
               batch_entry("trigger", mark)]
    return Proposal("batch", {"commands": entries, "atomic": True}, key)


def pause_proposal(job: str, reason: str, run_id: str | None, *, now: datetime) -> Proposal:
    """Pause `job` and store why (`pause_after_failures`), in one atomic batch."""
    at = format_time(now)
    entries = [batch_entry("set_paused", {"name": job, "paused": True, "at": at}),
               batch_entry("pause_reason", {"name": job, "reason": reason, "run_id": run_id,
                                            "at": at})]
    return Proposal("batch", {"commands": entries, "atomic": True},
                    f"autopause:{job}:{run_id}")


def slow_proposal(run_id: str, *, now: datetime) -> Proposal:
    return Proposal("run_slow", {"run_id": run_id, "at": format_time(now)}, f"slow:{run_id}")
