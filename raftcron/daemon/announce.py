"""A peer announces its own API address into the replicated state (put_peer).

Other peers proxy `GET /runs/{id}/output` to the peer that ran the run, at the address that
peer announced from its `--api`; without it they could only guess raft port + 1000. Proposed
once the peer has caught up, and only when the state holds another address (or none), so a
restart with the same `--api` writes nothing. The idempotency key carries the row's version,
so an address that goes A -> B -> A over restarts is written each time. put_peer is a
version-2 command: it waits until the cluster reads it (`versions.py`); until then other peers
use the fallback address (raft port + 1000).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from raftcron.clock import Clock
from raftcron.daemon.versions import wait_cluster_reads
from raftcron.durations import format_time
from raftcron.errors import RaftcronError
from raftcron.model.commands import version_of

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import Proposer

log = logging.getLogger(__name__)


async def announce_api(*, node: Proposer, read: ReadDb, clock: Clock, self_id: str, api: str,
                       timeout: float = 10.0) -> bool:
    """Make the state say `api` for `self_id`; True once it does (False: the proposal failed
    or was refused, logged)."""
    current = await read.call(read.get_peer, self_id)
    if current is not None and current.get("api") == api:
        log.info("this peer's API address %s is announced already", api)
        return True
    version = current.get("version", 0) if current else 0
    # put_peer is newer than version 1: older peers would stop at it (rolling upgrades).
    await wait_cluster_reads(node, version_of("put_peer", {}), "announcing this peer's API")
    args = {"peer": self_id, "api": api, "at": format_time(clock.now())}
    try:
        result = await node.propose("put_peer", args, key=f"put-peer:{self_id}:{version}:{api}",
                                    timeout=timeout)
    except RaftcronError as exc:
        log.warning("announcing this peer's API address %s failed: %s", api, exc.message)
        return False
    if not result.get("ok", False):
        log.error("announcing this peer's API address %s refused: %s", api,
                  result.get("message") or result.get("error"))
        return False
    log.info("announced this peer's API address: %s (was %s)", api,
             (current or {}).get("api") or "not announced")
    return True
