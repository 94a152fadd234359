"""`versions.cluster_reads`: when a peer may write a newer command version (rolling upgrades)."""

from __future__ import annotations

import pytest

from raftcron.daemon.versions import cluster_reads


def peer(pid: str, reachable: bool = True, version: int | None = 2) -> dict:
    entry = {"id": pid, "reachable": reachable}
    if version is not None:
        entry["command_version"] = version
    return entry


CASES = [
    ("all upgraded", [peer("a"), peer("b"), peer("c")], True, []),
    ("an old peer reachable", [peer("a"), peer("b"), peer("c", version=None)], False, ["c"]),
    ("an old peer down: the majority goes on", [peer("a"), peer("b"),
                                                 peer("c", reachable=False, version=None)],
     True, []),
    ("only this peer upgraded, the others down", [peer("a"), peer("b", reachable=False),
                                                   peer("c", reachable=False)],
     False, ["b", "c"]),
    ("a version-1 peer gossiping 1", [peer("a"), peer("b", version=1), peer("c")], False, ["b"]),
    ("a newer peer is fine", [peer("a"), peer("b", version=3), peer("c")], True, []),
    ("bad gossip counts as version 1", [peer("a"), peer("b", version=True), peer("c")],
     False, ["b"]),
]


@pytest.mark.parametrize(("why", "peers", "ok", "blocking"), CASES, ids=[c[0] for c in CASES])
def test_versions_cluster_reads(why, peers, ok, blocking) -> None:
    assert cluster_reads({"peers": peers}, 2) == (ok, blocking), why


def test_versions_version_1_is_always_readable() -> None:
    assert cluster_reads({"peers": [peer("a", version=None)]}, 1) == (True, [])
