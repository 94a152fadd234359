"""The leader-only scheduling loop around the pure decisions (`planning.slots`,
`planning.placement`, `planning.recovery`, `planning.proposals`).

Life cycle: the daemon calls `start()` when this peer becomes leader (or registers
`on_leadership`) and `stop()` the moment it is not; every proposal also checks `node.firing`
(leader, and its clock with the majority's) first. The state's fence makes a deposed leader's
late `fire` harmless, but the loop does not lean on it.

One `tick()` is one wake: at `now` from the clock, it runs the recovery pass when due (leases,
retries, held queue slots; every `recovery_interval`), the retention pass when due (every
`retention_interval`), then plans every job whose time has come and proposes their records
together (a `fire`, or a `batch` with `cancel_run`s and `finish_job`s). Tests drive `tick()`
step by step with a `FakeClock`; `start()` runs it in a loop that sleeps until the head of the
job heap, the next pass, or an applied command that moves a job earlier.

The job table (`scheduler.job_table.JobTable`) is loaded from the state on start
(`table_load.TableLoading.reload`, the base of `Scheduler`) and kept current from the node's
apply listener, so an idle leader with 100,000 jobs only wakes for its once-a-second
recovery pass. Pacing uses the monotonic clock; if wall time moves against it by more than
`clock_jump`, the tick fires nothing, re-reads the state and plans again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from raftcron.durations import format_time
from raftcron.errors import RaftcronError
from raftcron.metrics import NULL_RECORDER, Recorder
from raftcron.planning.proposals import Proposal, tick_proposal
from raftcron.planning.slots import JitterFn, due_slots
from raftcron.raft.version_gate import VersionGate
from raftcron.scheduler import firing
from raftcron.scheduler.blackouts import ClusterBlackouts
from raftcron.scheduler.cluster_view import SchedulerSettings
from raftcron.scheduler.groups import ClusterGroups
from raftcron.scheduler.job_table import JobTable
from raftcron.scheduler.parsed import ParseFn, default_parse
from raftcron.scheduler.passes import Passes
from raftcron.scheduler.table_load import TableLoading
from raftcron.scheduler.triggers import Triggers
from raftcron.scheduler.window import Window

if TYPE_CHECKING:
    from raftcron.clock import Clock
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import LeaderNode

__all__ = ["Scheduler", "SchedulerSettings"]

log = logging.getLogger(__name__)


class Scheduler(TableLoading):
    def __init__(self, *, node: LeaderNode, read: ReadDb, clock: Clock, self_id: str,
                 peers: Sequence[str], settings: SchedulerSettings | Any = None,
                 parse: ParseFn = default_parse, jitter_fn: JitterFn | None = None,
                 recorder: Recorder = NULL_RECORDER) -> None:
        self.node, self.read, self.clock = node, read, clock
        self.self_id = self_id
        self.peers = list(peers)
        self.settings = SchedulerSettings.of(settings)
        self._parse, self._jitter_fn = parse, jitter_fn
        # Run ids' random bits: a generator seeded once from the OS, not `secrets` per id.
        # Each `os.urandom` gives the GIL up, and at a thousand runs a second winning it
        # back cost the event loop more than all the planning (profiled). Ids need to be
        # unlikely to collide between two leaders, not unpredictable.
        self._id_bits = random.Random(secrets.randbits(128))
        self._table = JobTable(parse=parse, jitter_fn=jitter_fn)
        self.window = Window()
        self.gate = VersionGate(node)
        self._passes = Passes(self)
        self._triggers = Triggers(self)  # dependencies, backfills, pauses, slow runs
        self.blackouts = ClusterBlackouts(self.settings.blackouts)
        node.add_apply_listener(self.blackouts.on_applied)
        self.groups = ClusterGroups(self.settings.concurrency_groups)
        node.add_apply_listener(self.groups.on_applied)
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._live = False  # acting as leader: listener events are applied
        self._loaded = False
        self._loading: list[tuple[str, Any, Any]] | None = None  # events during a reload
        self._sleep_until: datetime | None = None
        self._last_wall: datetime | None = None
        self._last_mono = 0.0
        self._last_tick: datetime | None = None
        self._lags: deque[float] = deque(maxlen=1000)
        #: Metrics: fire lag, and the missed/skipped records this leader wrote.
        self.recorder = recorder
        #: One load at a time; a load belongs to the leadership (`_term`) that started it.
        self._load_lock = asyncio.Lock()
        self._term = 0
        self._id_ms, self._id_seq = 0, 0
        self.clock_jumps = 0
        node.add_apply_listener(self.on_applied)
        if hasattr(node, "add_snapshot_listener"):
            node.add_snapshot_listener(self._on_snapshot)

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin scheduling (this peer just became leader). Returns at once; idempotent."""
        if self._task is not None and not self._task.done():
            return
        self._live, self._loaded = True, False
        self._term += 1
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="raftcron-scheduler")

    async def stop(self) -> None:
        """Stop at once (leadership lost); forget what only this leader knew."""
        self._live = False
        self._term += 1  # a load still running for the old leadership stops at its next chunk
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loaded = False
        self._passes.forget()
        for part in (self._triggers, self.blackouts, self.groups):
            part.forget()
        # A follower holds no job table: what the old leadership parsed is let go.
        self._table = JobTable(parse=self._parse, jitter_fn=self._jitter_fn)
        self.window.reset()

    def on_leadership(self, is_leader: bool) -> None:
        """A `node.add_leadership_listener` callback: start or stop on the running loop."""
        if not is_leader:
            self._live = False  # no proposal from here on, even before stop() has run
            self._term += 1  # and no load for that leadership goes on
        asyncio.get_running_loop().create_task(self.start() if is_leader else self.stop())

    def status(self) -> dict[str, Any]:
        """For /status and /metrics: jobs known, the next due time, the last tick, fire lag."""
        lags = sorted(self._lags)
        nd = self._table.next_due()
        return {
            "running": self._live,
            "jobs": len(self._table.entries),
            "scheduled": self._table.scheduled_count(),
            "next_due": format_time(nd) if nd is not None else None,
            "last_tick": format_time(self._last_tick) if self._last_tick else None,
            "fire_lag_ms": {"p50": _pct(lags, 0.50), "p99": _pct(lags, 0.99),
                            "count": len(lags)},
            "held": len(self._table.held()),
            "pending_retries": self._passes.pending_retries(),
            "clock_jumps": self.clock_jumps,
        }

    # --- one wake -----------------------------------------------------------------------------

    async def tick(self) -> list[Proposal]:
        """One wake at the clock's `now`; returns what it proposed (applied or not).

        Nothing at all while this peer is not the firing leader (`_firing`)."""
        if not self._firing():
            return []
        if not self._loaded:
            await self.reload()
            if not self._loaded:
                return []  # the load was stopped: this leadership is over
        now, mono = self.clock.now(), self.clock.monotonic()
        if self._clock_jumped(now, mono):
            await self.reload()
            return []
        out: list[Proposal] = []
        out += await self._keep_window(now)
        out += await self._passes.maybe_run(now, mono)
        out += await self._triggers.maybe_run(now, mono)
        names = self._table.pop_due(now)
        early = self._table.pop_early(now + self.settings.fire_ahead)
        if names or early:
            out += await self._fire(names + list(early), now, early)
        self._last_tick = now
        return out

    async def _fire(self, names: list[str], now: datetime,
                    early: Mapping[str, datetime]) -> list[Proposal]:
        # The planner is looked up here, on each call, so a test can watch it (`due_slots`).
        return await firing.fire(self, names, now, due_slots, early)

    def record_lags(self, lags: list[float]) -> None:
        """Fire lags (ms) of records just applied: for /status and the metrics."""
        self._lags.extend(lags)
        self.recorder.fire_lags(ms / 1000 for ms in lags)

    async def _keep_window(self, now: datetime) -> list[Proposal]:
        """Read what entered the window (`window.Window`); propose unknown next times."""
        table = self._table
        if self.window.missing:
            await self.window.read_missing(self.read, self.db, table, now)
        if self.window.due_for_refill(now):
            await self.window.fill(self.read, self.db, table, now, lambda: None)
        if not self.window.unknown or not self.gate.reads(firing.NEXT_VERSION):
            return []
        proposal = tick_proposal((), (), (), now=now,
                                 nexts=self.window.fill_proposal_nexts(table, now,
                                                                       self._jitter_fn))
        if proposal is None:
            return []
        await self.propose(proposal)
        return [proposal]

    async def propose(self, proposal: Proposal) -> dict | None:
        """Propose if still leader; the result, or None when not leader or it failed."""
        if not self._live or not self._firing():
            log.info("not leader: %s not proposed", proposal.op)
            return None
        try:
            result = await self.node.propose(proposal.op, proposal.args, key=proposal.key,
                                              timeout=self.settings.propose_timeout)
        except RaftcronError as exc:
            log.warning("%s %s not applied: %s", proposal.op, proposal.key, exc)
            return None
        # Mirror it now: the apply listener may run later, and each update is idempotent.
        self._apply_command(proposal.op, proposal.args, result)
        self.recorder.proposed(proposal.op, proposal.args, result)
        return result

    def _firing(self) -> bool:
        """The node leads and its clock agrees with the majority's (`Node.firing`)."""
        return self.node.firing

    def new_run_id(self) -> str:
        """Time-sortable: 48-bit milliseconds, a 16-bit sequence within the millisecond, and
        24 random bits (so two leaders in the same millisecond do not collide)."""
        ms = max(int(self.clock.now().timestamp() * 1000), self._id_ms)
        self._id_seq = self._id_seq + 1 if ms == self._id_ms else 0
        self._id_ms = ms
        return f"{ms:012x}{self._id_seq & 0xFFFF:04x}{self._id_bits.getrandbits(24):06x}"

    def _clock_jumped(self, now: datetime, mono: float) -> bool:
        last_wall, last_mono = self._last_wall, self._last_mono
        self._last_wall, self._last_mono = now, mono
        if last_wall is None:
            return False
        drift = now - (last_wall + timedelta(seconds=mono - last_mono))
        if abs(drift) <= self.settings.clock_jump:
            return False
        self.clock_jumps += 1
        log.warning("wall clock jumped %+.1fs against the monotonic clock: re-reading the "
                    "state before firing again", drift.total_seconds())
        return True

    # --- keeping current ----------------------------------------------------------------------

    def on_applied(self, index: int, command: Any, result: Any) -> None:
        """The node's apply listener: mirror the command into the table and passes."""
        if self._live:
            self._apply_command(command.op, command.args, result,
                                getattr(command, "children", ()))

    def _apply_command(self, op: str, args: Any, result: Any, children: Sequence = ()) -> None:
        now = self.clock.now()
        if op == "batch":  # one time and one wake-up for all its entries (a fill's 1,000 puts)
            results = result.get("results") if isinstance(result, Mapping) else None
            entries = children or [_Entry(c) for c in (args.get("commands") or ())]
            triggered = False
            for child, res in zip(entries, results or (), strict=False):
                triggered = self._mirror(child.op, child.args, res, now) or triggered
        else:
            triggered = self._mirror(op, args, result, now)
        self._wake_if_sooner(triggered)

    def _mirror(self, op: str, args: Any, result: Any, now: datetime) -> bool:
        """One applied command into the table and the passes; whether it triggered a job."""
        if self._loading is not None:
            self._loading.append((op, args, result))
        self._apply_one(op, args, result, now)
        self._passes.on_command(op, args, result, now)
        return bool(self._triggers.on_command(op, args, result))

    def _wake_if_sooner(self, triggered: bool) -> None:
        nd = self._table.next_wake(self.settings.fire_ahead)
        if self._wake is not None and (triggered or (nd is not None and (
                self._sleep_until is None or nd < self._sleep_until))):
            self._wake.set()

    def _apply_one(self, op: str, args: Any, result: Any, now: datetime) -> None:
        for name in self._table.on_command(op, args, result, now):
            if op == "fire":
                self._table.reschedule(name, now)
        self.window.after_command(self._table, op, args, result)

    async def ensure_jobs(self, names: set[str]) -> None:
        """Load these jobs (any status) into the table if it lacks them: a retry or a queue
        release needs its job even when the job is not due soon."""
        await self.window.load_names(self.read, self.db, self._table, names, self.clock.now())

    def release(self, name: str, now: datetime) -> None:
        """A queued slot may go: the job's active run ended."""
        entry = self._table.entries.get(name)
        if entry is not None and entry.held is not None:
            self._table.set_held(name, None)
            self._table.push(name, now)
            if self._wake is not None:
                self._wake.set()

    def _on_snapshot(self, index: int) -> None:
        self._loaded = False  # the copy was replaced wholesale: re-read it on the next tick

    @property
    def table(self) -> JobTable:
        return self._table

    @property
    def passes(self) -> Passes:
        return self._passes

    @property
    def jitter_fn(self) -> JitterFn | None:
        return self._jitter_fn

    # --- the loop -----------------------------------------------------------------------------

    async def _loop(self) -> None:
        # Not `while True`: 3.11's `wait_for` (in `_sleep`) loses a cancel that comes as the
        # wake is set, and `stop()` waited for ever: a stopped loop ends at its next wake.
        while self._task is asyncio.current_task():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed; trying again")
                self._loaded = False
            await self._sleep()

    async def _sleep(self) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        delay = self._passes.seconds_to_next(mono)
        nd = self._table.next_wake(self.settings.fire_ahead)
        if nd is not None:
            delay = min(delay, (nd - now).total_seconds())
        delay = min(max(delay, 0.001), self.settings.recovery_interval)
        self._sleep_until = now + timedelta(seconds=delay)
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._sleep_until = None

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A read from the SQLite copy, off the event loop (`ReadDb.call`)."""
        return await self.read.call(fn, *args, **kwargs)


class _Entry:
    """A batch entry as a dict, seen like a decoded child `Command`."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.op = data.get("op")
        self.args = data.get("args") or {}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)
