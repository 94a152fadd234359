"""Which peer (and which SSH node) gets a run: pure, table-tested.

Targets are of two kinds. A *peer* runs the command itself (`target` = the peer's id). An
*SSH node* is reached through a peer acting as the SSH client (`peer` = that peer, `target` =
the node's name). Eligibility:

- a peer: reachable and, when the job names roles, carrying one of them;
- an SSH node: healthy, carrying one of the job's roles (a job without roles runs on the peers
  only: an SSH host is never picked for a job that did not ask for its role), and some peer is
  reachable to drive the session;
- capacity 0 is never eligible.

Among eligible targets the least loaded wins (active runs / capacity), ties broken by fewest
recent assignments, then by a stable hash of (job, slot, target) so equal targets share work
without a coordinator and every leader breaks a tie the same way. The SSH client is the least
loaded reachable peer, by the same rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from raftcron.durations import format_time
from raftcron.model import Hosts
from raftcron.planjob import JobPlan

NO_TARGET_REASON = "no eligible peer/node"


@dataclass(frozen=True, kw_only=True)
class PeerInfo:
    """A raft peer as a place to run: `id` is its raft address."""

    id: str
    reachable: bool = True
    roles: frozenset[str] = frozenset()
    capacity: int = 4


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    """An SSH node from the replicated node table."""

    name: str
    roles: frozenset[str] = frozenset()
    healthy: bool = True
    capacity: int = 4


def choose_targets(
    job: JobPlan,
    peers: Sequence[PeerInfo],
    nodes: Sequence[NodeInfo],
    load: Mapping[str, int],
    recent: Mapping[str, int],
    hosts: Hosts | str | None = None,
    *,
    slot: datetime,
    exclude: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """The (peer, target) pairs that run `job`'s `slot`; empty when nothing is eligible.

    `load` maps a peer id to the active runs it executes or drives, and an SSH node's name to
    the active runs on it; `recent` counts recent assignments by the same names. `hosts`
    defaults to the job's: `any` gives one pair, `all` one per eligible target. `exclude`
    (targets of earlier attempts) is avoided when another eligible target exists.
    """
    hosts = Hosts(str(hosts)) if hosts is not None else job.hosts
    stamp = format_time(slot)
    live = [p for p in peers if p.reachable and p.capacity > 0]
    targets: list[tuple[str, int]] = [
        (p.id, p.capacity) for p in live if not job.roles or job.roles & p.roles]
    if live and job.roles:
        targets += [(n.name, n.capacity) for n in nodes
                    if n.healthy and n.capacity > 0 and job.roles & n.roles]
    if not targets:
        return []
    peer_ids = {p.id for p in live}
    if hosts == Hosts.ALL:
        chosen = sorted(name for name, _ in targets)
    else:
        avoid = set(exclude)
        pool = [t for t in targets if t[0] not in avoid] or targets
        chosen = [_best(job.name, stamp, pool, load, recent)]
    out = []
    for target in chosen:
        if target in peer_ids:
            out.append((target, target))
        else:
            client = _best(job.name, stamp, [(p.id, p.capacity) for p in live], load, recent)
            out.append((client, target))
    return out


def record_assignment(load: MutableMapping[str, int], recent: MutableMapping[str, int],
                      peer: str, target: str) -> None:
    """Count a new assignment, so the next choice in the same plan spreads the work."""
    for name in {peer, target}:
        load[name] = load.get(name, 0) + 1
        recent[name] = recent.get(name, 0) + 1


def loads(active_runs: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Active runs per peer (runs it executes or drives) and per SSH node (runs on it)."""
    out: dict[str, int] = {}
    for run in active_runs:
        names = {run.get("peer"), run.get("target")}
        for name in names:
            if isinstance(name, str) and name:
                out[name] = out.get(name, 0) + 1
    return out


def _best(job: str, stamp: str, pool: Sequence[tuple[str, int]], load: Mapping[str, int],
          recent: Mapping[str, int]) -> str:
    def score(item: tuple[str, int]) -> tuple[float, int, bytes]:
        name, capacity = item
        tie = hashlib.sha256(f"{job}\x00{stamp}\x00{name}".encode()).digest()[:8]
        return (load.get(name, 0) / capacity, recent.get(name, 0), tie)

    return min(pool, key=score)[0]
