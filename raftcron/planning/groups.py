"""Concurrency groups across jobs: which runs wait for their group, and which start. Pure.

A job with `concurrency_group = "db-heavy"` shares the group's limit (the API's, else the
cluster config's; a group with neither holds nothing back) with every other job of the
group: at most `limit` of their runs pending or running at once. A run that would pass it is
recorded `waiting` ("waiting for concurrency group db-heavy (limit 2)") when its slot fires,
and so is every later one while any waits, so they start in the order they fired
(`Gate.apply`). Each second the leader starts the oldest waiting runs of each group as runs
end (`release`), as a `fanout_step` command: apply starts only runs still `waiting`, so a
leader change neither loses nor doubles one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from raftcron.durations import format_time
from raftcron.planning.job_plan import JobPlan

REASON = "waiting for concurrency group {group} (limit {limit})"


class Gate:
    """One plan's view of every group: `loads` (group -> {"active", "waiting"}) as the state
    has them, and the limits; `apply` counts the runs it lets through."""

    def __init__(self, loads: Mapping[str, Mapping[str, int]], limits: Mapping[str, int]
                 ) -> None:
        self._active = {g: int(v.get("active", 0)) for g, v in loads.items()}
        self._waiting = {g: int(v.get("waiting", 0)) for g, v in loads.items()}
        self._limits = dict(limits)

    def apply(self, job: JobPlan, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The job's records with those over its group's limit turned `waiting`."""
        group = job.concurrency_group
        limit = self._limits.get(group) if group else None
        if group is None or limit is None:
            return records
        out = []
        for rec in records:
            if rec.get("status") == "pending" and not rec.get("manual"):
                if self._waiting.get(group, 0) or self._active.get(group, 0) >= limit:
                    rec = {**rec, "status": "waiting",
                           "reason": REASON.format(group=group, limit=limit)}
                    self._waiting[group] = self._waiting.get(group, 0) + 1
                else:
                    self._active[group] = self._active.get(group, 0) + 1
            out.append(rec)
        return out


def release(waiting: Mapping[str, Sequence[Mapping[str, Any]]],
            loads: Mapping[str, Mapping[str, int]], limits: Mapping[str, int], *,
            now: datetime) -> list[dict[str, Any]]:
    """The `fanout_step` records that start each group's oldest waiting runs (by fired_at,
    then id) while the group has room. A group without a limit any more starts them all."""
    at = format_time(now)
    out: list[dict[str, Any]] = []
    for group in sorted(waiting):
        runs = sorted(waiting[group], key=lambda r: (str(r.get("fired_at")), str(r.get("id"))))
        limit = limits.get(group)
        active = int(loads.get(group, {}).get("active", 0))
        room = len(runs) if limit is None else max(0, limit - active)
        out += [{"run_id": str(r["id"]), "job": r["job"], "slot": r["slot"],
                 "attempt": int(r.get("attempt") or 1), "peer": r.get("peer"),
                 "target": r.get("target"), "status": "pending", "reason": None,
                 "manual": False, "retry_of": None, "fired_at": at} for r in runs[:room]]
    return out
