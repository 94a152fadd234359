"""Faults made of signals: SIGKILL, SIGSTOP/SIGCONT and a clean SIGTERM restart of one peer,
and SIGKILL of every peer at once (no quorum: the slots of the gap are caught up afterwards
under `catchup = "all"`; the writers keep writing throughout, and every write acknowledged
before the kill must be there after it).

A SIGSTOP should stay well under the 15 s run lease: a peer frozen past it has its runs
declared lost, which only retries bring back.
"""

from __future__ import annotations

import signal
import time

from tests.support.cluster import Peer
from tests.support.faults.base import Ctx, Event, follower, leader_or_any


def _victim(ctx: Ctx, leader: bool) -> Peer:
    chief = leader_or_any(ctx)
    return chief if leader else follower(ctx, chief)


def _kill(ctx: Ctx, leader: bool) -> Event:
    victim = _victim(ctx, leader)
    held = ctx.rng.uniform(*ctx.hold)
    victim.kill(signal.SIGKILL)
    time.sleep(held)  # the peer down for a while is the fault itself
    victim.start()
    return Event(0.0, "kill_leader" if leader else "kill_follower", [victim.id], held)


def _stop(ctx: Ctx, leader: bool) -> Event:
    victim = _victim(ctx, leader)
    held = ctx.rng.uniform(*ctx.hold)
    victim.kill(signal.SIGSTOP)
    try:
        time.sleep(held)  # the peer frozen for a while is the fault itself
    finally:
        victim.kill(signal.SIGCONT)
    return Event(0.0, "stop_leader" if leader else "stop_follower", [victim.id], held)


def kill_leader(ctx: Ctx) -> Event:
    return _kill(ctx, True)


def kill_follower(ctx: Ctx) -> Event:
    return _kill(ctx, False)


def stop_leader(ctx: Ctx) -> Event:
    return _stop(ctx, True)


def stop_follower(ctx: Ctx) -> Event:
    return _stop(ctx, False)


def restart_peer(ctx: Ctx) -> Event:
    """SIGTERM (the clean shutdown must exit 0), then start again."""
    victim = follower(ctx, leader_or_any(ctx))
    status = victim.kill(signal.SIGTERM, timeout=30)
    if status != 0:
        ctx.problems.append(f"{victim.id} exited {status} on SIGTERM")
    victim.start()
    return Event(0.0, "restart_peer", [victim.id], 0.0)


def kill_all(ctx: Ctx) -> Event:
    """SIGKILL every running peer, wait, start them all."""
    held = ctx.rng.uniform(*ctx.hold_all)
    for peer in ctx.cluster.running():
        peer.kill(signal.SIGKILL)
    time.sleep(held)  # the outage is the fault itself
    for peer in ctx.cluster.peers:
        peer.start(wait=False)
    for peer in ctx.cluster.peers:
        peer.wait_up()
    return Event(0.0, "kill_all", [p.id for p in ctx.cluster.peers], held)
