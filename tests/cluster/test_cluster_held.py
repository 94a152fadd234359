"""A run fired ahead of its slot is not lost with the peer holding it (`planning.moves`).

Three real raftcron processes, every-second jobs: the leader commits each slot up to 300 ms
before its time, and the peer it places a run on holds it until then. The leader is killed
(SIGKILL) while it holds one of its own runs, still pending; then a follower is frozen
(SIGSTOP) while it holds one and thawed once its run ran elsewhere. Each time the run is moved
to a live peer and its slot runs exactly once; the frozen peer, thawed, never starts it. Before
held runs, such a run was recorded `lost` and its slot never ran (9 of 20 leader kills in
`scripts/bench failover`).
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import all_runs, epoch, file_slots, put_job, slot_line
from tests.support.wait import wait_until

LEASE = '[scheduler]\nlease = "5s"\n'
JOBS = [f"tick-{i}" for i in range(6)]


def start_jobs(leader: Peer, tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.slots" for name in JOBS}
    for name, path in files.items():
        put_job(leader, name, {"schedule": "* * * * * *", "command": slot_line(path),
                               "catchup": "all", "concurrency": "allow"})
    wait_until(lambda: all(len(file_slots(p)) >= 2 for p in files.values()), 60,
               "every job to have run twice")
    return files


def held_run_on(reader: Peer, holder: Peer) -> dict | None:
    """A run `holder` holds until its slot, still well ahead of it (so not confirmed yet)."""
    now = time.time()
    for run in all_runs(reader, status="pending"):
        if run["peer"] == holder.id and epoch(run["fired_at"]) - now > 0.1:
            return run
    return None


def catch_holding(reader: Peer, holder: Peer, sig: int) -> dict:
    """Send `sig` to `holder` at a moment it holds a run; that run."""
    def caught() -> dict | None:
        run = held_run_on(reader, holder)
        if run is not None:
            holder.kill(sig)
        return run
    return wait_until(caught, 60, f"{holder} to hold a run fired ahead", interval=0.02)


def moved_and_ran_once(reader: Peer, run: dict, files: dict[str, Path], gone: Peer) -> None:
    """`run` ran on a live peer (moved there), and its slot exactly once."""
    def done() -> dict | None:
        now = next((r for r in all_runs(reader, run["job"]) if r["id"] == run["id"]), None)
        return now if now is not None and now["status"] == "succeeded" else None
    after = wait_until(done, 60, f"run {run['id']} to run elsewhere")
    assert after["peer"] != gone.id and after["attempt"] == 1
    slot = round(epoch(run["slot"]))
    wait_until(lambda: Counter(s for s, _ in file_slots(files[run["job"]]))[slot] >= 1, 30,
               "its side effect")
    lines = [p for s, p in file_slots(files[run["job"]]) if s == slot]
    assert lines == [after["peer"]], lines


def test_cluster_runs_held_by_a_killed_leader_or_a_frozen_peer_run_once_elsewhere(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = make_cluster(config_text=LEASE).start()
    leader = cluster.wait_for_leader()
    files = start_jobs(leader, tmp_path)

    held = catch_holding(leader, leader, signal.SIGKILL)
    new_leader = cluster.wait_for_leader(exclude=[leader])
    moved_and_ran_once(new_leader, held, files, gone=leader)

    leader.start()  # three peers again: freezing one must leave a majority
    wait_until(lambda: any(p == leader.id and s > time.time() - 1
                           for path in files.values() for s, p in file_slots(path)), 60,
               "the restarted peer to run slots again")
    frozen = next(p for p in cluster.peers if p is not leader and p is not new_leader)
    held = catch_holding(new_leader, frozen, signal.SIGSTOP)
    try:
        moved_and_ran_once(new_leader, held, files, gone=frozen)
    finally:
        frozen.kill(signal.SIGCONT)
    thawed_at = time.time()
    # Thawed, it catches up and runs new slots; the run it held it never starts.
    wait_until(lambda: any(p == frozen.id and s > thawed_at + 1
                           for path in files.values() for s, p in file_slots(path)), 60,
               "the thawed peer to run new slots")
    slot = round(epoch(held["slot"]))
    assert [p for s, p in file_slots(files[held["job"]]) if s == slot] != [frozen.id]
    assert len([s for s, _ in file_slots(files[held["job"]]) if s == slot]) == 1
