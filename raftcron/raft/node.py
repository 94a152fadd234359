"""One Raft peer: pysyncobj underneath, an asyncio surface on top.

Threads. pysyncobj runs its own tick thread (the "raft thread"): it applies committed entries,
calls the snapshot hooks and the callbacks. Everything user-facing (`propose`, listeners,
`wait_applied`) lives on the asyncio loop of the thread that created the `Node`, which must be
the main thread and must stay alive (pysyncobj's tick thread stops when its creator dies). The
raft thread never runs user code: it hands results over through a `waiters.Mailbox`.

Applying. The one replicated method `apply(payload)` carries a JSON command
(`raftcron.model.commands`), decodes it once and calls
`StateMachine.apply_command(raftLastApplied + 1, command)`. It never
raises (an exception in a replicated method stops pysyncobj applying for good and retries the
entry every tick); a corrupt entry, or a state machine that fails, stops the process loudly
instead, because carrying on would let this copy diverge from the others.

Proposing. `propose` submits the command through pysyncobj (a follower forwards it to the
leader) and resolves when the command has been applied on THIS peer, so a client reads its own
write from the peer that answered. The waiting future is keyed by the idempotency key and
resolved from the apply path, not from pysyncobj's callback, which is lost when a follower
installs a snapshot; after a snapshot, waiters whose key the state now knows are resolved from
`StateMachine.result_for_key`. Retries after an unknown outcome: `propose.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from raftcron.config.tuning import RaftTuning
from raftcron.errors import CommandDecodeError, ConfigError, UnavailableError
from raftcron.model import commands
from raftcron.raft.apply_retry import apply_with_retries
from raftcron.raft.clock_guard import ClockGuard
from raftcron.raft.clocks import ClockVerdict
from raftcron.raft.listeners import (
    ApplyListener,
    LeadershipListener,
    Listeners,
    SnapshotListener,
)
from raftcron.raft.liveness import majority_heard
from raftcron.raft.membership import Membership
from raftcron.raft.propose import Proposer, encode
from raftcron.raft.snapshots import SnapshotHooks
from raftcron.raft.status import node_status
from raftcron.raft.syncobj import (
    LEADER_STATE,
    ROLES,
    RaftObj,
    SyncObjException,
    build_conf,
    compaction_threshold,
    stagger,
)
from raftcron.raft.transport import KeepaliveTransport
from raftcron.raft.waiters import IndexWaiters, KeyWaiters, Mailbox
from raftcron.watchdog import RAFT_STALL_LIMIT, exit_now

log = logging.getLogger(__name__)


def _exit_process(message: str) -> None:
    """Default fatal handler (`_fatal` has logged the message already)."""
    exit_now(message, log_it=False)


class Node:
    """A raftcron peer's membership in the Raft group. Create it on the running loop.

    `self_id` and `peers` (the members to start from, `self_id` included) are raft addresses
    `host:port`, the same strings on every peer; `peers` follows membership changes
    (`membership`, raft/membership.py). Files: `<data_dir>/raft.journal` (+ `.meta`) and
    `<data_dir>/raft.dump` (the last snapshot). `secret` encrypts and authenticates peer
    traffic (pysyncobj `password`); None means plain pickle on the wire: loopback only.
    `on_fatal(message)` is called (in the raft thread) when the log cannot be applied; the
    default prints the message and exits the process with status 70. `announce` (e.g.
    `{"roles": [...], "capacity": 4}`) is told to the other peers and shows in their
    `status()["peers"]` entries for this peer. `faults` is for tests only (see
    `raftcron.daemon.TEST_FAULTS_ENV`): `"raft_thread_exit"` makes the raft thread end once
    this peer has caught up, as an unexpected error in it would.

    Raises `ConfigError(field="self")` when the raft address cannot be bound.
    """

    def __init__(self, *, self_id: str, peers: Sequence[str], data_dir: Path,
                 secret: str | None, state: Any, tuning: RaftTuning | None = None,
                 on_fatal: Callable[[str], None] | None = None,
                 announce: dict[str, Any] | None = None,
                 faults: frozenset[str] = frozenset()) -> None:
        self._loop = asyncio.get_running_loop()
        self.self_id = self_id
        self.peers = list(dict.fromkeys(peers))
        if self_id not in self.peers:
            raise ConfigError(f"{self_id} is not one of the peers {self.peers}", field="self")
        self.tuning = (tuning or RaftTuning()).validate()
        self._state = state
        self._on_fatal = on_fatal or _exit_process
        self._dead = False
        self._closed = False
        self._role = "follower"
        self._ready_term: int | None = None  # term in which our leadership is established
        self._tick_leading = False  # what the raft thread last posted to the listeners
        self._last_tick = time.monotonic()
        self._faults = faults
        self._tick_applied = 0
        self._applied_hint = 0
        #: Times this peer saw a new leader (the first one it learned of included), counted
        #: on the raft thread's tick; /metrics reads it (raftcron_raft_leader_changes_total).
        self.leader_changes = 0
        self._seen_leader: str | None = None
        self._mailbox = Mailbox(self._loop)
        self._waiters = KeyWaiters(self._post)
        self._index_waiters = IndexWaiters()
        self._listeners = Listeners(self._loop)
        self.started_at = time.monotonic()

        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.announce = dict(announce or {})
        self._hooks = SnapshotHooks(state=state, dump_file=data_dir / "raft.dump",
                                    on_loaded=self._on_snapshot_loaded, on_fatal=self._fatal)
        conf = build_conf(self_id=self_id, data_dir=data_dir, secret=secret, tuning=self.tuning,
                          serializer=self._hooks.serializer, checker=self._hooks.checker,
                          deserializer=self._hooks.deserializer,
                          on_state_changed=self._on_state_changed)
        others = [p for p in self.peers if p != self_id]
        transport = KeepaliveTransport.configure(self.tuning.keepalive_interval, self.announce)
        self._raft = RaftObj(self, self_id, others, conf, transport)
        self._compact_at = compaction_threshold(self.tuning, self_id, self.peers)
        #: Bytes of the entries applied since the log last shrank (raft thread only), and the
        #: staggered threshold past which they force a snapshot.
        self._log_bytes = 0
        self._log_size = 0
        self._compact_bytes = stagger(int(self.tuning.log_compaction_bytes), self_id,
                                      self.peers)
        t = self.tuning
        self._clock = ClockGuard(self._raft, members=len(self.peers), max_skew=t.max_clock_skew,
                                 election_timeout_min=t.election_timeout_min,
                                 election_timeout_max=t.election_timeout_max)
        self._proposer = Proposer(self._raft, self._loop, self._waiters, self._post)
        self.membership = Membership(self._raft, self_id=self_id, data_dir=data_dir,
                                     secret=secret, on_change=self._on_members)
        self._raft.addOnTickCallback(self._on_tick)
        try:
            self._raft.waitBinded()
        except SyncObjException:
            self._raft.destroy_synchronous()
            raise ConfigError(f"cannot listen on raft address {self_id}: the port is in use "
                              "or the address is not local", field="self") from None

    # --- public surface ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True while this peer is leader, has applied its own first entry of the term (so
        its copy holds everything committed before), AND holds its lease (a majority heard
        within `election_timeout_min`, `raft.liveness`). Turns False the moment pysyncobj
        leaves the leader state or the lease runs out."""
        raft = self._raft
        return (raft._isLeader() and self._ready_term == raft.raftCurrentTerm
                and self.has_lease())

    @property
    def firing(self) -> bool:
        """`is_leader` AND this peer's wall clock agrees with the majority's within
        `max_clock_skew` (`raftcron.raft.clock_guard`): only then may it fire slots."""
        return self.is_leader and self._clock.verdict.ok

    @property
    def clock(self) -> ClockVerdict:
        """The latest judgement of this peer's clock against the others'."""
        return self._clock.verdict

    def time_correction(self) -> float:
        """Seconds off this wall clock to the majority's, measured now (0: no majority)."""
        return self._clock.judge_now().correction

    def has_lease(self) -> bool:
        """A majority of the members (this one included) sent this peer something within
        `election_timeout_min`: no other leader can have been elected meanwhile."""
        transport = self._raft.transport()
        contacts = [transport.last_contact(node.id) for node in self._raft.otherNodes]
        return majority_heard(contacts, len(self.peers), time.monotonic(),
                              self.tuning.election_timeout_min)

    def raft_problem(self) -> str | None:
        """For the watchdog: why the raft thread is dead or stuck, or None while it ticks."""
        if self._closed or self._dead:
            return None
        if not self._raft.tick_thread_alive():
            return "the raft thread (pysyncobj's tick thread) has stopped"
        stalled = time.monotonic() - self._last_tick
        if stalled > RAFT_STALL_LIMIT:
            return f"the raft thread has not completed a tick for {stalled:.0f}s"
        return None

    @property
    def leader(self) -> str | None:
        return getattr(self._raft._getLeader(), "id", None)

    @property
    def applied_index(self) -> int:
        """The raft index applied on this peer (no-op entries included). pysyncobj counts an
        entry applied only after the replicated method returns, but a `propose` resolves from
        inside it; the index recorded there keeps the two in step."""
        return max(self._raft.raftLastApplied, self._applied_hint)

    @property
    def commit_index(self) -> int:
        return self._raft.raftCommitIndex

    @property
    def leader_commit_index(self) -> int:
        """The commit index the leader last told this peer (this peer's own when it leads).
        Ahead of `commit_index` while a backlog is being shipped: a follower caps its commit
        index at the end of the log it has received so far."""
        return max(self._raft.raftCommitIndex, self._raft.leader_commit_index() or 0)

    @property
    def caught_up(self) -> bool:
        """A leader is known and this peer has applied everything it knows to be committed,
        up to the commit index the leader last told it (not only the log received so far)."""
        raft = self._raft
        return (raft._getLeader() is not None and raft.isReady()
                and self.applied_index >= self.leader_commit_index)

    async def propose(self, op: str, args: dict, *, key: str | None = None,
                      timeout: float = 5.0) -> dict:
        """Replicate one command; return `StateMachine.apply`'s result once applied here.
        Retries with the same key until `timeout`; raises `UnavailableError` then (the write
        may or may not have been applied: retrying with the same key is safe)."""
        key = key or uuid.uuid4().hex
        return await self.propose_encoded(await encode(op, args, key), key, timeout=timeout)

    async def propose_encoded(self, payload: bytes, key: str, *, timeout: float = 5.0) -> dict:
        """`propose` for a command already encoded with `key` in its envelope."""
        if self._closed or self._dead:
            raise UnavailableError("this peer is shutting down; retry on another peer")
        return await self._proposer.submit(payload, key, timeout=timeout)

    async def wait_applied(self, index: int, timeout: float) -> bool:
        """True once this peer has applied raft index `index` (False after `timeout`)."""
        return await self._index_waiters.wait(index, timeout, lambda: self.applied_index)

    async def wait_ready(self, timeout: float | None = None, poll: float = 0.05) -> bool:
        """Wait until `caught_up` (a leader is known and this peer has applied all it knows)."""
        deadline = None if timeout is None else self._loop.time() + timeout
        while not self.caught_up:
            if self._closed or (deadline is not None and self._loop.time() >= deadline):
                return False
            await asyncio.sleep(poll)
        return True

    def status(self) -> dict:
        """This peer's view: id, role, leader, term, commit/applied index and every member
        (`raftcron.raft.status.node_status` says what each field means)."""
        return node_status(self, self._raft, role=self._role, hooks=self._hooks)

    def add_apply_listener(self, fn: ApplyListener) -> None:
        """`fn(index, command, result)` on the loop after each command newly applied here
        (not for journal entries replayed at start-up that the copy already had)."""
        self._listeners.apply.append(fn)

    def add_leadership_listener(self, fn: LeadershipListener) -> None:
        """`fn(True)` once this peer leads, has caught up and its clock agrees with the
        majority's (`firing`); `fn(False)` when any of that ends.

        A listener added while this peer already leads gets `fn(True)` soon after (on the
        loop), so registering late never misses a leadership."""
        self._listeners.add_leadership(fn, lambda: self.firing)

    def add_snapshot_listener(self, fn: SnapshotListener) -> None:
        """`fn(applied_index)` after a snapshot replaced this peer's copy (no per-command
        listener calls happen for what the snapshot brought)."""
        self._listeners.snapshot.append(fn)

    def close(self) -> None:
        """Stop the raft thread (journal flushed), finish a snapshot in progress, fail waiters.
        The state machine is the caller's to close afterwards."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._raft.destroy_synchronous()
        self._hooks.join(timeout=30)
        self._waiters.fail_all(UnavailableError("this peer is shutting down"))

    # --- raft thread -------------------------------------------------------------------------

    def _apply_entry(self, index: int, payload: bytes) -> dict | None:
        if self._dead:
            return None
        try:
            # Decoded once here, for the state machine and for the listeners both.
            command = commands.decode(payload)
            result = apply_with_retries(self._state.apply_command, index, command)
        except CommandDecodeError as exc:
            self._fatal(f"cannot read log entry {index} (corrupt, or newer): {exc.message}")
            return None
        except Exception as exc:
            log.exception("applying log entry %d failed", index)
            self._fatal(f"applying log entry {index} failed: {exc!r}")
            return None
        self._applied_hint = index
        self._log_bytes += self._raft.entry_bytes  # as held in the log (compressed or not)
        if self._index_waiters:
            self._post(self._index_waiters.wake, index)
        if not isinstance(result, dict) or result.get("duplicate_index"):
            return result
        if self._listeners.apply:
            self._post(self._listeners.dispatch_apply, index, command, result)
        key = getattr(command, "key", None)
        if key:
            self._waiters.resolve(key, result)
        return result

    def _on_snapshot_loaded(self, restored: bool) -> None:
        # Commands this peer forwarded may have arrived inside the snapshot: their callbacks
        # are gone, so answer their waiters from the keys the state now records.
        for key in self._waiters.pending_keys():
            try:
                result = self._state.result_for_key(key)
            except Exception:
                log.exception("result_for_key failed after a snapshot")
                continue
            if result is not None:
                self._waiters.resolve(key, result)
        if restored:
            index = self._state.applied_index
            self._post(self._listeners.dispatch_snapshot, index)

    def _on_state_changed(self, old: int, new: int) -> None:
        self._role = ROLES.get(new, str(new))
        if old == LEADER_STATE and new != LEADER_STATE:
            self._ready_term = None
            self._tick_leading = False
            self._post(self._deliver_leadership, False)

    def _on_members(self, members: list[str]) -> None:
        self.peers = members  # the lease and the clock judge by the current member count
        self._clock.set_members(len(members))

    def _on_tick(self) -> None:
        self._last_tick = time.monotonic()
        raft = self._raft
        self.membership.tick()
        size = raft._getRaftLogSize()
        if size < self._log_size:
            self._log_bytes = 0  # compacted (by whichever trigger)
        self._log_size = size
        if ((size > self._compact_at or self._log_bytes > self._compact_bytes)
                and self._hooks.can_start):
            raft.forceLogCompaction()
        applied = raft.raftLastApplied
        if applied != self._tick_applied:
            self._tick_applied = applied
            if self._index_waiters:
                self._post(self._index_waiters.wake, applied)
        leader = raft._getLeader()
        if leader is not None and leader.id != self._seen_leader:
            self._seen_leader = leader.id
            self.leader_changes += 1
        if raft._isLeader():
            term = raft.raftCurrentTerm
            noop = raft.noop_index()
            if self._ready_term != term and noop is not None and applied >= noop:
                self._ready_term = term
        clock_ok = self._clock.tick().ok
        # Decided here, after this tick read the sockets, so a stall of this thread alone
        # does not look like a lost lease: the listeners hear of a lease lost or regained.
        leading = (raft._isLeader() and self._ready_term == raft.raftCurrentTerm
                   and self.has_lease() and clock_ok)
        if leading != self._tick_leading:
            self._tick_leading = leading
            if not leading and raft._isLeader() and clock_ok:
                log.warning("leader lease lost: no majority heard within %gs; not leading "
                            "until it is back", self.tuning.election_timeout_min)
            self._post(self._deliver_leadership, leading)
        if "raft_thread_exit" in self._faults and self.caught_up:
            # Test-only fault: end this thread as an unexpected error would (pysyncobj
            # catches Exception around a tick and retries; SystemExit goes through).
            raise SystemExit("test fault: raft_thread_exit")

    def _fatal(self, message: str) -> None:
        if self._dead:
            return
        self._dead = True
        log.critical("%s; stopping this peer rather than diverge from the others", message)
        self._on_fatal(message)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        self._mailbox.post(fn, *args)

    def _deliver_leadership(self, value: bool) -> None:
        self._listeners.deliver_leadership(value, lambda: self.firing,
                                           lambda: self._raft.raftCurrentTerm)
