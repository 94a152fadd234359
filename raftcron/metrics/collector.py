"""The state half of /metrics: a custom collector that reads this peer's state at scrape time.

Nothing here is kept between scrapes: the Raft numbers come from `node.status()` (and the
node's `leader_changes` count), the rest from one `ReadDb.metric_counts` call over this
peer's SQLite copy (`metric_queries` says what each query touches). `collect()` blocks on
SQLite, so a scrape runs on the API's read threads, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from raftcron.metrics.recorder import NOT_RUN_STATUSES, OTHER_REASON, REASON_CLASSES, reason_labels

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import MetricsNode


ROLES = ("leader", "follower", "candidate")


class PeerStateCollector(Collector):
    """Gauges (and the leader-change counter) for one peer; see docs/metrics.md."""

    def __init__(self, *, self_id: str, node: MetricsNode, read: ReadDb) -> None:
        self.self_id, self.node, self.read = self_id, node, read

    def describe(self) -> list:
        # Empty: the registry must not call collect() (and query SQLite) at registration.
        return []

    def collect(self) -> Iterator[Any]:
        status = dict(self.node.status())
        counts = self.read.metric_counts(REASON_CLASSES, OTHER_REASON)
        yield from _runs(counts)
        yield _in_flight(self.self_id, status, counts["in_flight"])
        yield from _raft(status, self.node.leader_changes)
        health = GaugeMetricFamily("raftcron_node_healthy",
                                   "1 while the replicated state calls the SSH node healthy.",
                                   labels=["node"])
        for name, healthy in sorted(counts["node_health"].items()):
            health.add_metric([name], 1 if healthy else 0)
        yield health
        last = GaugeMetricFamily("raftcron_job_last_success_timestamp_seconds",
                                 "When the newest succeeded run of the job finished "
                                 "(Unix time).", labels=["job"])
        for job, at in sorted(counts["last_success"].items()):
            last.add_metric([job], at)
        yield last


def _runs(counts: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    runs = GaugeMetricFamily("raftcron_runs", "Runs in this peer's copy of the state, by status.",
                             labels=["status"])
    for status, n in sorted(counts["by_status"].items()):
        runs.add_metric([status], n)
    yield runs
    not_run = GaugeMetricFamily("raftcron_runs_not_run",
                                "Missed and skipped records in this peer's copy, by reason.",
                                labels=["status", "reason"])
    for status in NOT_RUN_STATUSES:
        for reason in reason_labels():
            not_run.add_metric([status, reason], counts["not_run"].get((status, reason), 0))
    yield not_run


def _in_flight(self_id: str, status: dict, by_peer: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily("raftcron_runs_in_flight",
                              "Pending or running runs, by the peer that executes them.",
                              labels=["peer"])
    peers = {p.get("id") for p in status.get("peers") or () if isinstance(p, dict)}
    for peer in sorted({self_id, *filter(None, peers), *filter(None, by_peer)}):
        gauge.add_metric([peer], by_peer.get(peer, 0))
    return gauge


def _raft(status: dict, leader_changes: Any) -> Iterator[Any]:
    role = GaugeMetricFamily("raftcron_raft_role", "1 for this peer's current Raft role.",
                             labels=["role"])
    for name in ROLES:
        role.add_metric([name], 1 if status.get("role") == name else 0)
    yield role
    yield GaugeMetricFamily("raftcron_raft_has_leader", "1 when this peer knows a leader.",
                            value=1 if status.get("leader") else 0)
    commit, applied = int(status.get("commit_index") or 0), int(status.get("applied_index") or 0)
    yield GaugeMetricFamily("raftcron_raft_term", "Current Raft term.",
                            value=int(status.get("term") or 0))
    yield GaugeMetricFamily("raftcron_raft_commit_index", "Raft commit index known to this peer.",
                            value=commit)
    yield GaugeMetricFamily("raftcron_raft_applied_index",
                            "Last Raft index applied to this peer's copy.", value=applied)
    yield GaugeMetricFamily("raftcron_apply_lag", "Committed entries not yet applied here.",
                            value=max(0, commit - applied))
    reachable = GaugeMetricFamily("raftcron_peer_reachable", "1 while the peer is connected.",
                                  labels=["peer"])
    for p in status.get("peers") or ():
        if isinstance(p, dict) and p.get("id"):
            reachable.add_metric([p["id"]], 1 if p.get("reachable") else 0)
    yield reachable
    yield from _clocks(status)
    if isinstance(leader_changes, int):
        yield CounterMetricFamily("raftcron_raft_leader_changes",
                                  "Times this peer saw a new Raft leader (the first included).",
                                  value=leader_changes)


def _clocks(status: dict) -> Iterator[GaugeMetricFamily]:
    skew = GaugeMetricFamily("raftcron_clock_skew_seconds",
                             "The peer's wall clock minus this one's (peers measured lately).",
                             labels=["peer"])
    for p in status.get("peers") or ():
        if (isinstance(p, dict) and p.get("id") and not p.get("self")
                and isinstance(p.get("clock_skew"), int | float)):
            skew.add_metric([p["id"]], float(p["clock_skew"]))
    yield skew
    offset = status.get("clock_offset")
    if isinstance(offset, int | float):
        yield GaugeMetricFamily("raftcron_clock_offset_seconds",
                                "This peer's wall clock minus the median of the members'.",
                                value=float(offset))
    yield GaugeMetricFamily("raftcron_firing", "1 while this peer fires slots (the leader, "
                            "its clock with the majority's).",
                            value=1 if status.get("firing") else 0)
