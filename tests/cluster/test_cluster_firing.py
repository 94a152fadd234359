"""Three real raftcron processes fire jobs end to end (issue 4): every slot of a per-second job
runs exactly once, work spreads over the peers by load, and a timeout kills a whole process
tree. The tests share one cluster (none of them disturbs it) and check side effects left by
the commands themselves as well as the API.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import (
    all_runs,
    epoch,
    file_slots,
    kill_pids,
    pause,
    pid_alive,
    post,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
)
from tests.support.wait import wait_until

CAPACITY = 4  # the default each peer advertises
#: A schedule that does not fire during a test (01:00 on January 1st).
QUIET = "0 1 1 1 *"


@pytest.fixture
def firing(shared_cluster: Cluster) -> Cluster:
    return shared_cluster


def span(path: Path) -> int:
    slots = [s for s, _ in file_slots(path)]
    return max(slots) - min(slots) if slots else -1


def test_cluster_every_second_job_runs_every_slot_exactly_once(firing: Cluster,
                                                               tmp_path: Path) -> None:
    leader = firing.wait_for_leader()
    out = tmp_path / "ticks"
    # `allow`: a run whose report is slow on a loaded machine must not turn the next slot
    # into a `skipped` one, nor a stalled leader (or an election) a late one into `missed`:
    # what is under test is that each slot fires once.
    put_job(leader, "every-second", {"schedule": "* * * * * *", "command": slot_line(out),
                                     "concurrency": "allow", "catchup": "all"})
    wait_until(lambda: span(out) >= 20, 90, "20 seconds of slots in the side-effect file")
    pause(leader, "every-second")
    runs = scheduled(wait_settled(leader, "every-second"))

    counts = Counter(s for s, _ in file_slots(out))
    first, last = min(counts), max(counts)
    assert [s for s in range(first, last + 1) if counts[s] != 1] == [], counts
    by_slot = Counter(round(epoch(r["slot"])) for r in runs)
    assert by_slot == counts, "the API and the side effects disagree"
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    assert {r["attempt"] for r in runs} == {1}
    # The peer that says it ran a slot is the one the state assigned.
    peers = {round(epoch(r["slot"])): r["peer"] for r in runs}
    assert all(peers[s] == p for s, p in file_slots(out))


def overloads(ran: list[dict], capacity: int) -> list[str]:
    """Moments when a run started on a peer already running `capacity` runs while another
    peer ran nothing, from the executing peers' own start and finish times."""
    intervals = [(r["peer"], epoch(r["started_at"]), epoch(r["finished_at"])) for r in ran]
    peers = {p for p, _, _ in intervals}
    bad = []
    for peer, start, _ in intervals:
        def running(who: str, t: float = start) -> int:
            return sum(1 for p, a, b in intervals if p == who and a <= t < b)
        if running(peer) > capacity and any(running(q) == 0 for q in peers - {peer}):
            bad.append(f"{peer} ran {running(peer)} at {start:.3f} while another was idle")
    return bad


def test_cluster_least_loaded_spreads_runs_of_different_lengths(firing: Cluster,
                                                                tmp_path: Path) -> None:
    leader = firing.wait_for_leader()
    lengths = {"sleep-2": 2, "sleep-1.5": 1.5, "sleep-1": 1, "sleep-half": 0.5}
    out = tmp_path / "spread"
    for name, seconds in lengths.items():
        put_job(leader, name, {"schedule": "* * * * * *", "concurrency": "allow",
                               "command": f"sleep {seconds}; {slot_line(out)}"})
    wait_until(lambda: len(file_slots(out)) >= 40, 90, "40 finished runs")
    for name in lengths:
        pause(leader, name)
    runs = [r for name in lengths for r in wait_settled(leader, name)]
    ran = [r for r in runs if r["started_at"] and r["finished_at"]]
    assert {r["status"] for r in ran} == {"succeeded"}
    busy: dict[str, float] = {}
    for r in ran:
        busy[r["peer"]] = busy.get(r["peer"], 0.0) + lengths[r["job"]]
    total = sum(busy.values())
    # Every peer gets work, none takes the lion's share (a third each when even).
    assert set(busy) == {p.id for p in firing.peers}, busy
    assert all(0.15 * total <= b <= 0.55 * total for b in busy.values()), busy
    # About five runs go at a time over twelve places: no peer is filled past its capacity
    # while another has nothing to do.
    assert overloads(ran, CAPACITY) == []


def test_cluster_timeout_kills_a_tree_whose_child_ignores_sigterm(firing: Cluster,
                                                                  tmp_path: Path) -> None:
    leader = firing.wait_for_leader()
    pidfile = tmp_path / "child.pid"
    command = (f"sh -c 'trap \"\" TERM; sleep 60' & echo $! > {pidfile}; wait")
    put_job(leader, "stubborn", {"schedule": QUIET, "command": command, "timeout": "2s",
                                 "kill_grace": "1s"})
    try:
        run = post(leader, "/jobs/stubborn/run")
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30,
                   "the child to write its pid")
        child = int(pidfile.read_text())

        def ended() -> dict | None:
            got = leader.get(f"/runs/{run['id']}").json()
            return got if got["status"] not in ("pending", "running") else None
        final = wait_until(ended, 60, "the run to end")
        assert final["status"] == "timed_out", final
        # SIGTERM was ignored by the child; the SIGKILL after the grace took the whole group.
        wait_until(lambda: not pid_alive(child), 30, f"child {child} to be gone")
    finally:
        kill_pids([pidfile])


def test_cluster_runs_list_agrees_on_every_peer(firing: Cluster) -> None:
    """After the tests above, every peer serves the same run history (read your writes by
    applied index)."""
    leader = firing.wait_for_leader()
    index = leader.status()["commit_index"]
    firing.wait_for_applied(index)
    views = [[(r["id"], r["status"]) for r in all_runs(p)] for p in firing.peers]
    assert views[0] and views[0] == views[1] == views[2]
