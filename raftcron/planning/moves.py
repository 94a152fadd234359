"""Held runs stranded on a silent peer: which to move, where, and the proposal. Pure.

A run fired ahead of its slot is *held* (`runs.held`, `planning.ahead`): its peer starts it
only once its `run_started` is committed. So a held run the state still lists as `pending`
has certainly not run, wherever its peer is, and the leader may give it to another peer: the
`move_run` and the old peer's `run_started` are ordered by the log, and whichever comes second
is refused, on every copy alike. A held run never runs twice and is not lost with the peer
that held it (a leader killed a moment before its slot, a follower cut off).

- `stranded`: the pending held runs whose peer is silent (`recovery.update_down_since`) and
  whose time (`fired_at`) has come. A run not yet due stays: its peer may be back for it.
- `move_target`: where a stranded run goes, chosen as a retry's target is (least loaded,
  away from the silent peer); a run of `hosts = "all"` keeps its target.
- `move_proposal`: one `move_run` per run (a `batch` for several), keyed by the run and the
  peer it leaves, so a retried proposal applies once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from raftcron.durations import format_time, parse_time
from raftcron.model import Hosts
from raftcron.model.commands import batch_entry
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import NodeInfo, PeerInfo, choose_targets, record_assignment
from raftcron.planning.proposals import Proposal


def stranded(active: Iterable[Mapping[str, Any]], down_since: Mapping[str, datetime],
             now: datetime) -> list[Mapping[str, Any]]:
    """The runs of `active` (`ReadDb.active_refs`) that are pending, held, on a silent peer,
    and due by `now`."""
    out = []
    for run in active:
        if run.get("status") != "pending" or not run.get("held"):
            continue
        if run.get("peer") not in down_since:
            continue
        fired = run.get("fired_at")
        if isinstance(fired, str) and parse_time(fired, field="fired_at") <= now:
            out.append(run)
    return out


def move_target(job: JobPlan, run: Mapping[str, Any], *, peers: Sequence[PeerInfo],
                nodes: Sequence[NodeInfo], load: dict[str, int], recent: dict[str, int],
                ) -> tuple[str, str] | None:
    """(peer, target) for a stranded `run` of `job`, or None when no other peer can take it
    now (it stays where it is, and is recorded `lost` past the lease as before)."""
    old = str(run.get("peer"))
    slot = parse_time(str(run.get("fired_at")), field="fired_at")
    live = [p for p in peers if p.id != old]
    target = run.get("target")
    if job.hosts == Hosts.ALL and target not in (None, old):
        pairs = [p for p in choose_targets(job, live, nodes, load, recent, slot=slot)
                 if p[1] == target]
    else:
        pairs = choose_targets(job, live, nodes, load, recent, "any", slot=slot,
                               exclude=(old,))
    if not pairs or pairs[0][0] == old:
        return None
    peer, where = pairs[0]
    record_assignment(load, recent, peer, where)
    return peer, where


def move_proposal(moves: Sequence[tuple[str, str, str, str | None]], *, now: datetime,
                  ) -> Proposal | None:
    """The proposal moving each (run_id, from_peer, peer, target); None for none."""
    if not moves:
        return None
    at = format_time(now)
    entries = [batch_entry("move_run", {"run_id": rid, "from_peer": old, "peer": peer,
                                        "target": target, "at": at},
                           key=f"move:{rid}:{old}")
               for rid, old, peer, target in moves]
    if len(entries) == 1:
        return Proposal("move_run", dict(entries[0]["args"]), str(entries[0]["key"]))
    digest = hashlib.sha256("\n".join(sorted(str(e["key"]) for e in entries)).encode())
    return Proposal("batch", {"commands": entries}, "move:" + digest.hexdigest()[:32])
