"""Blackout windows, several schedules and `queue_all` on three real raftcron processes, each
with the leader killed (SIGKILL) in the middle: no slot is lost or recorded twice, and every
slot that does not run has a record with its reason.

The clusters are `biased_cluster`s: peer 0 leads first and runs nothing (the jobs ask for the
`worker` role), so killing it tests the leader's decisions, not a run in flight.
"""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import (
    WORKER_ROLE,
    all_runs,
    biased_cluster,
    epoch,
    file_slots,
    pause,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
    wait_wall_clock,
)
from tests.support.wait import wait_until

CONFIG = ('[scheduler]\nlease = "3s"\n\n'
          '[blackouts.xmas]\nschedule = "* * 25 12 *"\ntz = "UTC"\n')


def kill_leader(cluster: Cluster) -> tuple[Peer, float]:
    leader = cluster.peers[0]
    assert cluster.wait_for_leader() is leader
    leader.kill(signal.SIGKILL)
    killed_at = time.time()
    assert cluster.wait_for_leader(exclude=[leader]) is not leader
    return leader, killed_at


def records(cluster: Cluster, name: str) -> list[dict]:
    leader = cluster.wait_for_leader(exclude=[cluster.peers[0]])
    pause(leader, name)
    return scheduled(wait_settled(leader, name))


def test_cluster_several_schedules_fire_their_union_once_across_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    out = tmp_path / "union.slots"
    job = put_job(cluster.peers[0], "union", {
        "schedule": ["*/2 * * * * *", "*/3 * * * * *"], "command": slot_line(out),
        "catchup": "all", "concurrency": "allow", "roles": [WORKER_ROLE]})
    assert job["schedule"] == ["*/2 * * * * *", "*/3 * * * * *"]
    nexts = [round(epoch(t)) for t in job["next_runs"]]
    assert nexts == sorted(set(nexts)) and all(t % 2 == 0 or t % 3 == 0 for t in nexts)
    assert nexts == [t for t in range(nexts[0], nexts[-1] + 1) if t % 2 == 0 or t % 3 == 0]
    wait_until(lambda: len(file_slots(out)) >= 4, 60, "four runs")
    _, killed_at = kill_leader(cluster)
    wait_until(lambda: max(s for s, _ in file_slots(out)) >= killed_at + 6, 60,
               "runs after the new leader took over")
    runs = records(cluster, "union")
    slots = Counter(round(epoch(r["slot"])) for r in runs)
    first, last = min(slots), max(slots)
    union = [t for t in range(first, last + 1) if t % 2 == 0 or t % 3 == 0]
    assert sorted(slots) == union, "a slot of the union has no record, or one outside it"
    assert {s: n for s, n in slots.items() if n != 1} == {}, "a slot recorded twice"
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    assert Counter(s for s, _ in file_slots(out)) == slots, "the side effects disagree"


