"""Upgrades on real raftcron processes (issue 15, item 5).

- A peer that meets a log entry of a newer command version (written through a peer of the
  next release, `tests/support/future_build.py`) stops: a CRITICAL line saying so, exit
  status 70, its copy untouched. Restarted as the next release it applies the entry.
- A peer handed a snapshot of a newer schema, by a leader of the next release or left in
  its data dir, stops the same way, its copy untouched.
- A rolling upgrade from the previous release's data directories: a cluster of the last
  commit before schema 3 (built from this repository's git history into a temporary
  directory) runs per-second jobs; one peer at a time is stopped and started with the current
  code on the same data dir. Jobs fire throughout, no slot twice, and at the end every copy
  is at schema 3 and equal row for row.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from raftcron.db import snapshot
from raftcron.db.sqlite import SCHEMA_VERSION
from raftcron.raft.snapshots import encode_raft_data
from raftcron.watchdog import EXIT_STATUS
from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import (
    all_runs,
    epoch,
    file_slots,
    pause,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
)
from tests.support.faults.checks import applied_index, copies_differ, read_copies, read_copy
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
FUTURE = "tests.support.future_build"


def previous_release(dest: Path) -> Path:
    """The source of the last commit on this branch's first-parent line before schema 3,
    extracted from git into `dest` (importable with PYTHONPATH=dest)."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "log", "--first-parent", "--reverse", "--format=%H",
         "-S", "SCHEMA_VERSION = 3", "--", "raftcron/db/sqlite.py"],
        check=True, capture_output=True, text=True).stdout.split()
    assert found, "no commit introduced schema 3 on the first-parent line"
    dest.mkdir(parents=True)
    archive = dest / "src.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), f"{found[0]}^1",
                    "raftcron"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    text = (dest / "raftcron" / "db" / "sqlite.py").read_text()
    assert "SCHEMA_VERSION = 2" in text, "the previous release should be at schema 2"
    return dest


def exited(peer: Peer, timeout: float = 60.0) -> int:
    assert peer.proc is not None
    return wait_until(lambda: peer.proc.poll(), timeout, f"{peer} to exit")


def meta(path: Path, key: str) -> str | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
    finally:
        conn.close()


