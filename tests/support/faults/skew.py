"""The skewed-clock scenario (see `clock` for the contract it checks).

Peer 0 runs under libfaketime, `offset` ahead, with quick elections and no role; peers 1
and 2 have honest clocks, slower elections and the role `worker`. Peer 0 starts first, so it
is the first leader. Every-second `catchup = "all"` jobs that need `worker` then run for
`seconds`, on honest peers only, stamping their start by the honest clock.

Checks: no execution starts before its slot; the leader is an honest peer from `handover`
seconds after the jobs were put until the end (the skewed leader stops firing and hands
over); and, like every fault, no slot of the window doubled or missed.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cluster import TEST_RAFT, Cluster
from tests.support.faults.checks import early_runs, judge_slots
from tests.support.faults.clock import skewed_env
from tests.support.wait import wait_until

WORKER = "worker"
SLOW_ELECTIONS = {"election_timeout_min": 2.0, "election_timeout_max": 3.0,
                  "connection_timeout": 3.0}
HANDOVER = 15.0  # seconds the skewed leader may take to notice and hand over


def skew_peer_options(root: Path, offset: str) -> dict[str, Any]:
    """`Cluster` keyword arguments: peer 0 skewed, peers 1 and 2 honest `worker`s."""
    slow = Path(root) / "slow.toml"
    slow.parent.mkdir(parents=True, exist_ok=True)
    raft = {**TEST_RAFT, **SLOW_ELECTIONS}
    slow.write_text("allow_privileged_jobs = true\n[raft]\n"
                    + "".join(f"{k} = {v!r}\n" for k, v in raft.items()))
    worker = ["--config", str(slow), "--roles", WORKER]  # the last --config wins
    return {"peer_env": {0: skewed_env(offset)}, "peer_args": {1: worker, 2: worker}}


def run_skew(cluster: Cluster, out: Path, *, seconds: float, put_jobs: Callable[..., Any],
             stamp_job: Callable[..., dict], read_stamps: Callable[[Path], list],
             list_runs: Callable[..., list], jobs: int = 3,
             log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Run the scenario on a cluster made with `skew_peer_options`; return the problems.
    (The job helpers are scripts/benchcluster's, passed in to keep tests/ free of scripts/.)"""
    out.mkdir(parents=True, exist_ok=True)
    skewed, honest = cluster.peers[0], cluster.peers[1:]
    skewed.start()
    for peer in honest:
        peer.start()
    first_leader = cluster.wait_for_leader(timeout=60)
    for _ in range(3):  # restart an honest leader: the skewed peer's quick timeout wins next
        if first_leader is skewed:
            break
        first_leader.stop()
        first_leader.start()
        first_leader = cluster.wait_for_leader(timeout=60)
    log(f"[skew] first leader {first_leader.id} (skewed: {skewed.id}; a skewed peer that "
        "refuses to lead at all also keeps the contract)")
    # A peer proposes times by the majority's clock once it has measured the others (a few
    # keepalives after start); until then by its own (docs/design/replication.md, Clocks).
    wait_until(lambda: all(p.get("clock_skew") is not None
                           for p in first_leader.status().get("peers", ()) if not p.get("self")),
               30, "the first leader to have measured every peer's clock")
    names = [f"skew-{i}" for i in range(jobs)]
    put_jobs(first_leader, {n: stamp_job(out, n, catchup="all", roles=[WORKER])
                            for n in names})
    began = time.monotonic()
    first = math.ceil(time.time()) + 1
    late_leaders: set[str] = set()
    while time.monotonic() - began < seconds:
        leader = cluster.leader()
        if leader is not None and time.monotonic() - began > HANDOVER:
            late_leaders.add(leader.id)
        time.sleep(0.5)  # sampling who leads, not waiting for a state
    last = math.floor(time.time()) - 1
    leader = cluster.wait_for_leader(timeout=30)  # the skewed one still leading is judged below
    with contextlib.suppress(AssertionError):  # judged below either way
        wait_until(lambda: not judge_slots(read_stamps(out), list_runs(leader), names, first,
                                           last).missed, 30, "the window's slots to run")
    problems = []
    if not skewed.running:
        status = skewed.proc.returncode if skewed.proc else None
        problems.append(f"the skewed peer is not running (exit status {status})")
    early = early_runs(read_stamps(out))
    if early:
        problems.append(f"{len(early)} runs started before their slot (job, slot, s early): "
                        f"{early[:10]}")
    if skewed.id in late_leaders:
        problems.append(f"the skewed peer {skewed.id} still led {HANDOVER:g} s after the "
                        "jobs were put")
    report = judge_slots(read_stamps(out), list_runs(leader), names, first, last)
    problems += report.problems
    log(f"[skew] slots {first}..{last}: expected {report.expected}, ran {report.ran}, "
        f"leaders after {HANDOVER:g} s: {sorted(late_leaders)}")
    return problems