def test_cluster_blackouts_skip_and_catch_up_across_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    leader = cluster.peers[0]
    # A cluster window through the API, and the config's (Christmas: never in this test).
    resp = cluster.peers[1].put("/blackouts/api-window", {"schedule": "19-25,49-55 * * * * *"})
    assert resp.status == 201, resp
    for peer in cluster.peers:
        wait_until(lambda p=peer: [(w["name"], w["source"]) for w in
                                   p.get("/blackouts").json()["items"]]
                   == [("xmas", "config"), ("api-window", "api")], 30, "the windows")
    bad = leader.put("/blackouts/xmas", {"schedule": "* * * * *"})
    assert bad.status == 409, bad
    files = {name: tmp_path / f"{name}.slots" for name in ("dark", "dark-none")}
    window = "0-15,30-45 * * * * *"
    for name, catchup in (("dark", "latest"), ("dark-none", "none")):
        put_job(leader, name, {"schedule": ["*/10 * * * * *", "17,47 * * * * *"],
                               "blackout": [window],
                               "catchup": catchup, "command": slot_line(files[name]),
                               "roles": [WORKER_ROLE]})
    # Every schedule here repeats each half minute. At the next one the leader is killed
    # inside the job's window (second 3), so the new leader decides the window's slots at its
    # end (second 16). Slot 10 is 6 s late then, past the 5 s grace; 17 is an ordinary slot.
    half = math.ceil((time.time() + 3) / 30) * 30
    wait_wall_clock(half + 3, timeout=40)
    kill_leader(cluster)
    wait_wall_clock(half + 29, timeout=60)
    got = {name: [r for r in records(cluster, name) if half <= epoch(r["slot"]) < half + 30]
           for name in files}
    expect = {
        "dark": {0: ("skipped", f"blackout {window}"), 10: ("succeeded", None),
                 20: ("succeeded", None)},
        "dark-none": {0: ("skipped", f"blackout {window}"),
                      10: ("skipped", f"blackout {window}"),
                      20: ("skipped", "blackout api-window")},
    }
    for name, runs in got.items():
        by_second = {round(epoch(r["slot"])) - half: r for r in runs}
        assert sorted(by_second) == [0, 10, 17, 20], (name, runs)
        assert len(runs) == len(by_second), (name, "a slot recorded twice", runs)
        for second, r in by_second.items():
            status, reason = expect[name].get(second, ("succeeded", None))
            assert (r["status"], r["reason"] if status == "skipped" else None) == (
                status, reason), (name, second, r)
            # Nothing of a window's slots is decided before the window ends.
            end = 16 if second < 16 else 26 if 19 <= second <= 25 else second
            assert epoch(r["fired_at"]) >= half + end - 0.01, (name, second, r)
        ran = {round(epoch(r["slot"])) for r in runs if r["status"] == "succeeded"}
        written = {s for s, _ in file_slots(files[name]) if half <= s < half + 30}
        assert written == ran, (name, "the side effects disagree")


def bracketed(path: Path, seconds: float) -> str:
    return (f'echo "start $RAFTCRON_SCHEDULED_TS" >> {path}; sleep {seconds}; '
            f'echo "end $RAFTCRON_SCHEDULED_TS" >> {path}')


def events(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, _, ts = line.partition(" ")
        if kind in ("start", "end") and ts:
            out.append((kind, round(float(ts))))
    return out


def test_cluster_queue_all_runs_every_waiting_slot_in_order_across_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path, CONFIG)
    out = tmp_path / "queue_all"
    put_job(cluster.peers[0], "qa", {
        "schedule": "* * * * * *", "concurrency": "queue_all", "queue_cap": 3,
        "command": bracketed(out, 1.5), "roles": [WORKER_ROLE]})

    def ends() -> int:
        return sum(1 for kind, _ in events(out) if kind == "end")
    wait_until(lambda: ends() >= 3, 60, "three runs")
    kill_leader(cluster)
    done = ends()
    wait_until(lambda: ends() >= done + 5, 90, "five runs after the leader kill")
    runs = records(cluster, "qa")
    slots = Counter(round(epoch(r["slot"])) for r in runs)
    first, last = min(slots), max(slots)
    assert sorted(slots) == list(range(first, last + 1)), "a slot has no record"
    assert {s: n for s, n in slots.items() if n != 1} == {}, "a slot recorded twice"
    ran = [r for r in runs if r["status"] == "succeeded"]
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert {r["status"] for r in runs} <= {"succeeded", "skipped"}, runs
    assert skipped and all(r["reason"].startswith("queue full: 3 later slots are waiting")
                           for r in skipped), skipped
    # One at a time, oldest first, each slot started once.
    seen = events(out)
    for i in range(0, len(seen) - 1, 2):
        assert seen[i][0] == "start" and seen[i + 1] == ("end", seen[i][1]), seen
    started = [s for kind, s in seen if kind == "start"]
    assert started == sorted(set(started)), "a slot ran twice or out of order"
    by_start = sorted(ran, key=lambda r: r["started_at"])
    assert [r["slot"] for r in by_start] == sorted(r["slot"] for r in ran)
    # Slots waited: a run's slot came due while the run before it still went.
    waited = [after for before, after in pairwise(by_start)
              if epoch(after["slot"]) < epoch(before["finished_at"])]
    assert len(waited) >= 3, by_start
    assert {s for kind, s in seen if kind == "end"} == {round(epoch(r["slot"])) for r in ran}
    assert all_runs(cluster.peers[1], "qa")  # the reads agree on a follower too
