"""Three real raftcron processes on 127.0.0.1, driven over HTTP only (issue 3).

Writes on every peer read back everywhere; writes go on after the leader dies; followers and
leaders killed with SIGKILL come back with everything; all three killed at once lose nothing;
a wiped peer is rebuilt from the others, by log and by snapshot; the three SQLite copies are
identical once converged; SIGTERM exits 0.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from raftcron.state.machine import StateMachine
from tests.support.cluster import Cluster, Peer
from tests.support.wait import wait_until

#: A schedule that does not fire during a test (01:00 on January 1st).
QUIET = {"schedule": "0 1 1 1 *", "command": ["true"]}


def put_job(peer: Peer, name: str, **extra: object) -> int:
    """PUT a job through `peer`; return the index it was applied at (X-Raftcron-Index)."""
    resp = peer.put(f"/jobs/{name}", {**QUIET, **extra}, timeout=30)
    assert resp.status in (200, 201), resp
    assert resp.index is not None
    return resp.index


def job_on(peer: Peer, name: str, min_index: int) -> dict:
    resp = peer.get(f"/jobs/{name}?min_index={min_index}&timeout=20", timeout=30)
    assert resp.status == 200, (peer, resp)
    return resp.json()


def job_names(peer: Peer, min_index: int) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        query = f"?min_index={min_index}&timeout=20&limit=1000"
        if cursor:
            query += f"&cursor={cursor}"
        body = peer.get("/jobs" + query, timeout=30).json()
        names += [job["name"] for job in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return names


def test_cluster_write_on_each_peer_reads_back_on_every_peer(cluster: Cluster) -> None:
    written = {}
    for i, peer in enumerate(cluster.peers):
        written[f"job-{i}"] = put_job(peer, f"job-{i}", description=f"via peer {i}")
        # Read-your-write on the peer that answered, without waiting.
        assert peer.get(f"/jobs/job-{i}").status == 200
    for peer in cluster.peers:
        for name, index in written.items():
            job = job_on(peer, name, index)
            assert job["description"] == f"via peer {name[-1]}"
            assert job["version"] == 1


def test_cluster_writes_go_on_after_the_leader_is_killed(cluster: Cluster) -> None:
    leader = cluster.wait_for_leader()
    put_job(leader, "before")
    leader.kill(signal.SIGKILL)
    new_leader = cluster.wait_for_leader(exclude=[leader])
    assert new_leader is not leader
    survivors = cluster.followers(leader)
    indexes = [put_job(peer, f"during-{peer.index}") for peer in survivors]
    for peer in survivors:
        for other in survivors:
            job_on(peer, f"during-{other.index}", max(indexes))
    # The old leader comes back as a follower and catches up.
    leader.start()
    cluster.wait_for_leader()
    for other in survivors:
        job_on(leader, f"during-{other.index}", max(indexes))
    assert job_on(leader, "before", max(indexes))["name"] == "before"


def test_cluster_killed_follower_restarts_with_everything(cluster: Cluster) -> None:
    leader = cluster.wait_for_leader()
    follower = cluster.followers(leader)[0]
    put_job(follower, "first")
    follower.kill(signal.SIGKILL)
    index = put_job(leader, "while-down")
    follower.start()
    assert job_on(follower, "while-down", index)["name"] == "while-down"
    assert job_on(follower, "first", index)["name"] == "first"
    # The restart did not unseat the leader.
    assert cluster.wait_for_leader() is leader


def test_cluster_all_peers_killed_at_once_keep_every_job(cluster: Cluster) -> None:
    index = 0
    for i in range(30):
        index = max(index, put_job(cluster.peers[i % 3], f"job-{i:02d}"))
    cluster.wait_for_applied(index)
    for peer in cluster.peers:
        peer.kill(signal.SIGKILL)
    cluster.start()
    cluster.wait_for_leader()
    expected = [f"job-{i:02d}" for i in range(30)]
    for peer in cluster.peers:
        assert job_names(peer, index) == expected


def test_cluster_wiped_peer_is_rebuilt_from_a_snapshot(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(raft={"log_compaction_entries": 20}).start()
    leader = cluster.wait_for_leader()
    victim = cluster.followers(leader)[0]
    put_job(leader, "old")
    victim.stop()
    victim.wipe()
    index = 0
    for i in range(60):
        index = put_job(leader, f"job-{i:02d}")
    wait_until(lambda: leader.status()["snapshots_written"] >= 1, 20, "a snapshot on the leader")
    victim.start()
    assert job_names(victim, index) == ["job-" + f"{i:02d}" for i in range(60)] + ["old"]
    assert victim.status()["snapshots_loaded"] >= 1


def test_cluster_wiped_peer_is_rebuilt_from_the_log(cluster: Cluster) -> None:
    leader = cluster.wait_for_leader()
    victim = cluster.followers(leader)[0]
    index = put_job(leader, "kept")
    victim.stop()
    victim.wipe()
    victim.start()
    assert job_on(victim, "kept", index)["name"] == "kept"


def test_cluster_copies_are_identical_after_runs(cluster: Cluster) -> None:
    """Jobs fire and run on the peers; once settled, the three SQLite files hold the same
    rows. Every peer then stops with SIGTERM and exit status 0."""
    leader = cluster.wait_for_leader()
    put_job(leader, "ticker", schedule="@every 1s", command=["sh", "-c", "echo tick"])
    put_job(cluster.followers(leader)[0], "quiet")

    def finished_runs() -> int:
        items = leader.get("/runs?job=ticker&status=succeeded").json()["items"]
        return len(items)

    wait_until(lambda: finished_runs() >= 3, 30, "three succeeded runs")
    resp = leader.post("/jobs/ticker/pause")
    assert resp.status == 200, resp

    def settled() -> bool:
        runs = leader.get("/runs?job=ticker&limit=1000").json()["items"]
        return all(r["status"] not in ("pending", "running") for r in runs)

    wait_until(settled, 30, "every run to end")
    index = leader.status()["commit_index"]
    cluster.wait_for_applied(index)
    for peer in cluster.peers:
        peer.stop()  # asserts exit status 0
    dumps = []
    for peer in cluster.peers:
        state = StateMachine(Path(peer.data_dir) / "state.sqlite3")
        try:
            dumps.append(state.dump())
        finally:
            state.close()
    assert dumps[0]["runs"], "no runs recorded"
    assert dumps[0] == dumps[1] == dumps[2]
