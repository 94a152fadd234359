"""The `/status` view of one Raft peer, built from pysyncobj's state and the transport."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from raftcron.raft.liveness import heard_within
from raftcron.raft.syncobj import RaftObj

if TYPE_CHECKING:
    from raftcron.config.tuning import RaftTuning
    from raftcron.raft.clocks import ClockVerdict
    from raftcron.raft.snapshots import SnapshotHooks


__all__ = ["StatusPeer", "node_status"]


class StatusPeer(Protocol):
    """What the status needs of the peer (`raftcron.raft.node.Node`)."""

    self_id: str
    announce: dict[str, Any]
    tuning: RaftTuning

    @property
    def leader(self) -> str | None: ...

    @property
    def applied_index(self) -> int: ...

    @property
    def caught_up(self) -> bool: ...

    @property
    def firing(self) -> bool: ...

    @property
    def clock(self) -> ClockVerdict: ...

    def has_lease(self) -> bool: ...


def node_status(peer: StatusPeer, raft: RaftObj, *, role: str, hooks: SnapshotHooks) -> dict:
    """This peer's view: id, role, leader, term, commit/applied index and every member.

    `role` is `leader` only while pysyncobj says so AND this peer holds its lease (a majority
    heard within `election_timeout_min`); a leader that lost its lease reports `follower` and
    `leader: null` (it cannot commit and may already be deposed; pysyncobj steps it down after
    `leader_fallback`). Otherwise `role` is pysyncobj's (`follower`, `candidate`).

    `peers` lists every member, this one included (`"self": true`). `reachable`: the
    connection is up and the peer said something within `election_timeout_max`;
    `last_contact`: seconds since it last did (null if never). On the leader that is the time
    since the follower last answered, and `match_index` is how far its log matches. Each entry
    also carries what that peer announced about itself (`roles`, `capacity`), and
    `clock_skew`: that peer's wall clock minus this one's in seconds (null: not measured).

    Clocks: `clock_offset` is this peer's clock minus the median of the members' it measured
    (null before any), `max_clock_skew` the threshold, `firing` whether this peer fires slots
    now (the leader, caught up, with its lease and its clock with the majority's), and
    `firing_reason` why not when it leads or its clock is the reason (else null).
    """
    leader = peer.leader
    is_leader = leader == peer.self_id
    leaseless = raft._isLeader() and not peer.has_lease()
    if leaseless:
        leader = None
    transport = raft.transport()
    now = time.monotonic()
    peers: list[dict[str, Any]] = [{**peer.announce, "id": peer.self_id, "self": True,
                                    "reachable": True, "last_contact": 0.0,
                                    "clock_skew": 0.0}]
    for other in sorted(raft.otherNodes, key=lambda n: n.id):
        contact = transport.last_contact(other.id)
        age = None if contact is None else round(max(now - contact, 0.0), 3)
        reachable = (raft.isNodeConnected(other)
                     and heard_within(contact, now, peer.tuning.election_timeout_max))
        entry: dict[str, Any] = {**transport.peer_meta(other.id), "id": other.id,
                                 "self": False, "reachable": reachable, "last_contact": age,
                                 "clock_skew": _round(transport.clock_offset(other.id))}
        if is_leader:
            entry["match_index"] = raft.match_index(other)
        peers.append(entry)
    clock = peer.clock
    firing = peer.firing
    reason = None
    if not firing and not clock.ok:
        reason = clock.reason
    elif not firing and raft._isLeader():
        reason = "not yet caught up in this term, or no majority heard lately (lease)"
    return {
        "id": peer.self_id,
        "role": "follower" if leaseless else ("leader" if raft._isLeader() else role),
        "leader": leader,
        "term": raft.raftCurrentTerm,
        "commit_index": raft.raftCommitIndex,
        "applied_index": peer.applied_index,
        "caught_up": peer.caught_up,
        "log_entries": raft._getRaftLogSize(),
        "snapshots_written": hooks.snapshots_written,
        "snapshots_loaded": hooks.snapshots_loaded,
        "peers": peers,
        "clock_offset": _round(clock.offset),
        "max_clock_skew": peer.tuning.max_clock_skew,
        "firing": firing,
        "firing_reason": reason,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
