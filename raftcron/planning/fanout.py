"""Rolling fan-out for `hosts = "all"`: how many targets of a slot run at a time, and which
start next. Pure: every input is a parameter, every decision goes into a command.

A job with `max_parallel` (a number, or a share of the targets like `"25%"`, at least one)
fires a slot as one record per target, in the stable order of the targets' names
(`placement.choose_targets`): the first `limit` `pending`, the others `waiting`
(`first_wave`). When targets of the slot end, the leader starts the next waiting ones, so
that at most `limit` are pending or running (`steps`); with `keep_going = false` a target
that failed (its retries spent) stops the roll-out: every target still waiting is recorded
`skipped` with the reason. A step is a `fanout_step` command; apply turns only `waiting`
records into `pending` or `skipped`, so a step proposed twice (a leader change) starts
nothing twice, and the waiting records in the state are all a new leader needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from raftcron.durations import format_time
from raftcron.model import FAILURE_STATUSES, Hosts
from raftcron.planning.job_plan import JobPlan

WAITING = "waiting"
ACTIVE = ("pending", "running")


def limit(max_parallel: int | str | None, targets: int) -> int:
    """Targets at a time: `max_parallel` (a number or "N%", rounded up, at least 1)."""
    if max_parallel is None:
        return targets
    if isinstance(max_parallel, str):
        share = int(max_parallel.strip().rstrip("%"))
        return max(1, math.ceil(targets * share / 100))
    return max(1, int(max_parallel))


def rolling(job: JobPlan) -> bool:
    return job.hosts == Hosts.ALL and job.max_parallel is not None


def first_wave(job: JobPlan, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One slot's pending records (one per target, in target order) with all but the first
    `limit` turned `waiting`. Unchanged for a job that does not roll."""
    if not rolling(job) or not records:
        return records
    n = limit(job.max_parallel, len(records))
    why = f"waiting its turn: max_parallel {job.max_parallel} of {len(records)} targets"
    return [r if i < n else {**r, "status": WAITING, "reason": why}
            for i, r in enumerate(records)]


def steps(job: JobPlan, slot_runs: Sequence[Mapping[str, Any]], *, now: datetime
          ) -> list[dict[str, Any]]:
    """The `fanout_step` records for one slot of one job: its waiting targets to start (as
    `pending`, `fired_at` now) or to skip. `slot_runs` is every record of the slot (all
    targets, all attempts). Empty when nothing waits or nothing may start yet."""
    waiting = sorted((r for r in slot_runs if r.get("status") == WAITING),
                     key=lambda r: (str(r.get("target") or ""), str(r.get("id"))))
    if not waiting:
        return []
    targets = {str(r.get("target") or "") for r in slot_runs if r.get("attempt", 1) == 1}
    at = format_time(now)
    failed = _failed(job, slot_runs)
    if failed is not None and not job.keep_going:
        why = f"not started: target {failed} failed (keep_going = false)"
        return [_step(r, "skipped", why, at) for r in waiting]
    active = sum(1 for r in slot_runs if r.get("status") in ACTIVE)
    room = limit(job.max_parallel, len(targets)) - active
    return [_step(r, "pending", None, at) for r in waiting[:max(0, room)]]


def _failed(job: JobPlan, slot_runs: Iterable[Mapping[str, Any]]) -> str | None:
    """The first target (by name) whose run failed with no retry left, or None."""
    out = [str(r.get("target") or "") for r in slot_runs
           if r.get("status") in FAILURE_STATUSES and int(r.get("attempt") or 1) > job.retries]
    return min(out) if out else None


def _step(run: Mapping[str, Any], status: str, reason: str | None, at: str) -> dict[str, Any]:
    return {"run_id": str(run.get("id") or run.get("run_id")), "job": run["job"],
            "slot": run["slot"], "attempt": int(run.get("attempt") or 1), "peer": run.get("peer"),
            "target": run.get("target"), "status": status, "reason": reason, "manual": False,
            "retry_of": None, "fired_at": at}
