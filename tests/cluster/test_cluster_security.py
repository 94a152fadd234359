"""Secure by default, on real peers (issue 12, items 4, 5 and 7).

One three-peer cluster with a write token and an admin token, privileged jobs not allowed
(these tests run as root, so every job without `user` would run as root), and a log that
compacts after a few entries so a snapshot file exists. Plus one single peer with a read
token. Everything goes over HTTP, and the files are looked at with os.stat.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, Peer
from tests.support.wait import wait_until

TOKEN = "plain-token"
ADMIN = "admin-token"
READER = "reader-token"
NEVER = "@at 2099-01-01T00:00:00Z"
SECRET_ENV = {"DB_PASSWORD": "hunter2"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("security"), 3, token=TOKEN, admin_token=ADMIN,
                privileged=False, raft={"log_compaction_entries": 40})
    try:
        c.start()
        c.wait_for_leader()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.close()


def put(peer: Peer, name: str, body: dict, token: str | None) -> tuple[int, dict]:
    """PUT a job, retrying while there is no leader; (status, JSON answer)."""
    def attempt() -> tuple[int, dict] | None:
        resp = peer.put(f"/jobs/{name}", {"schedule": NEVER, **body}, token=token)
        return None if resp.status >= 500 else (resp.status, resp.json())
    return wait_until(attempt, 30, f"PUT /jobs/{name}")


def commit_index(cluster: Cluster) -> int:
    leader = cluster.wait_for_leader()
    return int(leader.status()["commit_index"])


def test_cluster_plain_token_never_makes_a_root_job(cluster: Cluster) -> None:
    peer = cluster.peers[1]
    for name, body in (("noroot", {"command": ["id", "-u"]}),
                       ("asroot", {"command": ["id", "-u"], "user": "root"}),
                       ("asother", {"command": ["id", "-u"], "user": "nobody"})):
        status, answer = put(peer, name, body, TOKEN)
        assert status == 403 and answer["field"] == "user", answer
        assert peer.get(f"/jobs/{name}", token=TOKEN).status == 404
    status, answer = put(peer, "noroot", {"command": ["id", "-u"]}, ADMIN)
    assert status == 201, answer
    # a plain token may not change it afterwards either
    status, answer = put(peer, "noroot", {"command": ["id", "-u"], "retries": 2}, TOKEN)
    assert status == 403 and answer["field"] == "user"


def test_cluster_env_values_only_to_a_token(cluster: Cluster) -> None:
    status, answer = put(cluster.peers[0], "secretive",
                         {"command": ["true"], "env": SECRET_ENV}, ADMIN)
    assert status in (200, 201), answer
    index = int(cluster.peers[0].get("/jobs/secretive").headers["x-raftcron-index"])
    for peer in cluster.peers:
        for path in (f"/jobs/secretive?min_index={index}", f"/jobs?min_index={index}"):
            resp = peer.get(path, token=None)
            assert resp.status == 200 and b"hunter2" not in resp.body, (peer, path)
        assert peer.get("/jobs/secretive", token=None).json()["env"] == {"DB_PASSWORD": "***"}
        assert peer.get("/jobs/secretive", token=TOKEN).json()["env"] == SECRET_ENV
        assert peer.get("/", token=None).status == 200 and b"hunter2" not in peer.get(
            "/openapi.json", token=None).body


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
            for p in [root, *root.rglob("*")] if not p.is_symlink()}


def test_cluster_data_dir_is_private(cluster: Cluster) -> None:
    leader = cluster.wait_for_leader()
    status, answer = put(leader, "outputs", {"command": "umask; echo out; echo err >&2"},
                         ADMIN)
    assert status in (200, 201), answer
    run = wait_until(lambda: (r := leader.post("/jobs/outputs/run")).status == 202
                     and r.json(), 30, "a manual run")
    done = wait_until(lambda: (r := leader.get(f"/runs/{run['id']}").json())["status"]
                      in ("succeeded", "failed") and r, 30, "the run to finish")
    assert done["status"] == "succeeded", done
    # Jobs get the umask the peer started with, not the data dir's 077.
    old = os.umask(0)
    os.umask(old)
    assert done["stdout_tail"].splitlines()[0] == f"{old:04o}"
    # Enough entries for a snapshot on every peer (compaction after 40).
    for i in range(60):
        put(leader, "churn", {"command": ["true"], "description": str(i)}, ADMIN)
    for peer in cluster.peers:
        wait_until(lambda p=peer: (p.data_dir / "raft.dump").exists(), 30,
                   f"{peer} to write a snapshot")
    runner = next(p for p in cluster.peers if p.id == done["peer"])
    assert list((runner.data_dir / "output").glob(f"{done['id']}.*"))
    assert (runner.data_dir / "started.log").exists()
    for peer in cluster.peers:
        modes = _modes(peer.data_dir)
        for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm",
                     "raft.journal", "raft.dump"):
            assert name in modes, (peer, sorted(modes))
        for name, mode in modes.items():
            path = peer.data_dir / name
            want = 0o700 if path.is_dir() else 0o600
            assert mode == want, (peer, name, oct(mode))


def test_cluster_restart_tightens_an_old_data_dir(cluster: Cluster) -> None:
    peer = cluster.peers[2]
    peer.stop()
    os.chmod(peer.data_dir, 0o755)
    os.chmod(peer.data_dir / "output", 0o755)
    for path in peer.data_dir.iterdir():
        if path.is_file():
            os.chmod(path, 0o644)
    peer.start()
    modes = _modes(peer.data_dir)
    assert modes["."] == 0o700 and modes["output"] == 0o700
    assert modes["state.sqlite3"] == modes["raft.journal"] == 0o600
    cluster.wait_for_leader()


def test_cluster_unauthenticated_strong_reads_write_nothing(cluster: Cluster) -> None:
    cluster.wait_for_leader()
    before = commit_index(cluster)
    for i in range(200):
        peer = cluster.peers[i % 3]
        resp = wait_until(lambda p=peer: (r := p.get("/healthz?consistency=strong",
                                                     token=None)).status == 200 and r,
                          30, "a strong read")
        assert resp.status == 200
    after = commit_index(cluster)
    # The scheduler and the peers' reports may add a few entries of their own meanwhile;
    # a no-op per read would have added 200.
    assert after - before < 20, (before, after)
    print(f"200 unauthenticated strong reads: commit index {before} -> {after}")
    # And a strong read is still as fresh as the leader: a follower sees the write the
    # leader has just acknowledged.
    leader = cluster.wait_for_leader()
    for i in range(5):
        status, _ = put(leader, "fresh", {"command": ["true"], "description": f"v{i}"}, ADMIN)
        assert status in (200, 201)
        for follower in cluster.followers(leader):
            resp = follower.get("/jobs/fresh?consistency=strong", token=None)
            assert resp.status == 200 and resp.json()["description"] == f"v{i}"


def test_cluster_with_a_read_token(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, 3, token=TOKEN, read_token=READER)
    try:
        cluster.start()
        leader = cluster.wait_for_leader()
        for peer in cluster.peers:
            assert peer.get("/healthz", token=None).status == 200
            for path in ("/jobs", "/status", "/runs", "/nodes", "/metrics", "/openapi.json"):
                resp = peer.get(path, token=None)
                assert resp.status == 401 and resp.json()["field"] == "authorization", path
                assert peer.get(path, token=READER).status == 200, path
        resp = leader.put("/jobs/x", {"schedule": NEVER, "command": ["true"]}, token=READER)
        assert resp.status == 403 and resp.json()["field"] == "authorization"
        status, answer = put(leader, "hello", {"command": "echo hello"}, TOKEN)
        assert status == 201, answer
        run = wait_until(lambda: (r := leader.post("/jobs/hello/run")).status == 202
                         and r.json(), 30, "a manual run")
        done = wait_until(lambda: (r := leader.get(f"/runs/{run['id']}").json())["status"]
                          in ("succeeded", "failed") and r, 30, "the run to finish")
        # Every peer serves the output, the others by asking the runner with their token.
        for peer in cluster.peers:
            assert peer.get(f"/runs/{done['id']}/output", token=None).status == 401
            resp = peer.get(f"/runs/{done['id']}/output", token=READER)
            assert resp.status == 200 and resp.json()["stdout"] == "hello\n", (peer, resp)
            resp = peer.get("/jobs/hello?consistency=strong", token=READER)
            assert resp.status == 200, resp
    finally:
        cluster.close()
