"""Membership changes at runtime on real raftcron processes (issue 15, item 1).

A biased cluster (tests/support/cluster_jobs.py: peer 0 leads and carries no role, peers 1
and 2 carry `worker`) runs per-second jobs that ask for `worker` while it grows from 3 to 5
peers (`POST /peers`, then the new peer starts with `--join`), loses its leader to SIGKILL,
and shrinks back to 3 (`DELETE /peers/{id}`, then the removed peer stops). The peers that
fail or leave carry no role, so the side-effect files count the firing alone: every slot of
every job ran exactly once across the whole window. The membership then survives a restart of
every remaining peer, and their copies are equal row for row.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.cluster.test_cluster_failover import newest_slot
from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import (
    WORKER_ROLE,
    all_runs,
    biased_cluster,
    epoch,
    file_slots,
    pause,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
)
from tests.support.faults.checks import copies_differ, read_copies
from tests.support.wait import wait_until


def members(peer: Peer) -> list[str]:
    resp = peer.get("/peers", timeout=5)
    assert resp.status == 200, resp
    return sorted(p["id"] for p in resp.json()["items"])


def wait_members(peers: list[Peer], expected: list[Peer]) -> None:
    want = sorted(p.id for p in expected)
    for peer in peers:
        wait_until(lambda p=peer: members(p) == want, 30, f"{peer} to list {want}")


def change(peer: Peer, method: str, path: str, body: dict | None = None) -> dict:
    """A membership change through `peer`, retried while there is no leader (503)."""
    def attempt() -> dict | None:
        resp = peer.request(method, path, body, timeout=20)
        if resp.status in (200, 201):
            return resp.json()
        if resp.status >= 500:
            return None
        raise AssertionError(f"{method} {path}: {resp}")
    return wait_until(attempt, 60, f"{method} {path} to succeed")


def caught_up(peer: Peer) -> bool:
    status = peer.status()
    return bool(status["caught_up"]) and status["leader"] is not None


def test_cluster_membership_grow_shrink_with_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path)
    p0, p1, p2 = cluster.peers
    slow = ["--config", str(tmp_path / "slow.toml")]
    files = {f"tick-{i}": tmp_path / f"tick-{i}.slots" for i in range(3)}
    for name, path in files.items():
        put_job(p0, name, {"schedule": "* * * * * *", "command": slot_line(path),
                           "catchup": "all", "concurrency": "allow", "roles": [WORKER_ROLE]})
    wait_until(lambda: all(len(file_slots(p)) >= 2 for p in files.values()), 60,
               "every job to have run twice")

    # Malformed ids are 400, a member added twice or a non-member removed 409.
    assert p1.post("/peers", {"id": "nonsense"}).status == 400
    assert p1.post("/peers", {"id": p2.id}).status == 409
    assert p1.delete("/peers/127.0.0.1:1").status == 409

    # Grow: peer 3 (no role) through a follower, peer 4 (worker) through the leader.
    p3 = cluster.add_peer(join=p1)
    cluster.peer_args[p3.index] = slow
    p4 = cluster.add_peer(join=p0)
    cluster.peer_args[p4.index] = [*slow, "--roles", WORKER_ROLE]
    for new, via in ((p3, p1), (p4, p0)):
        answer = change(via, "POST", "/peers", {"id": new.id})
        assert new.id in answer["members"], answer
        new.start()
        wait_until(lambda n=new: caught_up(n), 60, f"{new} to catch up")
    wait_members(cluster.running(), [p0, p1, p2, p3, p4])

    # The leader killed in the middle: a new one among the other four; peer 0 comes back
    # with the five members its data dir saved.
    assert cluster.wait_for_leader() is p0
    p0.kill(signal.SIGKILL)
    cluster.wait_for_leader(exclude=[p0])
    p0.start()
    wait_until(lambda: caught_up(p0), 60, "peer 0 to catch up after its restart")
    wait_members([p0], [p0, p1, p2, p3, p4])

    # Shrink: the two peers without a role leave (the leader among them hands over first).
    for gone in (p0, p3):
        answer = change(p2, "DELETE", f"/peers/{gone.id}")
        assert gone.id not in answer["members"], answer
        gone.stop()
    stayed = [p1, p2, p4]
    wait_members(stayed, stayed)
    leader = cluster.wait_for_leader()
    assert leader in stayed
    assert sorted(p["id"] for p in leader.status()["peers"]) == sorted(p.id for p in stayed)

    # Every slot once, across the whole window.
    until = time.time() + 2
    wait_until(lambda: all(newest_slot(p) >= until for p in files.values()), 90,
               "every job to run a slot after the changes")
    for name in files:
        pause(leader, name)
    for name, path in files.items():
        counts = Counter(s for s, _ in file_slots(path))
        first, last = min(counts), max(counts)
        wrong = {s: counts[s] for s in range(first, last + 1) if counts[s] != 1}
        assert wrong == {}, (name, wrong)
        runs = scheduled(wait_settled(leader, name))
        assert Counter(round(epoch(r["slot"])) for r in runs) == counts, name
        assert {r["status"] for r in runs} == {"succeeded"}, name
    assert not [r for r in all_runs(leader) if r.get("peer") in (p0.id, p3.id)]

    # The membership survives a restart of every remaining peer.
    for peer in stayed:
        peer.stop()
    for peer in stayed:
        peer.start(wait=False)
    for peer in stayed:
        peer.wait_up()
    leader = cluster.wait_for_leader()
    wait_members(stayed, stayed)
    index = leader.status()["commit_index"]
    cluster.wait_for_applied(index, stayed)
    for peer in stayed:
        peer.stop()
    assert copies_differ(read_copies(stayed)) == []


def test_cluster_membership_join_by_snapshot_and_remove_the_leader(
        make_cluster: Callable[..., Cluster]) -> None:
    """A peer started before it is added waits; added, it joins by snapshot (the log is
    compacted). The leader is removed through its own API (it hands over first), and the
    joined peer restarts from its saved members although its --join peer is gone."""
    cluster = make_cluster(raft={"log_compaction_entries": 20}).start()
    leader = cluster.wait_for_leader()
    for i in range(50):
        put_job(leader, f"job-{i}", {"schedule": "0 3 * * *", "command": ["/bin/true"]})
    wait_until(lambda: leader.status()["snapshots_written"] >= 1, 60, "a snapshot")

    new = cluster.add_peer(join=leader)
    new.start(wait=False)
    wait_until(lambda: "is not a member yet" in new.log_path.read_text(errors="replace"), 30,
               f"{new} to wait until it is added")
    change(cluster.peers[1], "POST", "/peers", {"id": new.id})
    new.wait_up()
    wait_until(lambda: caught_up(new), 60, f"{new} to catch up")
    assert new.status()["snapshots_loaded"] >= 1
    assert new.get("/jobs/job-49").status == 200
    wait_members(cluster.running(), cluster.peers)

    # The leader asked to remove itself: it hands over, then answers once the others agree.
    leader = cluster.wait_for_leader()
    answer = change(leader, "DELETE", f"/peers/{leader.id}")
    assert leader.id not in answer["members"], answer
    leader.stop()
    stayed = cluster.running()
    assert len(stayed) == 3
    assert cluster.wait_for_leader() is not leader
    wait_members(stayed, stayed)

    new.join = leader.id  # gone: the restart must not need it
    new.stop()
    new.start()
    wait_until(lambda: caught_up(new), 60, f"{new} to catch up after its restart")
    wait_members([new], stayed)
