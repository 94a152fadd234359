"""Rolling fan-out (`hosts = "all"` with `max_parallel`) on three real raftcron processes: one
target at a time in the targets' order, the leader killed (SIGKILL) half-way through, and no
target lost or started twice; with `keep_going = false`, the first failure stops the roll-out
and the rest are recorded `skipped` with the reason.

A `biased_cluster`: peer 0 leads first and carries no role. The targets are the two `worker`
peers and three local nodes with the `worker` role (run by some peer: a node whose executing
peer is killed is moved to a live one when its turn comes).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import WORKER_ROLE, all_runs, biased_cluster, epoch, put_job
from tests.support.wait import wait_until

CONFIG = '[scheduler]\nlease = "3s"\n'
NODES = ("n1", "n2", "n3")


def command(path: Path, fail_on: str = "") -> str:
    fail = f'[ "$RAFTCRON_TARGET" = "{fail_on}" ] && exit 3; ' if fail_on else ""
    return (f'echo "start $RAFTCRON_TARGET" >> {path}; sleep 1.5; {fail}'
            f'echo "end $RAFTCRON_TARGET" >> {path}')


def lines(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines()
            if line.count(" ") == 1]  # type: ignore[misc]


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("@at %Y-%m-%dT%H:%M:%SZ")


def settled(cluster: Cluster, job: str, count: int) -> list[dict]:
    def done() -> list[dict] | None:
        peer = cluster.wait_for_leader(exclude=[p for p in cluster.peers if not p.running])
        runs = all_runs(peer, job)
        return runs if len(runs) == count and all(
            r["status"] not in ("pending", "running", "waiting") for r in runs) else None
    return wait_until(done, 120, f"every target of {job} to end")


def test_cluster_rolling_fanout_survives_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    leader = cluster.peers[0]
    for name in NODES:
        resp = leader.put(f"/nodes/{name}", {"connection_type": "local",
                                             "roles": [WORKER_ROLE], "capacity": 2})
        assert resp.status == 201, resp
    out = tmp_path / "roll"
    targets = sorted([cluster.peers[1].id, cluster.peers[2].id, *NODES])
    put_job(leader, "roll", {"schedule": soon(3), "hosts": "all", "max_parallel": 1,
                             "roles": [WORKER_ROLE], "command": command(out)})
    first = wait_until(lambda: [r for r in all_runs(leader, "roll")] or None, 30, "the fire")
    assert sorted(r["target"] for r in first) == targets
    assert sorted(r["status"] for r in first) in (["pending"] + ["waiting"] * 4,
                                                  ["running"] + ["waiting"] * 4)
    waiting = [r for r in first if r["status"] == "waiting"]
    assert all(r["reason"] == "waiting its turn: max_parallel 1 of 5 targets" for r in waiting)
    # Kill the leader while the second target runs.
    wait_until(lambda: [k for k, _ in lines(out)].count("start") >= 2, 60, "two targets")
    leader.kill(signal.SIGKILL)
    cluster.wait_for_leader(exclude=[leader])
    runs = settled(cluster, "roll", 5)
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    seen = lines(out)
    # One target at a time, in the targets' order, each exactly once.
    assert seen == [(k, t) for t in targets for k in ("start", "end")], seen
    by_start = sorted(runs, key=lambda r: r["started_at"])
    assert [r["target"] for r in by_start] == targets
    for before, after in pairwise(by_start):
        assert epoch(after["started_at"]) >= epoch(before["finished_at"]), (before, after)


def test_cluster_rolling_fanout_stops_at_the_first_failure(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    leader = cluster.peers[0]
    for name in NODES:
        assert leader.put(f"/nodes/{name}", {"connection_type": "local",
                                             "roles": [WORKER_ROLE]}).status == 201
    out = tmp_path / "stop"
    put_job(leader, "stop", {"schedule": soon(3), "hosts": "all", "max_parallel": "40%",
                             "keep_going": False, "roles": [WORKER_ROLE],
                             "command": command(out, fail_on="n1")})
    runs = settled(cluster, "stop", 5)
    by_target = {r["target"]: r for r in runs}
    peers = sorted([cluster.peers[1].id, cluster.peers[2].id])
    # 40% of 5 targets: two at a time. The peers first; then n1 (fails) with n2; n3 never.
    assert [by_target[p]["status"] for p in peers] == ["succeeded", "succeeded"]
    assert by_target["n1"]["status"] == "failed"
    assert by_target["n2"]["status"] == "succeeded"  # started before n1 failed
    assert by_target["n3"]["status"] == "skipped"
    assert by_target["n3"]["reason"] == "not started: target n1 failed (keep_going = false)"
    assert ("start", "n3") not in lines(out)
