"""What every fault shares: the context a fault acts in and the record it leaves.

A fault is a function `fault(ctx) -> Event`: it injects one failure, holds it, undoes it (a
peer started again, a link up, space freed) and returns what it did. Faults never judge the
cluster; `tests.support.faults.checks` does, once the run has settled. Holds are the
disturbance itself (a peer down for a while), so they sleep; everything else polls with a
deadline (`tests.support.wait.wait_until`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.cluster import Cluster, Peer
from tests.support.faults.disk import Tmpfs

Log = Callable[[str], None]


@dataclass
class Event:
    at: float            # seconds since the chaos began (set by the runner)
    kind: str
    peers: list[str]
    held: float
    note: str = ""
    status: int | None = None  # the exit status of a peer that found its disk full


@dataclass
class Ctx:
    """`hold`: seconds a peer stays down, frozen or cut off, drawn from this range;
    `tmpfs`: the small data disk of `cluster.peers[disk_peer]` (None: no disk fault);
    `problems`: what a fault saw go wrong on the way (a bad exit status...), judged later."""

    cluster: Cluster
    rng: random.Random
    log: Log = lambda _msg: None
    hold: tuple[float, float] = (1.0, 5.0)
    hold_all: tuple[float, float] = (1.0, 3.0)
    tmpfs: Tmpfs | None = None
    disk_peer: int = 2
    problems: list[str] = field(default_factory=list)


def leader_or_any(ctx: Ctx) -> Peer:
    """The leader every running peer agrees on, or (none within 20 s) any running peer."""
    try:
        return ctx.cluster.wait_for_leader(timeout=20)
    except AssertionError:
        return ctx.rng.choice(ctx.cluster.running())


def follower(ctx: Ctx, leader: Peer) -> Peer:
    others = [p for p in ctx.cluster.running() if p is not leader]
    return ctx.rng.choice(others or ctx.cluster.running())


def caught_up(ctx: Ctx, peer: Peer, timeout: float = 60.0) -> None:
    """Wait until `peer` has applied what the leader (among the others) has committed."""
    leader = ctx.cluster.wait_for_leader(timeout=timeout)
    commit = leader.status()["commit_index"]
    ctx.cluster.wait_for_applied(commit, [peer], timeout=timeout)
