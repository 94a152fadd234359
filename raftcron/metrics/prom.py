"""`PeerMetrics`: one peer's registry, the event metrics its `Recorder` methods update, and the
exposition of the whole registry (docs/metrics.md lists every metric).

One `CollectorRegistry` per peer, never prometheus_client's global one: the tests run several
peers (and API apps) in one process, and each must show only its own numbers. The process and
platform collectors are registered in it too (`process_cpu_seconds_total` is the daemon's CPU
time). Recording is thread-safe (prometheus_client locks each value) and cheap: the label
children are created here, once, so the hot path is a dict lookup and an add.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

from raftcron.metrics.collector import PeerStateCollector
from raftcron.metrics.recorder import accepted_not_run, moved, reason_labels

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import MetricsNode

#: Fire skew and fire lag: from well under a tick to a minute late.
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    float("inf"))
#: Run durations: a second to a day.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
                    7200.0, 21600.0, 86400.0, float("inf"))
FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled", "lost")


class PeerMetrics:
    """The metrics of one peer: a `Recorder` for the worker and the scheduler, and `scrape()`
    for `GET /metrics`. `node` and `read` are read only at scrape time."""

    def __init__(self, *, self_id: str, node: MetricsNode, read: ReadDb) -> None:
        self.registry = reg = CollectorRegistry()
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        reg.register(PeerStateCollector(self_id=self_id, node=node, read=read))
        self._fire_skew = Histogram(
            "raftcron_fire_skew_seconds",
            "From a slot's time to its process start, on the peer that starts the run "
            "(first attempts; jitter included).", buckets=LATENESS_BUCKETS, registry=reg)
        self._fire_lag = Histogram(
            "raftcron_fire_lag_seconds",
            "From a slot's due time (jitter included) to the leader's fire.",
            buckets=LATENESS_BUCKETS, registry=reg)
        self._duration = Histogram(
            "raftcron_run_duration_seconds",
            "From process start to end, of the runs this peer ran.",
            buckets=DURATION_BUCKETS, registry=reg)
        self._started = Counter("raftcron_runs_started", "Runs whose process this peer started.",
                                registry=reg)
        finished = Counter("raftcron_runs_finished", "Runs this peer reported final, by status.",
                           ["status"], registry=reg)
        self._finished = {s: finished.labels(s) for s in FINAL_STATUSES}
        self._finished_family = finished
        self._moved = Counter("raftcron_runs_moved",
                              "Held runs this peer, as leader, moved off a silent peer.",
                              registry=reg)
        self._stalls = Counter("raftcron_event_loop_stalls",
                               "Times this peer's event loop was blocked for over half a second "
                               "(its API could not answer meanwhile).", registry=reg)
        self._stalled = Counter("raftcron_event_loop_stalled_seconds",
                                "Seconds those stalls lasted, in all.", registry=reg)
        self._not_run: dict[tuple[str, str], Any] = {}
        for status in ("missed", "skipped"):
            family = Counter(f"raftcron_runs_{status}",
                             f"Slots this peer, as leader, recorded {status}, by reason.",
                             ["reason"], registry=reg)
            for reason in reason_labels():
                self._not_run[(status, reason)] = family.labels(reason)

    def loop_stalled(self, seconds: float) -> None:
        """The event loop ran nothing for `seconds` (over `watchdog.LOOP_STALL_WARN`)."""
        self._stalls.inc()
        self._stalled.inc(max(0.0, seconds))

    # --- Recorder -----------------------------------------------------------------------------

    def run_started(self, *, slot: datetime, attempt: int, started_at: datetime) -> None:
        self._started.inc()
        if attempt == 1:  # a retry's wait is its back-off, not lateness
            self._fire_skew.observe(max(0.0, (started_at - slot).total_seconds()))

    def run_finished(self, *, status: str, started_at: datetime | None,
                     finished_at: datetime | None) -> None:
        child = self._finished.get(status)
        if child is None:  # a status added later: still counted, under its own name
            child = self._finished[status] = self._finished_family.labels(status)
        child.inc()
        if started_at is not None and finished_at is not None:
            self._duration.observe(max(0.0, (finished_at - started_at).total_seconds()))

    def fire_lags(self, seconds: Iterable[float]) -> None:
        for value in seconds:
            self._fire_lag.observe(max(0.0, value))

    def proposed(self, op: str, args: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        if op not in ("fire", "batch", "move_run"):
            return
        for key in accepted_not_run(op, args, result):
            self._not_run[key].inc()
        count = moved(op, args, result)
        if count:
            self._moved.inc(count)

    # --- exposition ---------------------------------------------------------------------------

    def scrape(self, accept: str = "") -> tuple[bytes, str]:
        """(body, content type) for the Accept header: Prometheus text 0.0.4 by default,
        OpenMetrics when asked for. Blocks on SQLite: call it off the event loop."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
