"""A concurrency group across jobs on three real raftcron processes: three jobs share a
limit of one run at a time; the runs over it are recorded `waiting` and start oldest first;
the leader is killed (SIGKILL) while runs wait, and none is lost or started twice.

A `biased_cluster`: peer 0 leads first and runs nothing (the jobs ask for `worker`).
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import (
    WORKER_ROLE,
    all_runs,
    biased_cluster,
    epoch,
    pause,
    put_job,
    scheduled,
)
from tests.support.wait import wait_until

CONFIG = '[scheduler]\nlease = "3s"\n\n[concurrency_groups]\ndb = 2\n'
JOBS = ("ga", "gb", "gc")


def command(path: Path) -> str:
    return (f'echo "start $RAFTCRON_JOB $RAFTCRON_SCHEDULED_TS" >> {path}; sleep 1.5; '
            f'echo "end $RAFTCRON_JOB $RAFTCRON_SCHEDULED_TS" >> {path}')


def events(path: Path) -> list[tuple[str, str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], parts[1], round(float(parts[2]))))
    return out


def test_cluster_group_limit_holds_across_jobs_and_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    leader = cluster.peers[0]
    # The API's limit (1) wins over the config's (2).
    resp = cluster.peers[1].put("/concurrency-groups/db", {"limit": 1})
    assert resp.status == 201, resp
    out = tmp_path / "group"
    for name in JOBS:
        put_job(leader, name, {"schedule": "*/3 * * * * *", "concurrency_group": "db",
                               "command": command(out), "roles": [WORKER_ROLE]})

    def ends() -> int:
        return sum(1 for kind, _, _ in events(out) if kind == "end")
    # Runs wait, recorded with the reason, while another job's run holds the group.
    seen_waiting = wait_until(
        lambda: [r for r in all_runs(leader, status="waiting")] or None, 60, "a waiting run")
    assert all(r["reason"] == "waiting for concurrency group db (limit 1)"
               for r in seen_waiting), seen_waiting
    group = leader.get("/concurrency-groups/db").json()
    assert group["limit"] == 1 and group["source"] == "api" and group["active"] <= 1
    wait_until(lambda: ends() >= 3, 60, "three runs")
    leader.kill(signal.SIGKILL)
    survivor = cluster.wait_for_leader(exclude=[leader])
    done = ends()
    wait_until(lambda: ends() >= done + 4, 90, "four runs after the leader kill")
    for name in JOBS:
        pause(survivor, name)

    def settled() -> dict[str, list[dict]] | None:
        peer = cluster.wait_for_leader(exclude=[leader])
        runs = {n: scheduled(all_runs(peer, n)) for n in JOBS}
        busy = [r for rs in runs.values() for r in rs
                if r["status"] in ("pending", "running", "waiting")]
        return None if busy else runs
    runs = wait_until(settled, 120, "every run of the group to end")
    seen = events(out)
    # At most one run of the group at a time: starts and ends alternate, same run.
    for i in range(0, len(seen) - 1, 2):
        assert seen[i][0] == "start" and seen[i + 1] == ("end", *seen[i][1:]), seen
    started = [(job, slot) for kind, job, slot in seen if kind == "start"]
    assert len(started) == len(set(started)), "a run started twice"
    # Oldest first: the slots of the runs, in the order they started, never go back.
    slots = [slot for _, slot in started]
    assert all(b >= a for a, b in pairwise(slots)), started
    for name, records in runs.items():
        counts = Counter(round(epoch(r["slot"])) for r in records)
        assert {s: n for s, n in counts.items() if n != 1} == {}, (name, "a slot twice")
        first, last = min(counts), max(counts)
        assert sorted(counts) == list(range(first, last + 1, 3)), (name, "a slot lost")
        assert {r["status"] for r in records} <= {"succeeded", "skipped"}, records
        ran = {round(epoch(r["slot"])) for r in records if r["status"] == "succeeded"}
        assert ran == {slot for job, slot in started if job == name}, name
