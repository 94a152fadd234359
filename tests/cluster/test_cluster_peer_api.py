"""Issue 12 item 11: each peer's API address is replicated state, so any peer proxies any
run's output, even when no peer's `--api` is its raft port + 1000 (real processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster, Peer
from tests.support.ports import API_OFFSET
from tests.support.wait import wait_until

PINNED = "pinned"
LINES = 3000  # ~14 KB of stdout: far more than the replicated 4 KiB tail


def _ok(resp: Any, *statuses: int) -> Any:
    assert resp.status in (statuses or (200,)), resp
    return resp.json()


def _announced(peer: Peer, cluster: Cluster) -> bool:
    want = {p.id: p.api for p in cluster.peers}
    entries = _ok(peer.get("/status"))["peers"]
    return {e["id"]: e.get("api") for e in entries} == want


def test_cluster_peer_api_output_is_proxied_to_the_announced_api(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(3, free_api_ports=True, peer_args={2: ["--roles", PINNED]}).start()
    for peer in cluster.peers:
        assert peer.api_port != peer.raft_port + API_OFFSET
    leader = cluster.wait_for_leader()
    # Every peer's /status lists every peer with the API address that peer was started with.
    for peer in cluster.peers:
        wait_until(lambda p=peer: _announced(p, cluster), 30, f"every peer's api on {peer}")
    nodes = {n["name"]: n for n in _ok(leader.get("/nodes"))["items"]}
    assert {p.id: nodes[p.id]["api"] for p in cluster.peers} == {
        p.id: p.api for p in cluster.peers}

    job = {"schedule": "@every 1h", "roles": [PINNED], "command": f"seq 1 {LINES}; echo e >&2"}
    _ok(leader.put("/jobs/pinned", job), 201)
    # A write is read back from the peer that answered it; peer 0 may apply it a moment later.
    wait_until(lambda: cluster.peers[0].get("/jobs/pinned").status == 200, 30,
               "peer 0 to have applied the job")
    run = _ok(cluster.peers[0].post("/jobs/pinned/run"), 202)
    done = wait_until(lambda: (r := _ok(cluster.peers[0].get(f"/runs/{run['id']}")))
                      ["status"] not in ("pending", "running") and r, 30, "the run to finish")
    assert (done["status"], done["peer"]) == ("succeeded", cluster.peers[2].id), done
    assert len(done["stdout_tail"]) < 5000

    expected = "".join(f"{i}\n" for i in range(1, LINES + 1))
    for asker in cluster.peers[:2]:  # neither ran it: both proxy to peer 2's own --api
        output = _ok(asker.get(f"/runs/{run['id']}/output"))
        assert output == {"stdout": expected, "stderr": "e\n"}, asker
        text = asker.get(f"/runs/{run['id']}/output?stream=stdout")
        assert text.status == 200 and text.body.decode() == expected

    # A bad stream is the caller's fault, named, before any proxying.
    bad = cluster.peers[0].get(f"/runs/{run['id']}/output?stream=both")
    assert bad.status == 400 and bad.json()["field"] == "stream"
