"""The worker: every peer runs the runs the leader assigned to it and reports how they went.

Contract (docs/design/worker.md tells the whole path):

- Work arrives through `on_applied` (an accepted `pending` fire record naming this peer, or a
  `fanout_step` record it started; a `cancel_run` or `run_lost` for one of its runs) and, at
  `start()` and after a snapshot (`on_snapshot`), through a scan of this peer's copy. Nothing
  is taken before `start()`, so replaying a journal never runs anything again.
- Never started (`admission.py`): a run no longer `pending` here in the copy; a run fired more
  than `late_after` ago until this peer has caught up and its `run_started` is committed (the
  state refuses it for a run already `lost`).
- Before a process is spawned its id is fsynced to `started.log`; at `start()` every active
  run found there is reported `run_lost` and never run again, except a held run the copy
  still lists `pending` (it starts only after its `run_started` commits: it never ran), which
  is taken again. Reports go through the batching
  `Reporter`, keyed by run id, retried until settled.
- Under overload starts are paced (`pacing.py`); a run that cannot start in time is reported
  `failed` with an `overloaded: ...` reason. `capacity` is what this peer advertises to the
  leader's placement, not a local queue.
- One run's path from its record to its final report is `RunExecution` (`execution.py`), the
  base of `Worker`; this module takes runs in, stops them and keeps the bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raftcron.clock import Clock
from raftcron.durations import format_time
from raftcron.executor.base import Executor
from raftcron.metrics import NULL_RECORDER, Recorder
from raftcron.model.commands import Command
from raftcron.model.types import ACTIVE_STATUSES
from raftcron.watchdog import exit_now
from raftcron.worker import pacing
from raftcron.worker.admission import Admission
from raftcron.worker.execution import RunExecution
from raftcron.worker.job_edits import JobEdits
from raftcron.worker.prepare import Preparer
from raftcron.worker.reports import Reporter
from raftcron.worker.run_spec import run_id_of
from raftcron.worker.started_log import StartedLog

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import WorkerNode

log = logging.getLogger(__name__)

RESTART_REASON = "peer restarted while the run was in flight"
_ACTIVE = tuple(sorted(ACTIVE_STATUSES))


class Worker(RunExecution):
    """Runs the runs assigned to this peer; reports run_started/run_finished/run_lost."""

    def __init__(
        self,
        *,
        node: WorkerNode,
        read: ReadDb,
        clock: Clock,
        self_id: str,
        data_dir: Path,
        executors: Mapping[str, Executor],
        capacity: int = 4,
        coalesce_window: float = 0.005,
        stop_timeout: float = 10.0,
        late_after: float = 5.0,
        start_deadline: float = pacing.START_DEADLINE,
        max_waiting: int = pacing.MAX_WAITING,
        recorder: Recorder = NULL_RECORDER,
        majority_clock: Clock | None = None,
        fatal: Callable[[str], None] = exit_now,
    ) -> None:
        self.node = node
        self.read = read
        self.clock = clock
        #: The majority's time (`MajorityClock`): a run fired ahead waits for it too.
        self.majority_clock = majority_clock or clock
        self.self_id = self_id
        self.executors = dict(executors)
        self.capacity = capacity
        self.stop_timeout = stop_timeout
        #: Metrics: runs started here (with their fire skew) and runs reported final.
        self.recorder = recorder
        self.fatal = fatal
        self.log = StartedLog(Path(data_dir))
        self.reporter = Reporter(
            propose=node.propose,
            is_active=self._run_is_active,
            on_settled=self._on_settled,
            window=coalesce_window,
            busy=lambda: bool(self._starting),
        )
        self._started = False
        self._stopping = False
        #: Ids in started.log that still matter (possibly started, final report not settled).
        self._logged: set[str] = set()
        #: Runs taken on by this incarnation: preparing or executing.
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Runs handed to an executor, and which one.
        self._executing: dict[str, Executor] = {}
        #: Runs whose process has started (the others in `_tasks` wait to start).
        self._running: set[str] = set()
        #: Runs whose time has come, not started yet (reports wait for them: reports.py).
        self._starting: set[str] = set()
        #: run id -> why it must stop: "cancel" (report cancelled), "lost" (the cluster ended
        #: it: report nothing) or "stopping" (this peer stops: report lost).
        self._stop: dict[str, str] = {}
        self._rewrite: asyncio.Task[None] | None = None
        #: Every run taken in one loop iteration (the records of one `fire`) is prepared by
        #: one thread hop, each job read once.
        self._preparer = Preparer(read=read, executors=self.executors, self_id=self_id)
        #: Late runs: caught up and confirmed through the log before they start.
        self.admission = Admission(node=node, clock=clock, self_id=self_id,
                                   late_after=late_after)
        #: Runs whose `run_started` is committed already (confirmed late runs).
        self._confirmed: set[str] = set()
        #: Job changes, for runs fired ahead that wait for their time (`job_edits.py`).
        self.edits = JobEdits()
        #: Paces the starts under overload (`pacing.py`).
        self.gate = pacing.StartGate(deadline=start_deadline, max_waiting=max_waiting)
        #: Runs given up before their task existed (overloaded), until their report settles.
        self._refused: set[str] = set()
        #: Rescans after a snapshot, in flight (kept so they are not garbage-collected).
        self._rescans: set[asyncio.Task] = set()
        #: Reads of runs moved here (`move_run`), each then taken.
        self._moves: set[asyncio.Task] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Take over this peer's runs: orphans are reported lost, never-started ones start."""
        if self._started:
            return
        logged = self.log.load()
        mine = await self.read.call(self.read.runs_for_peer, self.self_id, _ACTIVE)
        keep = logged & {run_id_of(r) for r in mine}
        # Before any append: drops ids no longer active and any torn last line.
        await self.log.rewrite(keep)
        self._logged = set(keep)
        self.reporter.start()
        # From here on on_applied takes fires, and the scan below reads the copy after this
        # point: every fire is seen by one or both, and `_take` ignores the second sighting.
        self._started = True
        await self._scan(initial=True)

    def on_snapshot(self, applied_index: int) -> None:
        """Called by the node after a snapshot replaced this peer's copy.

        No `on_applied` calls come for what a snapshot brought, so the copy is scanned again:
        new runs for this peer start, cancels and losses reach the runs in flight.
        """
        if not self._started:
            return
        task = asyncio.get_running_loop().create_task(self._scan(initial=False))
        self._rescans.add(task)
        task.add_done_callback(lambda t: self._rescan_done(t, applied_index))

    def _rescan_done(self, task: asyncio.Task, applied_index: int) -> None:
        self._rescans.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("worker failed to rescan after snapshot at %d", applied_index,
                      exc_info=task.exception())

    async def _scan(self, *, initial: bool) -> None:
        """Reconcile the runs in flight here with this peer's active runs in the copy (read
        off the loop). A run taken while the read was in flight is not in what it returns:
        only runs in flight before the read are stopped for being absent from it."""
        in_flight = set(self._tasks)
        active = await self.read.call(self.read.runs_for_peer, self.self_id, _ACTIVE)
        now = format_time(self.clock.now())
        active_ids = set()
        for run in active:
            run_id = run_id_of(run)
            active_ids.add(run_id)
            if run_id in self._tasks:
                if run.get("cancel_requested"):
                    self._request_stop(run_id, "cancel")
            elif run_id in self._logged:
                # At start: possibly started by the previous incarnation. Later: its final
                # report is on its way.
                if initial and run.get("held") and run["status"] == "pending":
                    # Except a held run still pending: a held run is spawned only once its
                    # run_started is committed, and this copy has caught up with every entry
                    # committed before the crash, so it never started. It is taken again; a
                    # confirmation the previous incarnation left in flight has the same key,
                    # so whichever applies first decides and the other is a no-op.
                    self._logged.discard(run_id)
                    self._take(run)
                elif initial:
                    self._report_lost(run_id, RESTART_REASON, now)
            elif run["status"] == "running":
                # Reported started, yet not in started.log (lost with the data dir?).
                self._logged.add(run_id)
                self._report_lost(run_id, RESTART_REASON, now)
            elif run.get("cancel_requested"):
                self._report_unstarted(run_id, "cancelled", "cancelled before it started")
            else:
                self._take(run)
        for run_id in list(self._tasks):
            if run_id in in_flight and run_id not in active_ids:
                self._request_stop(run_id, "lost")  # ended by the cluster meanwhile

    def _request_stop(self, run_id: str, why: str) -> None:
        self._stop.setdefault(run_id, why)
        executor = self._executing.get(run_id)
        if executor is not None:
            asyncio.get_running_loop().create_task(executor.cancel(run_id))

    async def stop(self) -> None:
        """Stop every run in flight (reported lost: it may be retried elsewhere), then close."""
        self._stopping = True
        self._started = False
        self.admission.close()
        for run_id in list(self._tasks):
            self._stop.setdefault(run_id, "stopping")
            executor = self._executing.get(run_id)
            if executor is not None:
                await executor.cancel(run_id)
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=self.stop_timeout)
        await self.reporter.close(timeout=min(2.0, self.stop_timeout))
        if self._rewrite is not None:
            with contextlib.suppress(Exception):
                await self._rewrite

    def status(self) -> dict[str, Any]:
        return {"running": len(self._tasks), "capacity": self.capacity}

    async def cancel(self, run_id: str) -> bool:
        """Stop `run_id` if this peer is running it (it is then reported cancelled)."""
        if run_id not in self._tasks:
            return False
        self._stop.setdefault(run_id, "cancel")
        executor = self._executing.get(run_id)
        if executor is not None:
            await executor.cancel(run_id)
        return True

    # --- what the log tells -------------------------------------------------------------------

    def on_applied(self, index: int, command: Command, result: dict) -> None:
        """Called by the node on the event loop after each applied command. Never raises."""
        if not self._started:
            return
        try:
            self._dispatch(command, result)
        except Exception:  # a bug here must not break the node's listener loop
            log.exception("worker failed to handle applied command %d (%s)", index, command.op)

    def _dispatch(self, command: Command, result: Any) -> None:
        if not isinstance(result, dict):
            return
        if command.op == "batch":
            results = result.get("results") or []
            for child, child_result in zip(command.children, results, strict=False):
                self._dispatch(child, child_result)
            return
        if command.op == "fire":
            accepted = set(result.get("accepted") or ())
            held = set(command.args.get("held") or ())
            for record in command.args.get("runs") or ():
                if (record.get("peer") == self.self_id and record.get("run_id") in accepted
                        and record.get("status", "pending") == "pending"):
                    self._take({**record, "held": record.get("run_id") in held})
        elif command.op == "move_run" and result.get("ok"):  # v5, `planning.moves`
            run_id = str(command.args.get("run_id"))
            if command.args.get("from_peer") == self.self_id and run_id in self._tasks:
                self._request_stop(run_id, "lost")  # its confirmation will be refused anyway
            if command.args.get("peer") == self.self_id:
                task = asyncio.get_running_loop().create_task(self._take_moved(run_id))
                self._moves.add(task)
                task.add_done_callback(self._moves.discard)
        elif command.op == "fanout_step":  # a rolling fan-out's next targets (v4)
            started = set(result.get("started") or ())
            for record in command.args.get("runs") or ():
                if record.get("peer") == self.self_id and record.get("run_id") in started:
                    self._take(record)
        elif command.op in ("put_job", "set_paused", "delete_job"):
            self.edits.on_command(command.op, command.args, result)
        elif command.op in ("cancel_run", "run_lost") and result.get("ok"):
            run_id = command.args.get("run_id")
            if run_id in self._tasks:
                self._request_stop(run_id, "cancel" if command.op == "cancel_run" else "lost")

    # --- taking a run (its path from here on: execution.py) -----------------------------------

    def _take(self, run: Mapping[str, Any]) -> None:
        run_id = run_id_of(run)
        if (self._stopping or run_id in self._tasks or run_id in self._logged
                or run_id in self._refused):
            return  # already ours, or possibly started before: never twice
        waiting = len(self._tasks) - len(self._running)
        if waiting >= self.gate.max_waiting:
            self._refused.add(run_id)  # bounded memory: no task for it
            self._report_unstarted(run_id, "failed", pacing.full_reason(waiting))
            return
        task = asyncio.get_running_loop().create_task(
            self._execute(run_id, dict(run), self.clock.now()))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t, rid=run_id: self._tasks.pop(rid, None))

    async def _take_moved(self, run_id: str) -> None:
        """A held run moved here from a silent peer: its record from the copy, then taken."""
        try:
            run = await self.read.call(self.read.get_run, run_id)
        except Exception:
            log.exception("run %s: cannot read the run moved here", run_id)
            return
        if run is not None and run.get("status") == "pending" and run.get("peer") == self.self_id:
            self._take({**run, "held": True})

    # --- bookkeeping --------------------------------------------------------------------------

    async def _run_is_active(self, run_id: str) -> bool:
        run = await self.read.call(self.read.get_run, run_id)
        return run is not None and run.get("status") in _ACTIVE

    def _on_settled(self, op: str, run_id: str) -> None:
        if op == "run_started":
            return
        # The run is final in the state: its started.log line no longer matters.
        self._logged.discard(run_id)
        self._refused.discard(run_id)
        self._rewrite = self.log.compact_soon(len(self._logged), lambda: set(self._logged),
                                              self._rewrite)
