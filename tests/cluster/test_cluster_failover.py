"""Firing through failures, on three real raftcron processes (issue 4).

- The leader killed (SIGKILL) during a burst of per-second jobs: the next leader fires on,
  and across the whole window every slot of every job ran exactly once.
- The leader frozen (SIGSTOP) past an election, then thawed: it fires nothing once deposed.
- The peer executing a run killed: after the lease the run is `lost` and its retry runs on
  another peer.

The first two use a biased cluster (`biased_cluster` of tests/support/cluster_jobs.py): the
leader carries no role and the jobs ask for `worker`, so the peer that fails never executes a
run and the side-effect files count the firing alone.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import (
    WORKER_ROLE,
    all_runs,
    biased_cluster,
    epoch,
    file_slots,
    kill_pids,
    pause,
    post,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
)
from tests.support.wait import wait_until

#: A short lease so a silent peer's runs are declared lost quickly.
LEASE = '[scheduler]\nlease = "3s"\n'
QUIET = "0 1 1 1 *"


def start_burst(leader: Peer, tmp_path: Path, count: int = 5) -> dict[str, Path]:
    files = {f"burst-{i}": tmp_path / f"burst-{i}.slots" for i in range(count)}
    for name, path in files.items():
        put_job(leader, name, {"schedule": "* * * * * *", "command": slot_line(path),
                               "catchup": "all", "concurrency": "allow",
                               "roles": [WORKER_ROLE]})
    wait_until(lambda: all(len(file_slots(p)) >= 3 for p in files.values()), 60,
               "every job to have run three times")
    return files


def newest_slot(path: Path) -> int:
    return max((s for s, _ in file_slots(path)), default=0)


def finish_burst(cluster: Cluster, files: dict[str, Path], until: float) -> dict[str, list]:
    """Wait until every job ran a slot after `until`, pause them all, return their records."""
    wait_until(lambda: all(newest_slot(p) >= until for p in files.values()), 90,
               f"every job to run a slot after {until:.0f}")
    leader = cluster.wait_for_leader()
    for name in files:
        pause(leader, name)
    return {name: scheduled(wait_settled(leader, name)) for name in files}


def assert_each_slot_once(files: dict[str, Path], runs: dict[str, list],
                          never_on: Peer) -> None:
    for name, path in files.items():
        lines = file_slots(path)
        counts = Counter(s for s, _ in lines)
        first, last = min(counts), max(counts)
        gaps_or_doubles = {s: counts[s] for s in range(first, last + 1) if counts[s] != 1}
        assert gaps_or_doubles == {}, (name, gaps_or_doubles)
        assert never_on.id not in {p for _, p in lines}
        records = Counter(round(epoch(r["slot"])) for r in runs[name])
        assert records == counts, (name, "the API and the side effects disagree")
        assert {r["status"] for r in runs[name]} == {"succeeded"}, (name, runs[name])


def test_cluster_leader_killed_during_a_burst_loses_and_doubles_no_slot(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, LEASE)
    leader = cluster.peers[0]
    files = start_burst(leader, tmp_path)
    leader.kill(signal.SIGKILL)
    killed_at = time.time()
    new_leader = cluster.wait_for_leader(exclude=[leader])
    assert new_leader is not leader
    runs = finish_burst(cluster, files, killed_at + 6)
    assert_each_slot_once(files, runs, never_on=leader)


def test_cluster_frozen_leader_fires_nothing_once_deposed(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, LEASE)
    leader = cluster.peers[0]
    files = start_burst(leader, tmp_path)
    leader.kill(signal.SIGSTOP)
    try:
        stopped_at = time.time()
        new_leader = cluster.wait_for_leader(exclude=[leader])
        assert new_leader is not leader
        # The new leader fires while the old one is frozen.
        wait_until(lambda: all(newest_slot(p) >= stopped_at + 4 for p in files.values()), 60,
                   "the new leader to fire")
    finally:
        leader.kill(signal.SIGCONT)
    thawed_at = time.time()
    # The old leader wakes believing it leads, learns the new term and follows.
    wait_until(lambda: leader.status()["role"] == "follower"
               and leader.status()["leader"] == new_leader.id, 30,
               "the thawed leader to follow")
    runs = finish_burst(cluster, files, thawed_at + 4)
    assert_each_slot_once(files, runs, never_on=leader)


def test_cluster_run_on_a_killed_peer_is_lost_and_retried_elsewhere(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = make_cluster(config_text=LEASE).start()
    leader = cluster.wait_for_leader()
    pidfile = tmp_path / "attempt1.pid"
    out = tmp_path / "attempts"
    # The first attempt hangs (until its peer dies); the retry finishes at once.
    command = (f'if [ "$RAFTCRON_ATTEMPT" = 1 ]; then echo $$ > {pidfile}; exec sleep 60; fi; '
               f'echo "$RAFTCRON_ATTEMPT $RAFTCRON_PEER" >> {out}')
    put_job(leader, "fragile", {"schedule": QUIET, "command": command, "retries": 1,
                                "retry_backoff": "1s"})
    try:
        first = post(leader, "/jobs/fragile/run")
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30,
                   "the first attempt to start")
        victim = next(p for p in cluster.peers if p.id == first["peer"])
        victim.kill(signal.SIGKILL)
        reader = cluster.wait_for_leader(exclude=[victim])

        def retried() -> list[dict] | None:
            runs = all_runs(reader, "fragile")
            done = [r for r in runs if r["attempt"] == 2 and r["status"] == "succeeded"]
            return runs if done else None
        runs = {r["attempt"]: r for r in wait_until(retried, 90, "the retry to succeed")}
        lost, retry = runs[1], runs[2]
        assert lost["id"] == first["id"] and lost["status"] == "lost", lost
        assert "lease" in lost["reason"] and victim.id in lost["reason"], lost
        assert retry["retry_of"] == lost["id"]
        assert retry["peer"] != victim.id
        # The retry's side effect names the peer the state says ran it.
        assert out.read_text().split() == ["2", retry["peer"]]
    finally:
        kill_pids([pidfile])  # the orphaned first attempt of the killed peer
