"""Which command version the cluster reads: the pure rule and a cached gate for proposers.

Every peer gossips the newest command version it reads (`command_version`). An entry of
version N is proposed only when `cluster_reads(status, N)`: every reachable peer reads N, and
those are a majority of the cluster (an old peer that is down stops when it comes back and
meets the entry, which is what an upgrade asks of it anyway).

`VersionGate` answers the same question for proposers that merely *add* optional arguments
(`next` in `put_job`, `set_paused`, `fire`): when the cluster does not read them yet, the
proposer leaves them out and the command keeps its older version and bytes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from raftcron.model.ports import StatusSource

#: The gossip key of the newest command version a peer reads.
GOSSIP_KEY = "command_version"
#: Seconds a gate's answer is kept (the node's status is not free to build).
GATE_TTL = 1.0


def _reads(entry: Mapping[str, Any]) -> int:
    value = entry.get(GOSSIP_KEY)
    # An older build gossips no version: it reads version 1 only.
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def cluster_reads(status: Mapping[str, Any], version: int) -> tuple[bool, list[str]]:
    """Whether the cluster can take an entry of `version` (pure); else the peers in the way
    (reachable ones that read less, or, short of a majority, the ones not heard from)."""
    peers = [p for p in status.get("peers") or () if isinstance(p, Mapping) and p.get("id")]
    if version <= 1:
        return True, []
    old = [str(p["id"]) for p in peers if p.get("reachable") and _reads(p) < version]
    able = [p for p in peers if p.get("reachable") and _reads(p) >= version]
    if old:
        return False, old
    if len(able) * 2 <= len(peers):
        return False, [str(p["id"]) for p in peers if not p.get("reachable")]
    return True, []


class VersionGate:
    """`reads(version)`: may a command of `version` be proposed now? Cached `GATE_TTL`."""

    def __init__(self, node: StatusSource) -> None:
        self._node = node
        self._cache: dict[int, tuple[float, bool]] = {}

    def reads(self, version: int) -> bool:
        now = time.monotonic()
        hit = self._cache.get(version)
        if hit is not None and now - hit[0] < GATE_TTL:
            return hit[1]
        try:
            ok = cluster_reads(self._node.status(), version)[0]
        except Exception:  # a node without a status (closing): the older form is always safe
            ok = False
        self._cache[version] = (now, ok)
        return ok
