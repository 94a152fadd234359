"""From decisions to commands: run records, the `fire`/`batch` proposal and its key. Pure.

Everything the state will record is chosen here, before the command enters the log: run ids
(from the `new_run_id` the scheduler passes), peers and targets, `fired_at`. The proposal key
depends only on what is decided about which slots ((job, slot, attempt, status) of each
record), not on run ids or placement, so a proposal retried after an unknown outcome, or
planned again by the next leader for the same slots, is the same key and applies once.
Records that do not run (`skipped`, `missed`) name the deciding leader as their `peer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from raftcron.durations import format_time
from raftcron.model.commands import batch_entry
from raftcron.planning.fanout import first_wave
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import (
    NO_TARGET_REASON,
    NodeInfo,
    PeerInfo,
    choose_targets,
    record_assignment,
)
from raftcron.planning.recovery import RetryPlan
from raftcron.planning.slots import SlotPlan


@dataclass
class Placement:
    """The cluster as placement sees it during one pass; `load`/`recent` grow as runs go out."""

    self_id: str
    peers: Sequence[PeerInfo]
    nodes: Sequence[NodeInfo]
    load: MutableMapping[str, int] = field(default_factory=dict)
    recent: MutableMapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """One command to propose: `op`, `args`, the idempotency `key`."""

    op: str
    args: dict[str, Any]
    key: str

    def records(self) -> list[dict[str, Any]]:
        """The run records this proposal fires (inside a batch too)."""
        if self.op == "fire":
            return list(self.args["runs"])
        if self.op == "batch":
            return [r for c in self.args["commands"] if c["op"] == "fire"
                    for r in c["args"]["runs"]]
        return []


def slot_records(job: JobPlan, plan: SlotPlan, where: Placement, *, now: datetime,
                 new_run_id: Callable[[], str], ahead: bool = False) -> list[dict[str, Any]]:
    """The run records for one job's plan, in slot order: one per decision, or for
    `hosts = "all"` one per eligible target; a pending slot with nowhere to run is `skipped`.
    `ahead`: committed before its slot, so the leader (`where.self_id`) loses ties of load
    (`placement.choose_targets`)."""
    out = []
    for d in plan.decisions:
        if d.status != "pending":
            out.append(_record(job.name, d.slot, 1, where.self_id, None, d.status, d.reason,
                               None, now, new_run_id()))
            continue
        pairs = choose_targets(job, where.peers, where.nodes, where.load, where.recent,
                               slot=d.slot, avoid_on_tie=where.self_id if ahead else None)
        if not pairs:
            out.append(_record(job.name, d.slot, 1, where.self_id, None, "skipped",
                               NO_TARGET_REASON, None, now, new_run_id()))
        wave = []
        for peer, target in pairs:
            record_assignment(where.load, where.recent, peer, target)
            wave.append(_record(job.name, d.slot, 1, peer, target, "pending", None, None, now,
                                new_run_id()))
        out += first_wave(job, wave)  # `max_parallel`: the rest wait their turn
    return out


def retry_record(job: JobPlan, retry: RetryPlan, where: Placement, *, now: datetime,
                 new_run_id: Callable[[], str]) -> dict[str, Any]:
    """The record of one retry: elsewhere when possible; for `hosts = "all"` on its target."""
    if retry.target is not None:
        pairs = [p for p in choose_targets(job, where.peers, where.nodes, where.load,
                                           where.recent, slot=retry.slot)
                 if p[1] == retry.target]
    else:
        pairs = choose_targets(job, where.peers, where.nodes, where.load, where.recent,
                               "any", slot=retry.slot, exclude=retry.exclude)
    why = f"retry of run {retry.retry_of}"
    if not pairs:
        return _record(job.name, retry.slot, retry.attempt, where.self_id, None, "skipped",
                       f"{why}: {NO_TARGET_REASON}", retry.retry_of, now, new_run_id())
    peer, target = pairs[0]
    record_assignment(where.load, where.recent, peer, target)
    return _record(job.name, retry.slot, retry.attempt, peer, target, "pending", why,
                   retry.retry_of, now, new_run_id())


def tick_proposal(records: Sequence[Mapping[str, Any]], cancels: Sequence[str],
                  finishes: Sequence[str], *, now: datetime,
                  nexts: Mapping[str, Mapping[str, str]] | None = None,
                  held: Sequence[str] = ()) -> Proposal | None:
    """One proposal for a wake: `fire`, or a `batch` of cancels, the fire, then finishes.

    Cancels come first so a replaced run is told to stop before its successor is assigned;
    `finish_job` comes last so the job's final slot is recorded before it finishes. `nexts`
    (job -> its next `{slot, fire_at}` after these records) rides in the fire's `next`; a
    fire with no record but some `nexts` only writes them (a migrated job's first value).
    `held` (v5): the ids of records fired ahead of their slot, which their peers start only
    once confirmed (`planning.moves`).
    """
    at = format_time(now)
    if not records and not cancels and not finishes and not nexts:
        return None
    fire_args: dict[str, Any] = {"runs": [dict(r) for r in records], "at": at}
    if nexts:
        fire_args["next"] = {k: dict(v) for k, v in sorted(nexts.items())}
    if held:
        fire_args["held"] = list(held)
    key = "fire:" + _digest(
        [f"{r['job']}|{r['slot']}|{r['attempt']}|{r['status']}" for r in records]
        # A cancel or finish may rightly happen again later (a job re-put after finishing):
        # their part of the key carries the time, so only a retry of this very proposal repeats.
        + [f"cancel|{c}|{at}" for c in cancels] + [f"finish|{f}|{at}" for f in finishes]
        + ([f"next|{j}|{v['slot']}" for j, v in sorted((nexts or {}).items())]
           if not records else []))
    if not cancels and not finishes:
        return Proposal("fire", fire_args, key)
    entries = [batch_entry("cancel_run", {"run_id": c, "at": at}) for c in cancels]
    if records or nexts:
        entries.append(batch_entry("fire", fire_args))
    entries += [batch_entry("finish_job", {"name": f, "at": at}) for f in finishes]
    return Proposal("batch", {"commands": entries}, key)


def retry_proposal(record: Mapping[str, Any], *, now: datetime) -> Proposal:
    """A retry is its own `fire`, keyed by the run it retries: any leader, any number of
    times, the state applies it once."""
    key = f"retry:{record['retry_of']}:{record['attempt']}"
    return Proposal("fire", {"runs": [dict(record)], "at": format_time(now)}, key)


def lost_proposal(lost: Sequence[tuple[str, str]], *, now: datetime) -> Proposal | None:
    """`run_lost` for each (run_id, reason), batched; idempotent per run (a run no longer
    active is refused by the state, and the key repeats)."""
    if not lost:
        return None
    at = format_time(now)
    entries = [batch_entry("run_lost", {"run_id": r, "reason": why, "at": at},
                           key=f"lost:{r}") for r, why in lost]
    key = "lost:" + _digest([r for r, _ in lost])
    if len(entries) == 1:
        return Proposal("run_lost", dict(entries[0]["args"]), f"lost:{lost[0][0]}")
    return Proposal("batch", {"commands": entries}, key)


def prune_proposal(run_ids: Sequence[str]) -> Proposal:
    return Proposal("prune_runs", {"run_ids": list(run_ids)}, "prune:" + _digest(run_ids))


def _record(job: str, slot: datetime, attempt: int, peer: str, target: str | None,
            status: str, reason: str | None, retry_of: str | None, now: datetime,
            run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "job": job, "slot": format_time(slot), "attempt": attempt,
            "peer": peer, "target": target, "status": status, "reason": reason,
            "manual": False, "retry_of": retry_of, "fired_at": format_time(now)}


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:32]
