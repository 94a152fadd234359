"""Rolling upgrades: write a newer command version only when the cluster can read it.

Every peer gossips the newest command version it reads (`command_version`, with its roles and
capacity, `raft/transport.py`). A peer that applies an entry newer than it reads stops (status
70), so a command that needs envelope version N (`model.commands.version_of`) is proposed
only when `cluster_reads(status, N)`: every reachable peer reads N, and those are a majority of
the cluster. An old peer that is down stops when it comes back and meets the entry, which is
what an upgrade asks of it anyway; the majority goes on firing meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from raftcron.model.ports import StatusSource
from raftcron.raft.version_gate import GOSSIP_KEY, cluster_reads

log = logging.getLogger(__name__)

#: Seconds between two checks, and between two WARNINGs naming the peers waited for.
POLL = 0.5
WARN_EVERY = 60.0

__all__ = ["GOSSIP_KEY", "cluster_reads", "wait_cluster_reads"]


async def wait_cluster_reads(node: StatusSource, version: int, what: str) -> None:
    """Return once `cluster_reads(node.status(), version)`; WARNING about the peers waited for
    right away and then every `WARN_EVERY` seconds."""
    loop = asyncio.get_running_loop()
    warned_at: float | None = None
    while True:
        ok, blocking = cluster_reads(node.status(), version)
        if ok:
            if warned_at is not None:
                log.info("every reachable peer reads command version %d now: %s", version, what)
            return
        now = loop.time()
        if warned_at is None or now - warned_at >= WARN_EVERY:
            log.warning("%s waits until these peers run a raftcron that reads command version "
                        "%d (upgrade them): %s", what, version, ", ".join(blocking) or "-")
            warned_at = now
        await asyncio.sleep(POLL)
