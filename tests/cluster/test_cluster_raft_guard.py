"""Faults from raftcron issue 12, on three real raftcron processes.

- Idle TCP connections to a raft port that never authenticate are closed within a few
  seconds, at most 64 are held at once, and the peer's file descriptors come back.
- A peer whose raft thread dies exits with status 70 and a CRITICAL line naming the thread,
  instead of living on as a zombie that answers /healthz.
- A leader that hears from no majority stops saying `leader` (and stops its scheduler) within
  an election timeout, and lists its frozen peers unreachable; thawed, the cluster recovers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import put_job
from tests.support.wait import wait_until

QUIET = "0 1 1 1 *"
#: The transport's cap on unauthenticated connections (raftcron.raft.transport.MAX_PENDING).
MAX_PENDING = 64


def fd_count(peer: Peer) -> int:
    assert peer.pid is not None
    return len(os.listdir(f"/proc/{peer.pid}/fd"))


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the other side closed `sock` (end of file or reset); False while open."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # ConnectionResetError and friends: closed too
        return True


def test_cluster_raft_port_closes_connections_that_never_authenticate(
        cluster: Cluster) -> None:
    leader = cluster.wait_for_leader()
    target = cluster.followers(leader)[0]
    baseline = fd_count(target)
    socks: list[socket.socket] = []
    try:
        for _ in range(3 * MAX_PENDING):
            sock = socket.create_connection(("127.0.0.1", target.raft_port), timeout=5)
            socks.append(sock)
        # Never more than the cap held open at once (plus the peer's own churn).
        assert fd_count(target) <= baseline + MAX_PENDING + 16
        # The cluster works through the flood.
        put_job(leader, "during-flood", {"schedule": QUIET, "command": "true"})
        wait_until(lambda: all(closed_by_peer(s) for s in socks), 30,
                   "the peer to close every unauthenticated connection")
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
    wait_until(lambda: fd_count(target) <= baseline + 4, 30,
               f"{target}'s file descriptors to return to about {baseline}")
    # Still a full member: it applies a write made after the flood.
    put_job(leader, "after-flood", {"schedule": QUIET, "command": "true"})
    applied = leader.status()["applied_index"]
    cluster.wait_for_applied(applied, peers=[target])


def test_cluster_peer_whose_raft_thread_dies_exits_70_saying_why(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(peer_env={2: {"RAFTCRON_TEST_FAULTS": "raft_thread_exit"}})
    doomed = cluster.peers[2]
    for peer in cluster.peers:
        peer.start(wait=False)
    for peer in cluster.peers[:2]:
        peer.wait_up()
    assert doomed.proc is not None
    status = doomed.proc.wait(timeout=60)
    assert status == 70, doomed.log_tail()
    log = doomed.log_path.read_text(errors="replace")
    critical = [line for line in log.splitlines() if "CRITICAL" in line]
    assert any("'raft'" in line and "died" in line for line in critical), log[-3000:]
    # The other two carry on.
    leader = cluster.wait_for_leader(exclude=[doomed])
    put_job(leader, "after-death", {"schedule": QUIET, "command": "true"})


def test_cluster_leader_cut_off_from_a_majority_stops_leading_and_recovers(
        make_cluster: Callable[..., Cluster]) -> None:
    # pysyncobj alone would keep this leader leading for leader_fallback (30 s here) and call
    # frozen peers reachable for connection_timeout (10 s): both well past the deadline below.
    cluster = make_cluster(raft={"leader_fallback": 30.0, "connection_timeout": 10.0}).start()
    leader = cluster.wait_for_leader()
    followers = cluster.followers(leader)
    assert "scheduler" in leader.status()
    for peer in followers:
        peer.kill(signal.SIGSTOP)
    try:
        def cut_off() -> dict | None:
            view = leader.status()
            others = [p for p in view["peers"] if not p["self"]]
            if view["role"] != "leader" and not any(p["reachable"] for p in others):
                return view
            return None
        view = wait_until(cut_off, 8, "the cut-off leader to stop saying leader")
        assert view["role"] == "follower" and view["leader"] is None, view
        # The scheduler learned it too (its status shows only while this peer leads).
        assert "scheduler" not in view, view
    finally:
        for peer in followers:
            peer.kill(signal.SIGCONT)
    new_leader = cluster.wait_for_leader()
    put_job(new_leader, "after-thaw", {"schedule": QUIET, "command": "true"})
    assert all(p["reachable"] for p in new_leader.status()["peers"])
