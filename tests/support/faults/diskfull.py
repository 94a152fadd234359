"""The full-disk fault: the data disk (a small tmpfs, `ctx.tmpfs`) of one peer fills up.

The peer's next write fails; it must stop loudly (exit status 70, and its log saying the disk
is full: "database or disk is full" when SQLite finds it, "No space left on device" when the
raft journal does) rather than serve a copy that skipped an entry, while the other two go on
(a write still commits). Then the space is freed, the peer starts again and catches up.
Whatever differs from that is recorded in `ctx.problems`.

A journal that died of SIGBUS (pysyncobj grows its file sparsely and writes through a mapping)
was tolerated here until the journal reserved its space before writing
(`raftcron.raft.journal_file`): it is a problem now like any other exit.
"""

from __future__ import annotations

import time

from tests.support.faults.base import Ctx, Event, caught_up
from tests.support.wait import wait_until

FULL_EXIT = 70
#: What the log says: SQLite's words, or the journal's (`raftcron.raft.journal_file`).
FULL_MESSAGES = ("database or disk is full", "No space left on device")


def disk_full(ctx: Ctx) -> Event:
    if ctx.tmpfs is None:
        raise TypeError("a full disk needs ctx.tmpfs (the peer's data dir on a tmpfs)")
    victim = ctx.cluster.peers[ctx.disk_peer]
    began = time.monotonic()
    written = ctx.tmpfs.fill()
    try:
        # The peer writes on every applied entry; the run's jobs and writers make entries.
        wait_until(lambda: not victim.running, 60, f"{victim} to stop on a full disk",
                   interval=0.2)
        status = victim.proc.returncode if victim.proc else None
        if status == FULL_EXIT:
            tail = victim.log_tail(40)
            if not any(message in tail for message in FULL_MESSAGES):
                ctx.problems.append(f"{victim.id}'s log does not say the disk is full")
        else:
            ctx.problems.append(f"{victim.id} exited {status} on a full disk, not {FULL_EXIT}")
        # The others go on: a leader among them, and they keep committing.
        leader = ctx.cluster.wait_for_leader(timeout=30)
        commit = leader.status()["commit_index"]
        wait_until(lambda: leader.status()["commit_index"] > commit, 30,
                   "the other peers to commit while one is down", interval=0.2)
    finally:
        ctx.tmpfs.free()
    held = time.monotonic() - began
    victim.start()
    caught_up(ctx, victim)
    return Event(0.0, "disk_full", [victim.id], held, status=status,
                 note=f"filled {written >> 20} MiB, exit {status}")
