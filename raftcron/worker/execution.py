"""How the worker runs one run it took: from the record to its final report.

`Worker` (runner.py) takes a run (`_take`) and runs `_execute` as its task; this base class
holds that path, so the worker's intake and lifecycle stay in runner.py. Contract, in order:

- Prepared (`prepare.py`); a late run (`admission.py`) first catches up, is checked again in
  the copy, and starts only once its `run_started` is committed (`_confirmed`).
- Its id is fsynced to `started.log` before anything can spawn it. When its id cannot be
  written, nothing can start here safely (this peer's disk failed, most often full): the
  peer stops through `fatal` (`watchdog.exit_now`, exit 70) as a failing apply does, and the
  run stays pending here, for the leader to move (a held run) or to mark lost (the lease).
- A held run (fired ahead, `runs.held`) is confirmed like a late one shortly before its time
  (`_confirm_held`; refused: it never starts). A run fired ahead waits for its time
  (`pacing.hold_until_due`); if its job changed meanwhile it is prepared again
  (`job_edits.py`): paused -> `cancelled` (`PAUSED_BEFORE_SLOT`).
- It waits its turn at the start gate (`pacing.StartGate`); past its start deadline it is
  reported `failed` with `LATE_START`, never started.
- A stop requested before the start (`_stop`: "cancel", "lost", "stopping") means it never
  starts: a cancel is reported `cancelled`, "lost" reports nothing, "stopping" reports nothing
  unless a confirmed late start made it running already (then `run_lost`, `STOP_REASON`).
- Once handed to its executor: `run_started` when the process starts (not for a confirmed
  run), then `run_finished` judged by `success.judge`; a run stopped while running is reported
  as its stop says. Any error in this path is a `failed` run, never an exception out of it.

Every final report also goes to the metrics `Recorder`. The attributes annotated below are
the worker's, set by `Worker.__init__`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raftcron.durations import format_time
from raftcron.errors import ValidationError
from raftcron.executor.base import LATE_START, Executor, RunOutcome, RunSpec
from raftcron.worker import pacing
from raftcron.worker.job_edits import PAUSED_BEFORE_SLOT
from raftcron.worker.reports import finished_args
from raftcron.worker.success import judge

if TYPE_CHECKING:
    from raftcron.clock import Clock
    from raftcron.metrics import Recorder
    from raftcron.model.ports import WorkerNode
    from raftcron.worker.admission import Admission
    from raftcron.worker.job_edits import JobEdits
    from raftcron.worker.prepare import Preparer
    from raftcron.worker.reports import Reporter
    from raftcron.worker.started_log import StartedLog

log = logging.getLogger(__name__)

STOP_REASON = "peer stopped while the run was in flight"


class RunExecution:
    """The path of one run taken by the worker (`Worker` derives from it)."""

    node: WorkerNode
    clock: Clock
    majority_clock: Clock
    self_id: str
    recorder: Recorder
    reporter: Reporter
    log: StartedLog
    admission: Admission
    edits: JobEdits
    gate: pacing.StartGate
    #: How the peer stops when started.log cannot be written (`watchdog.exit_now`).
    fatal: Callable[[str], None]
    _preparer: Preparer
    _stopping: bool
    _logged: set[str]
    _executing: dict[str, Executor]
    _running: set[str]
    _starting: set[str]
    _stop: dict[str, str]
    _confirmed: set[str]

    async def _execute(self, run_id: str, run: dict[str, Any], taken: datetime) -> None:
        job = str(run.get("job"))
        mark = self.edits.mark(job)
        try:
            try:
                prepared = await self._preparer.prepare(run)
                if prepared is not None and self.admission.is_late(run):
                    prepared = await self._admit_late(run_id, run, prepared)
            except ValidationError as exc:
                self._report_unstarted(run_id, "failed", exc.message)
                return
            if prepared is None or self._skip_before_start(run_id):
                return  # no longer pending here (or refused late): it must not start
            executor, spec = prepared
            self._logged.add(run_id)
            try:
                await self.log.record(run_id)
            except OSError as exc:
                # Not durable, so not started: the run would be unsafe to start after a crash,
                # and so would any other. Reporting it `failed` would throw the slot away for
                # a fault of this peer's disk; stopped, the peer leaves it to the leader.
                self._logged.discard(run_id)
                self.fatal(f"cannot write {self.log.path}: {exc}; exiting with status 70 "
                           "(free some space and restart: the peer catches up from the others)")
                return
            held = bool(run.get("held")) and run_id not in self._confirmed
            waited = held and await self._confirm_held(run_id, run)
            if held and run_id not in self._confirmed:
                return  # refused (moved, lost, cancelled) or dropped: it must not start
            waited = await pacing.hold_until_due(run.get("fired_at"), self.clock,
                                                 self.majority_clock) or waited
            if waited and self.edits.changed_since(job, mark):
                # Fired ahead, and its job changed while it waited: look again (job_edits.py).
                try:
                    again = (None if self.edits.paused(job)
                             else await self._preparer.prepare(run))
                except ValidationError as exc:
                    self._report_unstarted(run_id, "failed", exc.message)
                    return
                if again is None:  # paused; or deleted with its job, no longer pending here
                    if self.edits.paused(job):
                        self._report_unstarted(run_id, "cancelled", PAUSED_BEFORE_SLOT)
                    return
                executor, spec = again
            self._starting.add(run_id)
            await self.gate.turn()  # a time-budgeted batch of starts per loop iteration
            if self._skip_before_start(run_id):
                return
            if run_id not in self._confirmed or run.get("held"):
                # (A confirmed late run is running already: it is not given up now.)
                spec = pacing.with_start_deadline(spec, taken, self.gate.deadline, self.clock.now())
                if spec.start_before is not None and spec.start_before < time.monotonic():
                    self._report_unstarted(run_id, "failed", LATE_START)
                    return
            # No await from here to the executor's registration of the run, so a cancel is
            # either seen above or reaches the executor.
            self._executing[run_id] = executor
            outcome = await executor.run(spec, on_started=lambda at: self._on_started(spec, at))
            self._finish(run_id, judge(outcome, spec))
        except Exception:
            log.exception("run %s: the worker failed", run_id)
            self._report_unstarted(run_id, "failed", "internal error in the worker")
        finally:
            self._executing.pop(run_id, None)
            self._running.discard(run_id)
            self._starting.discard(run_id)
            self._stop.pop(run_id, None)
            self._confirmed.discard(run_id)

    async def _confirm_held(self, run_id: str, run: dict[str, Any]) -> bool:
        """A held run (fired ahead, `admission.py` 4): wait until `admission.lead()` before its
        time, then have its `run_started` accepted (`_confirmed` when it was). True when it
        waited for its time."""
        waited = await pacing.hold_until_due(run.get("fired_at"), self.clock,
                                             self.majority_clock, lead=self.admission.lead())
        if self._skip_before_start(run_id):
            return waited
        due = run.get("fired_at")
        if await self.admission.confirm(run_id, gone=lambda: self._stopping or run_id in self._stop,
                                        at=due if isinstance(due, str) else None):
            self._confirmed.add(run_id)
        else:
            self._skip_before_start(run_id)  # reports a cancel that came meanwhile
        return waited

    async def _admit_late(self, run_id: str, run: dict[str, Any],
                          prepared: tuple[Executor, RunSpec]) -> tuple[Executor, RunSpec] | None:
        """A late run: catch up, check the copy again, then have `run_started` accepted by
        the state. None when the run must not start (a cancel is reported as such)."""
        if not self.node.caught_up:
            await self.admission.wait_caught_up()
            # What the backlog brought (a `run_lost`, a cancel) is in the copy now.
            again = await self._preparer.prepare(run)
            if again is None:
                log.info("run %s not started: no longer pending here after catching up", run_id)
                return None
            prepared = again
        if self._skip_before_start(run_id):
            return None
        accepted = await self.admission.confirm(
            run_id, gone=lambda: self._stopping or run_id in self._stop)
        if not accepted:
            self._skip_before_start(run_id)  # reports a cancel that came meanwhile
            return None
        self._confirmed.add(run_id)
        return prepared

    def _skip_before_start(self, run_id: str) -> bool:
        """True when the run must not start after all (a cancel is reported as such)."""
        why = self._stop.get(run_id)
        if why == "cancel":
            self._report_unstarted(run_id, "cancelled", "cancelled before it started")
        # "lost": the cluster gave up on it; "stopping": it stays pending for the cluster,
        # unless a confirmed late start made it running already.
        if why == "stopping" and run_id in self._confirmed:
            self._report_lost(run_id, STOP_REASON, format_time(self.clock.now()))
        return why is not None

    def _on_started(self, spec: RunSpec, at: datetime) -> None:
        run_id = spec.run_id
        self._running.add(run_id)
        self._starting.discard(run_id)
        self.recorder.run_started(slot=spec.slot, attempt=spec.attempt, started_at=at)
        if run_id not in self._confirmed:  # a confirmed run's run_started is committed
            self.reporter.report(
                "run_started", run_id,
                {"run_id": run_id, "peer": self.self_id, "at": format_time(at)})
        # A cancel that came while the executor was still registering the run: repeat it.
        if run_id in self._stop and run_id in self._executing:
            asyncio.get_running_loop().create_task(self._executing[run_id].cancel(run_id))

    def _finish(self, run_id: str, outcome: RunOutcome) -> None:
        why = self._stop.get(run_id)
        if why == "lost":
            return  # the cluster already gave up on it; there is nothing to report
        if why == "stopping":
            self._report_lost(run_id, STOP_REASON, format_time(self.clock.now()))
            return
        self.recorder.run_finished(status=str(outcome.status), started_at=outcome.started_at,
                                   finished_at=outcome.finished_at)
        self.reporter.report("run_finished", run_id, finished_args(run_id, outcome))

    def _report_unstarted(self, run_id: str, status: str, reason: str) -> None:
        self.recorder.run_finished(status=status, started_at=None, finished_at=None)
        self.reporter.report("run_finished", run_id, {
            "run_id": run_id, "status": status, "reason": reason,
            "at": format_time(self.clock.now())})

    def _report_lost(self, run_id: str, reason: str, at: str) -> None:
        self.recorder.run_finished(status="lost", started_at=None, finished_at=None)
        self.reporter.report("run_lost", run_id, {"run_id": run_id, "reason": reason, "at": at})
