"""Backup and restore end to end, with real processes and the real CLI.

Cluster A runs an every-second job and holds a node and some run history; `python -m raftcron
backup` copies its state; A stops; `python -m raftcron restore` prepares three new data
directories; cluster B starts on new ports with them and must list the same jobs, node and
runs, and fire the every-second job itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from raftcron.db.reader import ReadDb
from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import all_runs, put_job, slot_line
from tests.support.wait import wait_until

TOKEN = "backup-test-token"
NEVER = "0 0 1 1 *"


def cli(*args: str, token: str | None = TOKEN,
        timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`python -m raftcron ARGS` with `token` as $RAFTCRON_TOKEN (none when None)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAFTCRON_TOKEN", "RAFTCRON_API")}
    if token:
        env["RAFTCRON_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "raftcron", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def jobs_of(peer: Peer) -> dict[str, dict]:
    resp = peer.get("/jobs?limit=1000", timeout=10)
    assert resp.status == 200, resp
    return {j["name"]: j for j in resp.json()["items"]}


def test_backup_restore_moves_a_cluster_to_new_peers(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    a = make_cluster(token=TOKEN).start()
    leader = a.wait_for_leader()
    ticks = tmp_path / "ticks.txt"
    put_job(leader, "tick", {"schedule": "* * * * * *", "command": slot_line(ticks),
                             "concurrency": "allow"})
    put_job(leader, "quiet", {"schedule": NEVER, "command": "true",
                              "env": {"API_KEY": "s3cret"}, "description": "never fires"})
    # An SSH node nobody can reach: it only has to be listed, never used.
    resp = leader.put("/nodes/spare", {"connection_type": "ssh", "ssh_host": "127.0.0.1",
                                       "ssh_user": "nobody", "roles": ["spare"]}, timeout=10)
    assert resp.status == 201, resp
    wait_until(lambda: len([r for r in all_runs(leader, "tick")
                            if r["status"] == "succeeded"]) >= 5,
               60, "five succeeded runs of tick on cluster A")

    # Without the token: refused, exit 5, the message names the token; no file is left.
    backup = tmp_path / "state.backup"
    refused = cli("backup", str(backup), "--api", leader.api, token=None)
    assert refused.returncode == 5, refused  # unauthorized (raftcron.cli.exits)
    assert "RAFTCRON_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    assert not backup.exists() and list(tmp_path.glob(".state.backup*")) == []

    follower = a.followers(leader)[0]  # any peer will do
    done = cli("backup", str(backup), "--api", follower.api, "--strong")
    assert done.returncode == 0, done.stderr
    backup_index = int(done.stdout.split("applied index ")[1].split(":")[0])
    assert backup_index >= 15  # 2 jobs, a node, 3 entries per run: far above B's first entries
    copy = ReadDb(backup)
    try:
        saved_jobs = {j["name"]: j for j in copy.list_jobs()[0]}
        saved_runs = {r["id"]: r for r in copy.list_runs(limit=1000)[0]}
        assert copy.get_node("spare") is not None
    finally:
        copy.close()
    assert set(saved_jobs) == {"tick", "quiet"}
    assert len([r for r in saved_runs.values() if r["status"] == "succeeded"]) >= 5

    for peer in a.peers:
        peer.stop()

    garbage = tmp_path / "garbage"
    garbage.write_text("not a backup\n")
    b = make_cluster(token=TOKEN)
    assert not {p.raft_port for p in b.peers} & {p.raft_port for p in a.peers}
    bad = cli("restore", str(garbage), "--data-dir", str(b.peers[0].data_dir))
    assert bad.returncode == 2 and "not a raftcron backup" in bad.stderr, bad
    for peer in b.peers:
        restored = cli("restore", str(backup), "--data-dir", str(peer.data_dir))
        assert restored.returncode == 0, restored.stderr
    b.start()
    b_leader = b.wait_for_leader()
    # B's log starts again at index 1, far below the index the backup was taken at: a copy
    # that still recorded the old index would skip this write as already applied.
    # One PUT, no retry: a retry with a new key would land past the old index and hide it.
    wait_until(lambda: b_leader.get("/readyz", timeout=5).status == 200, 30, "B ready")
    fresh = b_leader.put("/jobs/fresh", {"schedule": NEVER, "command": "true"}, timeout=10)
    assert fresh.status == 201 and fresh.json()["name"] == "fresh", fresh
    saved_jobs_and_fresh = {*saved_jobs, "fresh"}

    for peer in b.peers:
        jobs = wait_until(lambda p=peer: jobs_of(p) if set(jobs_of(p)) == saved_jobs_and_fresh
                          else None, 30, f"{peer} to list the backed-up jobs and fresh")
        for name, job in saved_jobs.items():
            for field in ("schedule", "command", "description", "env", "concurrency"):
                assert jobs[name].get(field) == job.get(field), (name, field)
        node = peer.get("/nodes/spare", timeout=10)
        assert node.status == 200 and node.json()["roles"] == ["spare"], node
        runs = {r["id"]: r for r in all_runs(peer)}
        assert set(saved_runs) <= set(runs)
        for run_id, run in saved_runs.items():
            if run["status"] == "succeeded":
                assert runs[run_id]["status"] == "succeeded"

    # B fires the every-second job itself, on its own peers.
    b_ids = {p.id for p in b.peers}
    wait_until(lambda: [r for r in all_runs(b_leader, "tick")
                        if r["id"] not in saved_runs and r["status"] == "succeeded"
                        and r["peer"] in b_ids],
               60, "cluster B to run tick")
