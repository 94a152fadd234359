"""Network partitions: one peer (the leader or a follower) cut off from every other peer and
from the test itself for a while, then healed. Needs a `NetCluster` (peers in namespaces).

A cut leader cannot commit: it fires nothing more (a fire is a committed entry) and steps
down after `leader_fallback`; the other two elect a leader and go on. On heal the cut peer
catches up from the leader's log.
"""

from __future__ import annotations

import time

from tests.support.faults.base import Ctx, Event, caught_up, follower, leader_or_any
from tests.support.faults.netns import NetCluster


def _partition(ctx: Ctx, leader: bool) -> Event:
    cluster = ctx.cluster
    if not isinstance(cluster, NetCluster):
        raise TypeError("a partition needs a NetCluster (peers in network namespaces)")
    chief = leader_or_any(ctx)
    victim = chief if leader else follower(ctx, chief)
    held = ctx.rng.uniform(*ctx.hold)
    cluster.cut(victim)
    try:
        time.sleep(held)  # the peer cut off for a while is the fault itself
    finally:
        cluster.heal(victim)
    caught_up(ctx, victim)
    kind = "partition_leader" if leader else "partition_follower"
    return Event(0.0, kind, [victim.id], held)


def partition_leader(ctx: Ctx) -> Event:
    return _partition(ctx, True)


def partition_follower(ctx: Ctx) -> Event:
    return _partition(ctx, False)
