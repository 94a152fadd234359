"""Raft timing and compaction settings, and how the `[raft]` config table maps onto them.

Pure values: nothing here imports pysyncobj. `raftcron.raft.node` turns a `RaftTuning` into a
`SyncObjConf`. The defaults and the reasons for them are in `docs/design/replication.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from raftcron.errors import ConfigError

#: `[raft]` key in the cluster config -> RaftTuning attribute.
CONFIG_KEYS = {
    "heartbeat": "heartbeat",
    "election_timeout_min": "election_timeout_min",
    "election_timeout_max": "election_timeout_max",
    "connection_retry": "connection_retry",
    "connection_timeout": "connection_timeout",
    "leader_fallback": "leader_fallback",
    "log_compaction_entries": "log_compaction_entries",
    "log_compaction_time": "log_compaction_time",
    "log_compaction_bytes": "log_compaction_bytes",
    "max_clock_skew": "max_clock_skew",
}


@dataclass(frozen=True, kw_only=True)
class RaftTuning:
    """Seconds unless said otherwise.

    - `heartbeat`: the leader's append_entries period (pysyncobj `appendEntriesPeriod`), and
      how often the raft thread wakes when nothing arrives (pysyncobj `autoTickPeriod`).
    - `election_timeout_min/max`: a follower that hears nothing for a random time in this range
      starts an election.
    - `connection_timeout`: a connection that reads nothing this long is dropped. The
      transport's keepalive (`keepalive_interval`) keeps idle follower-to-follower connections
      open, so a vote request never goes out on a dead socket.
    - `connection_retry`: how often a dropped peer is redialled.
    - `leader_fallback`: a leader that hears from no majority this long steps down.
    - `log_compaction_entries` / `log_compaction_time`: snapshot (the SQLite copy) when the log
      holds more entries than this, or this many seconds after the last snapshot.
    - `log_compaction_bytes`: also snapshot once the entries applied since the last snapshot
      hold this many bytes. pysyncobj keeps the log in memory: at a thousand runs a second
      (a `fire` of a thousand records, and their reports, every second) the time trigger
      alone let it grow by a few hundred MB between snapshots.
    - `max_clock_skew`: a peer whose wall clock is further than this from the majority's
      fires nothing, hands over leadership and stands in no election (`raftcron.raft.clocks`).
    """

    heartbeat: float = 0.2
    election_timeout_min: float = 1.0
    election_timeout_max: float = 2.0
    connection_timeout: float = 4.0
    connection_retry: float = 0.2
    leader_fallback: float = 6.0
    log_compaction_entries: int = 10_000
    log_compaction_time: float = 300.0
    log_compaction_bytes: int = 32 * 1024 * 1024
    max_clock_skew: float = 1.0

    @property
    def keepalive_interval(self) -> float:
        """How often each connection carries a keepalive: often enough that a silent peer
        means a dead or frozen one within `election_timeout_max` (what `reachable` uses), and
        that an idle connection never reaches `connection_timeout`."""
        return min(self.connection_timeout / 4, self.election_timeout_min / 2)

    def validate(self) -> RaftTuning:
        """Raise `ConfigError(field="raft.<name>")` for settings pysyncobj would assert on."""

        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"raft.{name}: {why}", field=f"raft.{name}")

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise bad(f.name, f"must be a positive number, got {value!r}")
        if self.election_timeout_min <= 3 * self.heartbeat:
            raise bad("election_timeout_min", "must be more than 3 x heartbeat")
        if self.election_timeout_max <= self.election_timeout_min:
            raise bad("election_timeout_max", "must be more than election_timeout_min")
        if self.connection_timeout < self.election_timeout_max:
            raise bad("connection_timeout", "must be at least election_timeout_max")
        if self.leader_fallback <= self.heartbeat:
            raise bad("leader_fallback", "must be more than heartbeat")
        if int(self.log_compaction_entries) < 2:
            raise bad("log_compaction_entries", "must be at least 2")
        return self

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None) -> RaftTuning:
        """Build from the `[raft]` table; unknown keys are refused with the key named.

        When only the election timeouts are raised, the connection timeout and leader fallback
        follow them so the result stays valid.
        """
        base = cls()
        if not table:
            return base.validate()
        changes: dict[str, Any] = {}
        for key, value in table.items():
            if key not in CONFIG_KEYS:
                known = ", ".join(sorted(CONFIG_KEYS))
                raise ConfigError(f"raft.{key}: unknown setting (known: {known})",
                                  field=f"raft.{key}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"raft.{key}: expected a number, got {value!r}",
                                  field=f"raft.{key}")
            changes[CONFIG_KEYS[key]] = value
        for key in ("log_compaction_entries", "log_compaction_bytes"):
            if key in changes:
                changes[key] = int(changes[key])
        emax = changes.get("election_timeout_max", base.election_timeout_max)
        changes.setdefault("connection_timeout", max(base.connection_timeout, 2 * emax))
        changes.setdefault("leader_fallback", max(base.leader_fallback, 3 * emax))
        return replace(base, **changes).validate()
