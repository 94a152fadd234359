"""This peer's Prometheus metrics (docs/metrics.md lists every one).

Two kinds of numbers, two mechanisms:

- Events (a run started or finished, a slot fired late, missed or skipped) are counted where
  they happen, through a `Recorder` the worker and the scheduler are given. Recording is a
  few integer and float updates under a lock: nothing on the hot path allocates a string or
  touches the disk.
- State (runs by status, runs in flight, Raft role/term/indexes, node health, each job's last
  success) is read at scrape time by a custom collector, from the node and from this peer's
  SQLite copy with a handful of indexed, grouped queries.

Only `raftcron.metrics.prom` and `raftcron.metrics.collector` import `prometheus_client`;
everything else sees the `Recorder` protocol (`raftcron.metrics.recorder`). Each daemon (and
each API app in the tests, several per process) has its own `CollectorRegistry`.
"""

from raftcron.metrics.recorder import NULL_RECORDER, NullRecorder, Recorder

__all__ = ["NULL_RECORDER", "NullRecorder", "Recorder"]
