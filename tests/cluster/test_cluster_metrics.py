"""`GET /metrics` of real running peers (issue 8): prometheus_client's exposition parses on
the leader and on the followers, every family docs/metrics.md lists is there with its type,
and the event metrics move once a job runs (summed over the peers: the leader counts what it
fires, each worker what it runs).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import Cluster, Peer
from tests.support.cluster_jobs import pause, put_job
from tests.support.wait import wait_until

#: Family name (as the parser names it: a counter without `_total`) -> type.
FAMILIES = {
    "raftcron_runs": "gauge",
    "raftcron_runs_not_run": "gauge",
    "raftcron_runs_in_flight": "gauge",
    "raftcron_raft_role": "gauge",
    "raftcron_raft_has_leader": "gauge",
    "raftcron_raft_term": "gauge",
    "raftcron_raft_commit_index": "gauge",
    "raftcron_raft_applied_index": "gauge",
    "raftcron_apply_lag": "gauge",
    "raftcron_peer_reachable": "gauge",
    "raftcron_clock_skew_seconds": "gauge",
    "raftcron_clock_offset_seconds": "gauge",
    "raftcron_firing": "gauge",
    "raftcron_raft_leader_changes": "counter",
    "raftcron_node_healthy": "gauge",
    "raftcron_job_last_success_timestamp_seconds": "gauge",
    "raftcron_fire_skew_seconds": "histogram",
    "raftcron_fire_lag_seconds": "histogram",
    "raftcron_run_duration_seconds": "histogram",
    "raftcron_runs_started": "counter",
    "raftcron_runs_finished": "counter",
    "raftcron_runs_missed": "counter",
    "raftcron_runs_skipped": "counter",
    "raftcron_runs_moved": "counter",
    "raftcron_event_loop_stalls": "counter",
    "raftcron_event_loop_stalled_seconds": "counter",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "python_info": "gauge",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(peer: Peer) -> tuple[dict[str, str], Samples]:
    """(family -> type, (sample name, labels) -> value) of one /metrics."""
    resp = peer.get("/metrics", headers={"Accept": "text/plain"}, timeout=10)
    assert resp.status == 200, resp
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4"), resp.headers
    families = list(text_string_to_metric_families(resp.body.decode()))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families for s in f.samples}
    return {f.name: f.type for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_all(cluster: Cluster) -> tuple[Samples, list[Samples]]:
    """Every peer's samples added up, and each peer's."""
    each = [scrape(peer)[1] for peer in cluster.peers]
    total: Counter = Counter()
    for samples in each:
        total.update(samples)
    return dict(total), each


def test_metrics_of_running_peers_parse_and_move_when_a_job_runs(
        cluster: Cluster, tmp_path: Path) -> None:
    peer = cluster.wait_for_leader()
    resp = peer.put("/nodes/db1", {"connection_type": "ssh", "ssh_host": "db1.invalid",
                                   "ssh_user": "cron"}, timeout=30)
    assert resp.status == 201, resp
    cluster.wait_for_applied(resp.index or 0)

    for each in cluster.peers:
        types, before = scrape(each)
        assert {name: types.get(name) for name in FAMILIES} == FAMILIES, each
        role = "leader" if each is peer else "follower"
        assert value(before, "raftcron_raft_role", role=role) == 1, each
        assert value(before, "raftcron_raft_term") >= 1
        assert value(before, "raftcron_raft_applied_index") >= 1
        assert value(before, "raftcron_raft_leader_changes_total") >= 1
        assert value(before, "raftcron_node_healthy", node="db1") == 1  # none reported down
        assert value(before, "raftcron_runs_started_total") == 0
        assert value(before, "process_cpu_seconds_total") > 0

    # Every second, each run 1.5 s long: runs start and succeed, the slots that come due
    # while one goes are skipped (concurrency=forbid: "previous run ... still running").
    out = tmp_path / "ticks"
    put_job(peer, "tick", {"schedule": "* * * * * *", "concurrency": "forbid",
                           "command": f"echo ran >> {out}; sleep 1.5"})

    def moved() -> Samples | None:
        now, each = scrape_all(cluster)
        done = (value(now, "raftcron_runs_started_total") >= 2
                and value(now, "raftcron_runs_finished_total", status="succeeded") >= 2
                and value(now, "raftcron_runs_skipped_total", reason="overlap") >= 1
                and value(now, "raftcron_runs_not_run", status="skipped", reason="overlap") >= 1
                # every peer's copy has a success of the job
                and all(value(one, "raftcron_job_last_success_timestamp_seconds", job="tick")
                        > 0 for one in each))
        return now if done else None

    after = wait_until(moved, 60, "the run counters to move")
    pause(peer, "tick")
    assert value(after, "raftcron_fire_skew_seconds_count") >= 2
    assert value(after, "raftcron_fire_skew_seconds_bucket", le="+Inf") == value(
        after, "raftcron_fire_skew_seconds_count")
    assert value(after, "raftcron_fire_lag_seconds_count") >= 2
    assert value(after, "raftcron_run_duration_seconds_count") >= 2
    # A run sleeps 1.5 s: its duration is at least that.
    assert value(after, "raftcron_run_duration_seconds_bucket", le="1.0") == 0
    # The state gauge counts what is applied, which may trail the worker's own count.
    assert value(after, "raftcron_runs", status="succeeded") >= 3  # on each peer's copy
    assert value(after, "raftcron_runs_missed_total", reason="other") == 0
    assert out.read_text().count("ran") >= 2
