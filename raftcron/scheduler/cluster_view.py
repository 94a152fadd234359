"""The scheduler's settings and its view of the cluster for placement (peers, nodes).

Peers come from `node.status()["peers"]` (reachability) and the configured peer list. A peer's
roles and capacity come, in this order, from its status entry (when the node reports them), from
a `local` node in the replicated node table named by the peer's raft id (how a peer announces
its `--roles`/`--capacity` to the leader), or, for this peer, from the settings; otherwise it
has no roles and the default capacity. Nodes come from the node table: every SSH node, and
every `local` node that is not named after a peer (issue 5: "local" means the executing peer
itself, so such a node is run by whichever reachable peer placement picks to act for it). A
local node is healthy as long as some peer is reachable (its own `healthy` field, which only
SSH health checks set, is ignored); its capacity bounds the runs on it (see `placement`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from raftcron.planning.ahead import FIRE_AHEAD
from raftcron.planning.placement import NodeInfo, PeerInfo
from raftcron.planning.slots import DEFAULT_CATCHUP_CAP, DEFAULT_GRACE


@dataclass(frozen=True, kw_only=True)
class SchedulerSettings:
    #: A silent executing peer's active runs are `lost` after this.
    lease: timedelta = timedelta(seconds=15)
    #: Terminal runs older than this are pruned (besides each job's `keep_runs`).
    max_run_age: timedelta = timedelta(days=30)
    catchup_cap: int = DEFAULT_CATCHUP_CAP
    keep_runs_default: int = 100
    #: Late by at most this, a slot is on time (it runs whatever the catch-up policy).
    grace: timedelta = DEFAULT_GRACE
    #: This peer's roles and capacity (other peers announce theirs as local nodes).
    roles: tuple[str, ...] = ()
    capacity: int = 4
    default_capacity: int = 4
    #: Seconds between passes for leases, retries and held queue slots.
    recovery_interval: float = 1.0
    #: Seconds between retention passes.
    retention_interval: float = 60.0
    #: Assignments this recent break placement ties.
    recent_window: timedelta = timedelta(minutes=10)
    #: A new leader looks this far back (by fire time) for failed runs still owed a retry.
    retry_horizon: timedelta = timedelta(hours=6)
    #: Wall time moving this much against the monotonic clock is a jump: re-read, re-plan.
    clock_jump: timedelta = timedelta(seconds=5)
    #: A job may be planned and committed this long before it is due (`planning.ahead`).
    fire_ahead: timedelta = FIRE_AHEAD
    #: Records per `fire` entry (one job's records always share an entry).
    max_records_per_fire: int = 2000
    propose_timeout: float = 5.0
    #: The cluster config's blackout windows: (name, cron expression, zone).
    blackouts: tuple[tuple[str, str, str], ...] = ()
    #: The cluster config's concurrency group limits: (name, limit).
    concurrency_groups: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, value: Any = None, **overrides: Any) -> SchedulerSettings:
        """Settings from None (defaults), a `SchedulerSettings`, or any object or mapping with
        some of the same names (`config.SchedulerConfig`: lease, max_run_age, catchup_cap)."""
        if isinstance(value, cls) and not overrides:
            return value
        names = {f.name for f in fields(cls)}
        found: dict[str, Any] = {}
        if isinstance(value, Mapping):
            found = {k: v for k, v in value.items() if k in names}
        elif value is not None:
            found = {n: getattr(value, n) for n in names if hasattr(value, n)}
        found.update(overrides)
        if "roles" in found:
            found["roles"] = tuple(found["roles"] or ())
        return cls(**found)


@dataclass(frozen=True)
class ClusterView:
    peers: list[PeerInfo]
    nodes: list[NodeInfo]


def cluster_view(*, self_id: str, configured: Iterable[str], status_peers: Iterable[Mapping],
                 nodes: Iterable[Mapping[str, Any]], silent: Mapping[str, datetime],
                 settings: SchedulerSettings) -> ClusterView:
    """Placement's view: a peer is reachable unless it is silent (see `recovery`); `nodes` are
    the SSH nodes and the local nodes not named after a peer, by name."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for p in status_peers:
        if isinstance(p, Mapping) and p.get("id"):
            by_id[str(p["id"])] = p
    local: dict[str, Mapping[str, Any]] = {}
    targets: list[NodeInfo] = []
    for n in nodes:
        if not isinstance(n, Mapping) or not n.get("name"):
            continue
        if str(n.get("connection_type") or "local") == "ssh":
            healthy = n.get("healthy")
            targets.append(NodeInfo(name=str(n["name"]), roles=frozenset(n.get("roles") or ()),
                                    healthy=healthy is None or bool(healthy),
                                    capacity=_capacity(n.get("capacity"), settings)))
        else:
            local[str(n["name"])] = n
    peer_ids = list(dict.fromkeys([self_id, *configured, *by_id]))
    # A local node named after a peer is that peer's announcement, not a target of its own.
    targets += [NodeInfo(name=name, roles=frozenset(n.get("roles") or ()), local=True,
                         capacity=_capacity(n.get("capacity"), settings))
                for name, n in local.items() if name not in peer_ids]
    peers = []
    for pid in peer_ids:
        entry = by_id.get(pid, {})
        node = local.get(pid, {})
        if pid == self_id:
            roles = entry.get("roles") or node.get("roles") or settings.roles
            capacity = entry.get("capacity") or node.get("capacity") or settings.capacity
        else:
            roles = entry.get("roles") or node.get("roles") or ()
            capacity = entry.get("capacity") or node.get("capacity")
        peers.append(PeerInfo(id=pid, reachable=pid == self_id or pid not in silent,
                              roles=frozenset(roles), capacity=_capacity(capacity, settings)))
    return ClusterView(peers=peers, nodes=sorted(targets, key=lambda n: n.name))


def _capacity(value: Any, settings: SchedulerSettings) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return settings.default_capacity
