"""Which peer (and which node) gets a run: pure, table-tested.

Targets are of three kinds. A *peer* runs the command itself (`target` = the peer's id). An
*SSH node* is reached through a peer acting as the SSH client (`peer` = that peer, `target` =
the node's name). A *local node* (`connection_type = "local"`, not named after a peer) is a
name for "the executing peer itself" with its own roles and capacity: a peer acts for it and
runs the command locally (`peer` = that peer, `target` = the node's name). Eligibility:

- a peer: reachable and, when the job names roles, carrying one of them;
- a node (SSH or local): carrying one of the job's roles (a job without roles runs on the
  peers only: a node is never picked for a job that did not ask for its role), and some peer
  is reachable to drive it;
- an SSH node must also be healthy; a local node has no health of its own (it is as healthy
  as the peer that runs it, and any reachable peer may), but its capacity is a bound: a local
  node already running `capacity` runs is not eligible (counting the runs of the same plan);
- capacity 0 is never eligible.

Among eligible targets the least loaded wins (active runs / capacity), ties broken by fewest
recent assignments, then by a stable hash of (job, slot, target) so equal targets share work
without a coordinator and every leader breaks a tie the same way. While the cluster does not
read command version 5, a run committed ahead of its slot (`planning.ahead`) and held by its
peer until the slot is recorded `lost` if that peer dies meanwhile, where a slot not yet
committed would have been fired by the next leader; such a run then breaks a tie of load
against `avoid_on_tie` (the leader, the peer a failover takes down most often), before recent
assignments: the leader still takes it when it is the least loaded. (From version 5 such runs
move off a silent peer, `planning.moves`, and no tie is biased.) The peer that drives a node
(the SSH client, or the peer acting for a local node) is the least loaded reachable peer, by
the same rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from raftcron.durations import format_time
from raftcron.model import Hosts
from raftcron.planning.job_plan import JobPlan

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
    """A node from the replicated node table: SSH, or `local` (run on the acting peer)."""

    name: str
    roles: frozenset[str] = frozenset()
    healthy: bool = True
    capacity: int = 4
    #: `connection_type = "local"`: the acting peer runs the command itself.
    local: bool = False

    def eligible(self, roles: frozenset[str], load: Mapping[str, int]) -> bool:
        """Whether this node may take a run of a job asking for `roles` under `load`
        (some reachable peer to drive it is the caller's check)."""
        if self.capacity <= 0 or not roles & self.roles:
            return False
        if self.local:
            return load.get(self.name, 0) < self.capacity
        return self.healthy


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
    avoid_on_tie: str | None = None,
) -> list[tuple[str, str]]:
    """The (peer, target) pairs that run `job`'s `slot`; empty when nothing is eligible.

    `load` maps a peer id to the active runs it executes or drives, and a node's name to the
    active runs on it; `recent` counts recent assignments by the same names. `hosts`
    defaults to the job's: `any` gives one pair, `all` one per eligible target. `exclude`
    (targets of earlier attempts) is avoided when another eligible target exists;
    `avoid_on_tie` loses every tie of load (a run committed ahead of its slot).
    """
    hosts = Hosts(str(hosts)) if hosts is not None else job.hosts
    stamp = format_time(slot)
    live = [p for p in peers if p.reachable and p.capacity > 0]
    targets: list[tuple[str, int]] = [
        (p.id, p.capacity) for p in live if not job.roles or job.roles & p.roles]
    if live and job.roles:
        targets += [(n.name, n.capacity) for n in nodes if n.eligible(job.roles, load)]
    if not targets:
        return []
    peer_ids = {p.id for p in live}
    if hosts == Hosts.ALL:
        chosen = sorted(name for name, _ in targets)
    else:
        avoid = set(exclude)
        pool = [t for t in targets if t[0] not in avoid] or targets
        chosen = [_best(job.name, stamp, pool, load, recent, avoid_on_tie)]
    out = []
    for target in chosen:
        if target in peer_ids:
            out.append((target, target))
        else:
            client = _best(job.name, stamp, [(p.id, p.capacity) for p in live], load, recent,
                           avoid_on_tie)
            out.append((client, target))
    return out


def record_assignment(load: MutableMapping[str, int], recent: MutableMapping[str, int],
                      peer: str, target: str) -> None:
    """Count a new assignment, so the next choice in the same plan spreads the work."""
    for name in {peer, target}:
        load[name] = load.get(name, 0) + 1
        recent[name] = recent.get(name, 0) + 1


def loads(active_runs: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Active runs per peer (runs it executes or drives) and per node (runs on it)."""
    return counted_loads((run.get("peer"), run.get("target"), 1) for run in active_runs)


def counted_loads(groups: Iterable[tuple[object, object, int]]) -> dict[str, int]:
    """`loads` from (peer, target, how many active runs) groups, as SQL counts them."""
    out: dict[str, int] = {}
    for peer, target, count in groups:
        for name in {peer, target}:
            if isinstance(name, str) and name:
                out[name] = out.get(name, 0) + count
    return out


def _best(job: str, stamp: str, pool: Sequence[tuple[str, int]], load: Mapping[str, int],
          recent: Mapping[str, int], avoid_on_tie: str | None = None) -> str:
    def score(item: tuple[str, int]) -> tuple[float, bool, int, bytes]:
        name, capacity = item
        tie = hashlib.sha256(f"{job}\x00{stamp}\x00{name}".encode()).digest()[:8]
        return (load.get(name, 0) / capacity, name == avoid_on_tie, recent.get(name, 0), tie)

    return min(pool, key=score)[0]
