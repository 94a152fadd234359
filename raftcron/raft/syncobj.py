"""The pysyncobj `SyncObj` behind a `raftcron.raft.node.Node`, and its configuration.

Only `raftcron.raft.node` uses this module. The SyncObj has one replicated method, `apply(payload)`:
adding or renaming one would renumber pysyncobj's method ids and make old journals and older
peers call the wrong method. The few private pysyncobj fields raftcron needs are read here and
nowhere else (pysyncobj is pinned to 0.3.17), except its journal's file classes
(`raft.journal_file`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.config import FAIL_REASON

# pysyncobj's clock (CLOCK_MONOTONIC_RAW on Linux), not `time.monotonic()` (CLOCK_MONOTONIC):
# the two part by NTP's slewing (0.26 s on a box up 17 hours, up to 0.5 ms a second), so its
# deadlines are read and written on its own clock only.
from pysyncobj.monotonic import monotonic as raft_clock

# Re-exported: `raftcron.raft.node` never imports pysyncobj itself.
from pysyncobj.syncobj import SyncObjException as SyncObjException

from raftcron.config.tuning import RaftTuning
from raftcron.raft import journal_file
from raftcron.raft.transport import KeepaliveTransport
from raftcron.raft.version_gate import VersionGate

# Every journal this process opens reserves its space before writing through its mapping:
# a full disk then stops the peer with exit 70 and a line saying so, not a silent SIGBUS.
journal_file.install()

ROLES = {0: "follower", 1: "candidate", 2: "leader"}
NEVER = 2**62
LEADER_STATE = 2
SUCCESS = FAIL_REASON.SUCCESS
#: pysyncobj's failure codes by number, for messages ("leader_changed", ...).
FAIL_NAMES = {v: k.lower() for k, v in vars(FAIL_REASON).items() if k.isupper()}
#: The command version from which a peer reads zlib-compressed log entries (gossiped as
#: `command_version`, `raft.version_gate`).
COMPRESSED_VERSION = 4
#: Entries at least this long are compressed (once the cluster reads them): a batch of 1,000
#: jobs is ~750 kB of JSON and ~16 kB compressed, held in pysyncobj's in-memory log and its
#: journal until the next snapshot, and encrypted and sent once per follower.
COMPRESS_AT = 2048


def pack_entry(payload: bytes) -> bytes:
    """The stored form of a large entry. A command is a JSON object (it starts with `{`); a
    zlib stream starts with `x` (0x78), so the two never mix up."""
    return zlib.compress(payload, 1)


def unpack_entry(payload: bytes) -> bytes:
    """The command an entry holds: `payload` itself, or decompressed. Never raises (an
    exception inside pysyncobj's apply would stop this peer for good): an entry that does
    not decompress is handed on as it is, and the apply path reports it as corrupt."""
    if payload[:1] != b"x":
        return payload
    try:
        return zlib.decompress(payload)
    except zlib.error:
        return payload


class Applier(Protocol):
    def _apply_entry(self, index: int, payload: bytes) -> dict | None: ...

    def status(self) -> dict: ...


class RaftObj(SyncObj):
    """The SyncObj: committed entries go to `owner._apply_entry(index, payload)`."""

    def __init__(self, owner: Applier, self_id: str, others: list[str], conf: SyncObjConf,
                 transport_class: type[KeepaliveTransport]) -> None:
        # Set before SyncObj.__init__: the tick thread starts applying inside it.
        self._owner = owner
        #: While True (its clock is outvoted), this peer never starts an election: its
        #: election timer is pushed past every tick, a leader's `timeout_now` included.
        self.refuse_candidacy = False
        self._gate = VersionGate(owner)
        #: Bytes of the entry being applied as the log holds it (compressed or not): what the
        #: node's `log_compaction_bytes` trigger counts, since that is what takes memory.
        self.entry_bytes = 0
        super().__init__(self_id, others, conf, transportClass=transport_class)

    def submit(self, payload: bytes, callback: Callable[[Any, int], None]) -> None:
        """Append `payload` (a command) through Raft, compressed when it is large and every
        reachable peer reads compressed entries (an older one would stop at it)."""
        if len(payload) >= COMPRESS_AT and self._gate.reads(COMPRESSED_VERSION):
            payload = pack_entry(payload)
        self.apply(payload, callback=callback)

    @replicated
    def apply(self, payload: bytes) -> dict | None:
        # The index of the entry being applied; the same on every peer and after a restart.
        self.entry_bytes = len(payload)
        return self._owner._apply_entry(self.raftLastApplied + 1, unpack_entry(payload))

    def _onTick(self, timeToWait: float = 0.0) -> None:
        # Read what has already arrived before pysyncobj looks at its election timer (it
        # polls the sockets only at the end of a tick): a tick delayed by a busy process must
        # not start an election while the leader's heartbeats wait unread in the socket.
        self._poller.poll(0)
        if self.refuse_candidacy:
            hold = raft_clock() + self._SyncObj__conf.raftMaxTimeout  # type: ignore[attr-defined]
            self._SyncObj__raftElectionDeadline = hold  # type: ignore[attr-defined]
        super()._onTick(self.wake_within(timeToWait, raft_clock()))

    def wake_within(self, period: float, now: float) -> float:
        """How long this tick may sleep: `period`, or less so that a follower wakes at its
        election deadline (`now` read from `raft_clock`). pysyncobj looks at the deadline only
        when a tick runs, so without this a candidacy waited for the next wake-up: up to a
        period late, and any event that woke both surviving followers at once (a client
        asking each one's /status) made both stand in the same term and split the vote: 4 of
        25 leader kills took 2.7-5.9 s."""
        if self._SyncObj__raftState == LEADER_STATE:  # type: ignore[attr-defined]
            return period
        until = self._SyncObj__raftElectionDeadline - now  # type: ignore[attr-defined]
        # Overdue (until <= 0) means not connected to anyone: no election to wake for.
        return until if 0 < until < period else period

    def _SyncObj__applyLogEntries(self) -> bool:  # pysyncobj's name, mangled
        """pysyncobj's apply step, with the leader telling the followers first.

        pysyncobj sends a leader's new commit index only after the leader has applied the
        newly committed entries itself, so every follower's apply waited for the leader's:
        a fire entry of 100 runs started its runs on the followers 20-40 ms after the
        leader's. Sent before, the followers apply in parallel with the leader. The send
        pysyncobj would make after the apply carries nothing new, so it is skipped."""
        if (self._SyncObj__raftState == LEADER_STATE  # type: ignore[attr-defined]
                and self._SyncObj__raftCommitIndex  # type: ignore[attr-defined]
                > self._SyncObj__raftLastApplied):  # type: ignore[attr-defined]
            self._SyncObj__sendAppendEntries()  # type: ignore[attr-defined]
            SyncObj._SyncObj__applyLogEntries(self)  # type: ignore[attr-defined]
            return False
        return SyncObj._SyncObj__applyLogEntries(self)  # type: ignore[attr-defined]

    def hand_over(self, node: Any) -> None:
        """Ask `node` (one of `otherNodes`) to start an election at once (pysyncobj's Raft
        TimeoutNow; denied quietly unless this peer leads and `node` has its whole log)."""
        self.transferLeadership(node)

    def last_log_index(self) -> int:
        return self._SyncObj__getCurrentLogIndex()  # type: ignore[attr-defined]

    def transport(self) -> KeepaliveTransport:
        return self._SyncObj__transport  # type: ignore[attr-defined]

    def noop_index(self) -> int | None:
        """Index of the no-op this leader appended when elected (None before any)."""
        return self._SyncObj__noopIDx  # type: ignore[attr-defined]

    def match_index(self, node: Any) -> int | None:
        return self._SyncObj__raftMatchIndex.get(node)  # type: ignore[attr-defined]

    def leader_commit_index(self) -> int | None:
        """The commit index the leader last told this peer (None before any). A follower
        caps `raftCommitIndex` at the end of its own log, so while a backlog is still being
        shipped only this one says how far behind the peer is."""
        return self._SyncObj__leaderCommitIndex  # type: ignore[attr-defined]


def compaction_threshold(tuning: RaftTuning, self_id: str, peers: list[str]) -> int:
    """Log entries at which this peer snapshots: `log_compaction_entries` for the first peer
    in address order, up to twice that for the last. Peers apply the same entries at the same
    pace, so with one threshold all of them copied their database at the same moment; the
    burst of writes (a 100 MB copy, three times over) stalled every raft thread at once."""
    return stagger(int(tuning.log_compaction_entries), self_id, peers)


def stagger(base: int, self_id: str, peers: list[str]) -> int:
    """`base` for the first peer in address order, up to twice that for the last."""
    ordered = sorted(peers)
    rank = ordered.index(self_id) if self_id in ordered else 0
    return base + base * rank // max(len(ordered), 1)


def build_conf(*, self_id: str, data_dir: Path, secret: str | None, tuning: RaftTuning,
               serializer: Callable[..., Any], checker: Callable[[], int],
               deserializer: Callable[[str], Any],
               on_state_changed: Callable[[int, int], None]) -> SyncObjConf:
    """The SyncObjConf for one peer; the reasons for each value are in replication.md."""
    t = tuning
    return SyncObjConf(
        password=secret or None,
        bindAddress=self_id,  # pysyncobj's default is 0.0.0.0
        journalFile=str(data_dir / "raft.journal"),
        # A journal without a dump loses everything after the first compaction.
        fullDumpFile=str(data_dir / "raft.dump"),
        # Members are added and removed at runtime (raft/membership.py).
        dynamicMembershipChange=True,
        # Batching waits up to a heartbeat per commit (100 ms); off, a commit is ~1 ms.
        appendEntriesUseBatch=False,
        appendEntriesPeriod=t.heartbeat,
        raftMinTimeout=t.election_timeout_min,
        raftMaxTimeout=t.election_timeout_max,
        connectionTimeout=t.connection_timeout,
        # Redial a lost peer quickly: a restarted follower that stays unreachable for the
        # default 5 s times out and unseats a healthy leader (no pre-vote in pysyncobj).
        connectionRetryTime=t.connection_retry,
        leaderFallbackTimeout=t.leader_fallback,
        # The entry-count trigger is ours (`compaction_threshold`, staggered per peer): here
        # it is set out of reach, so only our trigger and the time-based one fire.
        logCompactionMinEntries=NEVER,
        logCompactionMinTime=t.log_compaction_time,
        # Fail fast without a leader; propose() retries on its own deadline, so nothing
        # lingers in pysyncobj's queue to be applied long after the caller gave up.
        commandsWaitLeader=False,
        # Never fork with SQLite open; the serializer runs in a thread (snapshots.py).
        useFork=False,
        serializer=serializer,
        serializeChecker=checker,
        deserializer=deserializer,
        onStateChanged=on_state_changed,
        bindRetryTime=0.2,
        # pysyncobj's thread wakes at once for a socket or a proposal; this period only
        # paces its timers (heartbeats, election timeouts, ours), none finer than a
        # heartbeat. Its default (50 ms) cost an idle peer ~0.2 % of a core more.
        autoTickPeriod=t.heartbeat,
        maxBindRetries=5,
    )
