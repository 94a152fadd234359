"""Dependencies, backfill, pause on failure and success rules on three real raftcron
processes (issue 14, items 1, 2, 3 and 9).

- A chain a -> b -> c with the leader killed (SIGKILL) while b runs: the next leader starts c
  once, with b's run as its parent; every step ran once, none was lost.
- A backfill of ten hourly slots with the leader killed after a few: the rest run, each slot
  once, oldest first, one at a time (`forbid`).
- `pause_after_failures`, `fail_if_output_matches`, `success_exit_codes`, `expected_duration`
  and the write-time refusals (cycle, missing job, over the backfill cap) on a shared cluster.

The chain and the backfill use a biased cluster (tests/support/cluster_jobs.py): the leader
carries no role and the jobs ask for `worker`, so killing the leader never kills a run.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import (
    WORKER_ROLE,
    biased_cluster,
    post,
    put_job,
    wait_settled,
)
from tests.support.wait import wait_until

QUIET = "0 1 1 1 *"


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_cluster_dependency_chain_survives_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path)
    leader = cluster.peers[0]
    logs = {n: tmp_path / f"{n}.log" for n in "abc"}
    started = tmp_path / "b.started"
    common = {"schedule": QUIET, "roles": [WORKER_ROLE]}
    put_job(leader, "a", {**common, "command": f'echo "$RAFTCRON_RUN_ID" >> {logs["a"]}'})
    # b runs long enough for the leader to be killed under it.
    put_job(leader, "b", {**common, "after": ["a"], "command":
                          f'touch {started}; sleep 4; echo "$RAFTCRON_TRIGGERED_BY" >> '
                          f'{logs["b"]}'})
    put_job(leader, "c", {**common, "after": ["b"], "command":
                          f'echo "$RAFTCRON_TRIGGERED_BY" >> {logs["c"]}'})
    first = post(leader, "/jobs/a/run")
    wait_until(started.exists, 60, "b to start after a")
    leader.kill(signal.SIGKILL)
    reader = cluster.wait_for_leader(exclude=[leader])
    wait_until(lambda: lines(logs["c"]), 60, "c to run after b, under the new leader")
    b_runs = wait_settled(reader, "b")
    c_runs = wait_settled(reader, "c")
    assert [r["triggered_by"] for r in b_runs] == [first["id"]]
    assert [r["triggered_by"] for r in c_runs] == [b_runs[0]["id"]]
    assert lines(logs["a"]) == [first["id"]]
    assert lines(logs["b"]) == [first["id"]]
    assert lines(logs["c"]) == [b_runs[0]["id"]]
    assert all(r["status"] == "succeeded" and not r["manual"] for r in b_runs + c_runs)


def test_cluster_backfill_survives_a_leader_kill(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = biased_cluster(make_cluster, tmp_path)
    leader = cluster.peers[0]
    out = tmp_path / "backfill.log"
    put_job(leader, "hourly", {"schedule": "0 * * * *", "roles": [WORKER_ROLE],
                               "concurrency": "forbid",
                               "command": f'echo "$RAFTCRON_SCHEDULED_AT" >> {out}; sleep 1'})
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = now - timedelta(hours=10), now - timedelta(hours=1)
    body = {"from": start.isoformat().replace("+00:00", "Z"),
            "to": end.isoformat().replace("+00:00", "Z")}
    over = leader.post("/jobs/hourly/backfill", {**body, "cap": 5}, timeout=10)
    assert over.status == 400 and "10 slots" in over.json()["error"], over
    resp = leader.post("/jobs/hourly/backfill", body, timeout=10)
    assert resp.status == 202, resp
    backfill = resp.json()
    assert backfill["total"] == 10
    wait_until(lambda: len(lines(out)) >= 3, 60, "three backfill slots to run")
    leader.kill(signal.SIGKILL)
    reader = cluster.wait_for_leader(exclude=[leader])
    wait_until(lambda: len(lines(out)) >= 10, 90, "every backfill slot to run")
    runs = wait_settled(reader, "hourly")
    expected = [(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(10)]
    assert lines(out) == expected  # each slot once, oldest first
    filled = [r for r in runs if r["backfill"]]
    assert sorted(r["slot"] for r in filled) == expected
    assert {r["status"] for r in filled} == {"succeeded"}
    assert not any(r["manual"] for r in filled)
    resp = reader.get("/jobs/hourly/backfills", timeout=10)
    assert [(b["done"], b["total"]) for b in resp.json()["items"]] == [(10, 10)]


def test_cluster_dependency_refusals_name_the_jobs(shared_cluster: Cluster) -> None:
    leader = shared_cluster.wait_for_leader()
    put_job(leader, "dep-x", {"schedule": QUIET, "command": "true"})
    put_job(leader, "dep-y", {"schedule": QUIET, "command": "true", "after": ["dep-x"]})
    resp = leader.put("/jobs/dep-x", {"schedule": QUIET, "command": "true",
                                      "after": ["dep-y"]}, timeout=10)
    assert resp.status == 400, resp
    assert resp.json()["field"] == "after"
    assert "dep-x -> dep-y -> dep-x" in resp.json()["error"]
    resp = leader.put("/jobs/dep-z", {"schedule": QUIET, "command": "true",
                                      "on_failure": ["nope", "dep-x"]}, timeout=10)
    assert resp.status == 400 and "'nope'" in resp.json()["error"], resp
    resp = leader.put("/jobs/dep-z", {"schedule": QUIET, "command": "true",
                                      "fail_if_output_matches": "(a+)+"}, timeout=10)
    assert resp.status == 400 and resp.json()["field"] == "fail_if_output_matches", resp


def test_cluster_pause_after_failures_and_success_rules(shared_cluster: Cluster) -> None:
    leader = shared_cluster.wait_for_leader()
    put_job(leader, "flaky", {"schedule": QUIET, "command": "echo ERROR: bad; exit 0",
                              "fail_if_output_matches": "^ERROR", "pause_after_failures": 2})
    for _ in range(2):
        run = post(leader, "/jobs/flaky/run")
        wait_until(lambda rid=run["id"]: leader.get(f"/runs/{rid}", timeout=10).json()[
            "status"] not in ("pending", "running"), 30, "the run to end")
    last = leader.get(f"/runs/{run['id']}", timeout=10).json()
    assert (last["status"], last["reason"]) == ("failed", "output matches fail_if_output_matches")
    job = wait_until(lambda: (lambda j: j if j["status"] == "paused" else None)(
        leader.get("/jobs/flaky", timeout=10).json()), 30, "flaky to be paused")
    assert job["pause_reason"] == f"paused after 2 consecutive failures; last run {run['id']}"
    resumed = post(leader, "/jobs/flaky/resume")
    assert resumed["status"] == "scheduled" and resumed["pause_reason"] is None

    put_job(leader, "three", {"schedule": QUIET, "command": "exit 3",
                              "success_exit_codes": [0, 3]})
    put_job(leader, "sleepy", {"schedule": QUIET, "command": "sleep 3",
                               "expected_duration": "1s"})
    three = post(leader, "/jobs/three/run")
    sleepy = post(leader, "/jobs/sleepy/run")
    flagged = wait_until(lambda: (lambda r: r if r["slow"] else None)(
        leader.get(f"/runs/{sleepy['id']}", timeout=10).json()), 30, "sleepy to be slow")
    assert flagged["status"] in ("running", "succeeded")  # flagged, not killed
    done = wait_settled(leader, "sleepy")
    assert [(r["status"], r["slow"]) for r in done] == [("succeeded", True)]
    ended = wait_settled(leader, "three")
    assert [(r["id"], r["status"], r["exit_code"]) for r in ended] == [
        (three["id"], "succeeded", 3)]