def test_cluster_newer_command_stops_older_peers_until_upgraded(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster()
    future = cluster.peers[2]
    future.module = FUTURE
    cluster.peer_env[2] = {"PYTHONPATH": str(REPO)}
    cluster.start()
    cluster.wait_for_leader()
    old = cluster.peers[:2]
    for peer in old:  # the next release waits with its own announcement (version gate)
        wait_until(peer.announced, 30, f"{peer} to announce its API address")
    before = {p.id: applied_index(read_copy_live(p)) for p in old}

    # The next release writes a job: its entry carries the newer version.
    resp = future.put("/jobs/from-the-future", {"schedule": "0 3 * * *",
                                                "command": ["/bin/true"]}, timeout=20)
    assert resp.status in (200, 201, 503), resp
    for peer in old:
        assert exited(peer) == EXIT_STATUS
        log = peer.log_path.read_text(errors="replace")
        assert "CRITICAL" in log and "is newer than this build reads" in log, peer.log_tail()
        copy = read_copy(peer.data_dir / "state.sqlite3")
        assert "from-the-future" not in {row[0] for row in copy["jobs"]}
        assert applied_index(copy) >= (before[peer.id] or 0)

    # Upgraded (restarted as the next release) they apply it and carry on.
    for peer in old:
        peer.module = FUTURE
        cluster.peer_env[peer.index] = {"PYTHONPATH": str(REPO)}
        peer.start()
    leader = cluster.wait_for_leader()
    index = leader.status()["commit_index"]
    cluster.wait_for_applied(index)
    for peer in cluster.peers:
        assert peer.get("/jobs/from-the-future").status == 200


def read_copy_live(peer: Peer) -> dict:
    return read_copy(peer.data_dir / "state.sqlite3")


def test_cluster_snapshot_from_a_newer_leader_stops_an_older_peer(
        make_cluster: Callable[..., Cluster]) -> None:
    """Peers 0 and 1 run the next release and write while peer 2 (this release) is down;
    their log is compacted, so peer 2 gets their snapshot when it comes back: a newer schema,
    which it refuses (status 70, CRITICAL) without touching its copy."""
    cluster = make_cluster(raft={"log_compaction_entries": 20},
                           peer_env={i: {"PYTHONPATH": str(REPO)} for i in range(2)})
    for peer in cluster.peers[:2]:
        peer.module = FUTURE
    old = cluster.peers[2]
    # This release's peer first: reachable, so reading only this release's version, before
    # the newer two elect a leader and announce themselves (an entry of the newer version,
    # were it missing: it once stopped on that entry instead of on the snapshot).
    old.start()
    for peer in cluster.peers[:2]:
        peer.start(wait=False)
    for peer in cluster.peers[:2]:
        peer.wait_up()
    cluster.wait_for_leader()
    old.stop()
    copy_before = read_copy_live(old)
    leader = cluster.wait_for_leader(exclude=[old])
    for i in range(60):
        put_job(leader, f"job-{i}", {"schedule": "0 3 * * *", "command": ["/bin/true"]})
    wait_until(lambda: leader.status()["snapshots_written"] >= 1, 60, "a snapshot")
    old.start(wait=False)
    assert exited(old) == EXIT_STATUS
    log = old.log_path.read_text(errors="replace")
    assert "CRITICAL" in log and "cannot load snapshot" in log, old.log_tail()
    assert f"schema version {SCHEMA_VERSION + 1}" in log, old.log_tail()
    assert read_copy_live(old) == copy_before


def test_cluster_snapshot_of_a_newer_schema_stops_the_peer(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = make_cluster().start()
    leader = cluster.wait_for_leader()
    cluster.wait_for_announced()
    put_job(leader, "kept", {"schedule": "0 3 * * *", "command": ["/bin/true"]})
    cluster.wait_for_applied(leader.status()["commit_index"])
    peer = cluster.followers(leader)[0]
    peer.stop()
    state = peer.data_dir / "state.sqlite3"
    copy_before = read_copy(state)

    # What a newer release would leave as this peer's snapshot: a copy at a newer schema,
    # ahead of this peer's copy (so it would be restored).
    newer = tmp_path / "newer.sqlite3"
    src = sqlite3.connect(str(state))
    dest = sqlite3.connect(str(newer))
    src.backup(dest)
    src.close()
    ahead = int(applied_index(copy_before) or 0) + 1000
    dest.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    dest.execute("UPDATE meta SET value = ? WHERE key = 'applied_index'", (str(ahead),))
    dest.commit()
    dest.close()
    dump = peer.data_dir / "raft.dump"
    shutil.copy(dump, tmp_path / "raft.dump.kept") if dump.exists() else None
    blob = encode_raft_data(((b"\x00", ahead, 1), (b"\x00", ahead - 1, 1),
                             {p.id for p in cluster.peers}), ahead)
    snapshot.write_snapshot(dump, newer, blob)

    peer.start(wait=False)
    assert exited(peer) == EXIT_STATUS
    log = peer.log_path.read_text(errors="replace")
    assert "CRITICAL" in log and f"schema version {SCHEMA_VERSION + 1}" in log, peer.log_tail()
    assert read_copy(state) == copy_before

    # Without the foreign snapshot the peer starts and catches up.
    dump.unlink()
    kept = tmp_path / "raft.dump.kept"
    if kept.exists():
        shutil.copy(kept, dump)
    peer.start()
    wait_until(lambda: peer.status()["caught_up"], 60, f"{peer} to catch up")
    assert peer.get("/jobs/kept").status == 200


def test_cluster_rolling_upgrade_from_the_previous_release(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    old_src = previous_release(tmp_path / "previous-release")
    cluster = make_cluster(peer_env={i: {"PYTHONPATH": str(old_src)} for i in range(3)})
    cluster.start()
    leader = cluster.wait_for_leader()
    for peer in cluster.peers:
        assert meta(peer.data_dir / "state.sqlite3", "schema_version") == "2"
    files = {f"tick-{i}": tmp_path / f"tick-{i}.slots" for i in range(2)}
    for name, path in files.items():
        put_job(leader, name, {"schedule": "* * * * * *", "command": slot_line(path),
                               "catchup": "all", "concurrency": "allow"})
    wait_until(lambda: all(len(file_slots(p)) >= 2 for p in files.values()), 60,
               "every job to have run twice on the previous release")

    # One peer at a time, the leader last: stop it, start the current code on its data dir.
    order = [*cluster.followers(leader), leader]
    for peer in order:
        peer.stop()
        cluster.peer_env[peer.index] = {}
        peer.start()
        wait_until(lambda p=peer: p.get("/readyz", timeout=3).status == 200, 60,
                   f"{peer} to be ready on the current code")
        assert meta(peer.data_dir / "state.sqlite3", "schema_version") == str(SCHEMA_VERSION)
        since = time.time()
        wait_until(lambda s=since: all(max((t for t, _ in file_slots(p)), default=0) > s
                                       for p in files.values()), 60,
                   f"every job to fire after {peer} was upgraded")
    for peer in cluster.peers:
        assert "CRITICAL" not in peer.log_path.read_text(errors="replace"), peer.log_tail()

    leader = cluster.wait_for_leader()
    for name in files:
        pause(leader, name)
    for name, path in files.items():
        runs = scheduled(wait_settled(leader, name))
        slots = Counter(round(epoch(r["slot"])) for r in runs)
        assert [s for s, n in slots.items() if n > 1] == [], name
        first, last = min(slots), max(slots)
        assert [s for s in range(first, last + 1) if s not in slots] == [], name
        lines = Counter(s for s, _ in file_slots(path))
        assert set(lines) <= set(slots), name
    assert all_runs(leader)
    cluster.wait_for_applied(leader.status()["commit_index"])
    for peer in cluster.peers:
        peer.kill(signal.SIGTERM)
    assert copies_differ(read_copies(cluster.peers)) == []
